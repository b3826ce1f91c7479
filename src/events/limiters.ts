/**
 * The per-handler admission controls: a concurrency limiter (at most N running calls, the
 * rest wait in FIFO order) and a sliding-window rate limiter.
 *
 * Waiting costs O(1): waiters sit in a ring-buffer queue and register nothing on any signal.
 * The invoker that owns a limiter calls {@link ConcurrencyLimiter.rejectAll} once when the
 * bus gives up on its handlers, instead of every waiter listening on the bus's signal (which
 * made each removal scan every other listener).
 */
import { Deque } from '../core/deque'
import { setLongTimeout, type LongTimer } from '../core/timers'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
}

function waitIn(queue: Deque<Waiter>): Promise<void> {
  return new Promise<void>((resolve, reject) => queue.push({ resolve, reject }))
}

/** At most `limit` holders at once; `acquire` returns `undefined` when a slot is free now. */
export class ConcurrencyLimiter {
  private active = 0
  private readonly queue = new Deque<Waiter>()
  /** `release`, bound once so it can be passed to `then`. */
  readonly release = (): void => {
    const next = this.queue.shift()
    if (next) next.resolve()
    else this.active--
  }

  constructor(private readonly limit: number) {}

  /** Takes a slot: `undefined` if one was free, else a promise that resolves when one is. */
  acquire(): Promise<void> | undefined {
    if (this.active < this.limit) {
      this.active++
      return undefined
    }
    return waitIn(this.queue)
  }

  /** Fails every waiting acquisition with `reason` (slots already held are kept). */
  rejectAll(reason: unknown): void {
    for (const waiter of this.queue.drain()) waiter.reject(reason)
  }
}

/**
 * A sliding-window limiter: at most `max` admissions in any `windowMs`. Times come from
 * `Date.now()` (so fake timers drive it).
 */
export class RateLimiter {
  /** Admission times, oldest first; never more than `max`. */
  private readonly starts = new Deque<number>()
  private readonly queue = new Deque<Waiter>()
  private timer: LongTimer | undefined

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
  wait(): Promise<void> {
    const promise = waitIn(this.queue)
    this.schedule()
    return promise
  }

  /** Fails every waiting admission with `reason` and stops the timer. */
  rejectAll(reason: unknown): void {
    this.timer?.clear()
    this.timer = undefined
    for (const waiter of this.queue.drain()) waiter.reject(reason)
  }

  private hasRoom(now: number): boolean {
    while (this.starts.length > 0 && (this.starts.peek() as number) <= now - this.windowMs)
      this.starts.shift()
    return this.starts.length < this.max
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return
    const oldest = this.starts.peek() ?? Date.now()
    const wait = Math.max(0, oldest + this.windowMs - Date.now())
    this.timer = setLongTimeout(this.drain, wait)
  }

  private readonly drain = (): void => {
    this.timer = undefined
    const now = Date.now()
    while (this.queue.length > 0 && this.hasRoom(now)) {
      this.starts.push(now)
      ;(this.queue.shift() as Waiter).resolve()
    }
    this.schedule()
  }
}
