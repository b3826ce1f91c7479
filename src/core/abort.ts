/**
 * Small helpers for AbortSignal-based cancellation, used across tributary.
 */
import { setMaxListeners } from 'node:events'
import { AsyncCancelledError } from './errors'
import { setLongTimeout } from './timers'

/**
 * The one signal that never aborts, given to work run without a signal (creating a signal
 * costs microseconds on Node 20). Many concurrent attempts may listen on it, so it has no
 * listener limit. @internal
 */
export const neverAborted: AbortSignal = new AbortController().signal
setMaxListeners(0, neverAborted)

/**
 * An `AbortController` made only when its signal is first read: work that never looks at its
 * signal and is never cancelled costs no controller (creating one is the largest single cost
 * of a query store fetch that reads a value from Redis). Aborting before the signal exists
 * records the reason; the signal made later is already aborted with it. Not exported from the
 * package; not marked internal either, so its declaration stays for `runWithRetry`'s options.
 */
export class LazyAbortController {
  #controller: AbortController | undefined
  #aborted = false
  #reason: unknown

  /** True once {@link abort} was called. */
  get aborted(): boolean {
    return this.#aborted
  }

  /** The signal (made on first read). */
  get signal(): AbortSignal {
    let controller = this.#controller
    if (controller === undefined) {
      controller = this.#controller = new AbortController()
      if (this.#aborted) controller.abort(this.#reason)
    }
    return controller.signal
  }

  /** Reads {@link signal}: a function to hand on where a signal is wanted later, or never. */
  readonly read = (): AbortSignal => this.signal

  /** Aborts the signal (now if it exists, at its making otherwise); later calls do nothing. */
  abort(reason?: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

/** A signal combined from several, with a `dispose()` that detaches its listeners. */
export interface LinkedSignal {
  /** Aborts when any input signal aborts, or when `abort()` is called. */
  readonly signal: AbortSignal
  /** Aborts the combined signal. */
  abort(reason?: unknown): void
  /** Removes the listeners added to the input signals. Safe to call more than once. */
  dispose(): void
}

/**
 * Combines signals: the result aborts when any of them does (with that signal's reason).
 * Unlike `AbortSignal.any`, its listeners are removed by `dispose()`, so long-lived parent
 * signals do not accumulate listeners.
 */
export function linkSignals(...signals: Array<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController()
  // A linked signal is the parent of one child per concurrent piece of work (a component, a
  // shard, an attempt); each child removes its listener when done, so more than Node's default
  // of 10 at once is not a leak, and must not print MaxListenersExceededWarning.
  setMaxListeners(0, controller.signal)
  const cleanups: Array<() => void> = []
  const dispose = (): void => {
    for (const cleanup of cleanups.splice(0)) cleanup()
  }
  for (const signal of signals) {
    if (!signal) continue
    if (signal.aborted) {
      controller.abort(signal.reason)
      break
    }
    const onAbort = (): void => {
      controller.abort(signal.reason)
      dispose()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    cleanups.push(() => signal.removeEventListener('abort', onAbort))
  }
  return {
    signal: controller.signal,
    abort: (reason?: unknown) => {
      controller.abort(reason)
      dispose()
    },
    dispose,
  }
}

/** The error to throw for an aborted signal: its reason, or an {@link AsyncCancelledError}. */
export function abortError(signal: AbortSignal, operation = 'operation'): unknown {
  return signal.reason ?? new AsyncCancelledError(operation)
}

/** Throws the signal's reason when it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, operation?: string): void {
  if (signal?.aborted) throw abortError(signal, operation)
}

/**
 * Resolves after `ms` milliseconds — any duration: past 2^31-1 ms the timer is chained (see
 * `setLongTimeout`) where Node would fire it after 1 ms — or rejects with the signal's reason
 * as soon as it aborts. The timer is cleared on abort, so a cancelled wait leaves no open
 * handle.
 *
 * @example
 * ```ts
 * import { delay } from 'tributary'
 * await delay(40 * 86_400_000, AbortSignal.timeout(1_000)) // rejects after 1 s
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal))
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear()
      reject(abortError(signal as AbortSignal))
    }
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as the signal aborts
 * (the promise's own outcome is then observed and ignored, never left unhandled). `onAbort`
 * runs when the signal ends the wait (a shared fetch counting its waiters, say).
 */
export function raceAbort<T>(
  promise: PromiseLike<T>,
  signal: AbortSignal | undefined,
  onAbort?: () => void,
): Promise<T> {
  const settled = Promise.resolve(promise)
  if (!signal) return settled
  if (signal.aborted) {
    settled.catch(() => undefined)
    onAbort?.()
    return Promise.reject(abortError(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      settled.catch(() => undefined)
      reject(abortError(signal))
      onAbort?.()
    }
    signal.addEventListener('abort', stop, { once: true })
    settled.then(
      (value) => {
        signal.removeEventListener('abort', stop)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', stop)
        reject(error)
      },
    )
  })
}
