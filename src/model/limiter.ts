/**
 * A first-in, first-out concurrency limit for the helpers of one database: at most
 * `concurrency` run at once, the rest wait in order without taking a pool connection. Leaner
 * than p-limit (a helper with a free slot starts synchronously, with no extra promise or
 * microtask), since every helper passes through it. @internal
 */
import { Deque } from '../core/deque'

/** Runs `fn` within the limit; resolves or rejects as `fn`'s promise does. @internal */
export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>

/** A limiter of `concurrency` (a positive integer; a `RangeError` otherwise). @internal */
export function createLimiter(concurrency: number): Limiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
  }
  let active = 0
  const queue = new Deque<() => void>()
  const release = (): void => {
    active--
    queue.shift()?.()
  }
  const start = <T>(fn: () => Promise<T>): Promise<T> => {
    active++
    let promise: Promise<T>
    try {
      promise = fn()
    } catch (error) {
      promise = Promise.reject(error)
    }
    promise.then(release, release)
    return promise
  }
  return <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < concurrency) return start(fn)
    return new Promise<T>((resolve, reject) => {
      queue.push(() => start(fn).then(resolve, reject))
    })
  }
}
