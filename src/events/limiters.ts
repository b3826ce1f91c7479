/**
 * The two per-handler admission controls: a concurrency limiter (at most N running calls,
 * the rest wait in FIFO order) and a sliding-window rate limiter.
 */
import { abortError } from '../core/abort'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

function enqueue(queue: Waiter[], signal: AbortSignal | undefined, onEmpty?: () => void): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal))
  return new Promise<void>((resolve, reject) => {
    const waiter: Waiter = { resolve, reject, signal, onAbort: undefined }
    if (signal) {
      waiter.onAbort = () => {
        const index = queue.indexOf(waiter)
        if (index >= 0) queue.splice(index, 1)
        if (queue.length === 0) onEmpty?.()
        reject(abortError(signal))
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
    }
    queue.push(waiter)
  })
}

function admit(waiter: Waiter): void {
  if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort)
  waiter.resolve()
}

/** At most `limit` holders at once; `acquire` returns `undefined` when a slot is free now. */
export class ConcurrencyLimiter {
  private active = 0
  private readonly queue: Waiter[] = []
  /** `release`, bound once so it can be passed to `then`. */
  readonly release = (): void => {
    const next = this.queue.shift()
    if (next) admit(next)
    else this.active--
  }

  constructor(private readonly limit: number) {}

  /** Takes a slot: `undefined` if one was free, else a promise that resolves when one is. */
  acquire(signal?: AbortSignal): Promise<void> | undefined {
    if (this.active < this.limit) {
      this.active++
      return undefined
    }
    return enqueue(this.queue, signal)
  }
}

/**
 * A sliding-window limiter: at most `max` admissions in any `windowMs`. Times come from
 * `Date.now()` (so fake timers drive it).
 */
export class RateLimiter {
  /** Admission times, oldest first; never more than `max`. */
  private readonly starts: number[] = []
  private readonly queue: Waiter[] = []
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Admits now (recording it and returning true) or returns false when the limit is reached. */
  tryAdmit(): boolean {
    const now = Date.now()
    if (this.queue.length > 0 || !this.hasRoom(now)) return false
    this.starts.push(now)
    return true
  }

  /** Waits, in FIFO order, until the window has room, then admits. */
  wait(signal?: AbortSignal): Promise<void> {
    const promise = enqueue(this.queue, signal, () => this.stopTimer())
    this.schedule()
    return promise
  }

  private hasRoom(now: number): boolean {
    while (this.starts.length > 0 && (this.starts[0] as number) <= now - this.windowMs) this.starts.shift()
    return this.starts.length < this.max
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return
    const oldest = this.starts[0] ?? Date.now()
    const wait = Math.max(0, oldest + this.windowMs - Date.now())
    this.timer = setTimeout(this.drain, wait)
  }

  private readonly drain = (): void => {
    this.timer = undefined
    const now = Date.now()
    while (this.queue.length > 0 && this.hasRoom(now)) {
      this.starts.push(now)
      admit(this.queue.shift() as Waiter)
    }
    this.schedule()
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
