/**
 * Debounce, throttle (a token bucket with a burst allowance), and the two composed: the
 * timer-based schedules live components deliver their updates through. Every schedule is
 * cancellable and `stop()` leaves no timer behind.
 */

/** Something that receives values and delivers some of them later (or at once). */
export interface Scheduler<T> {
  /** Offers a value; the newest value wins when several wait. */
  push(value: T): void
  /** Delivers the waiting value now, if any (ignores the throttle). */
  flush(): void
  /** Drops the waiting value and clears every timer; later pushes are ignored. */
  stop(): void
  /** True while a value waits to be delivered. */
  readonly pending: boolean
}

/** Options of {@link createSchedule}. */
export interface ScheduleOptions {
  /** Deliver only after this many ms without a new value (trailing edge). Defaults to 0 (off). */
  readonly debounce?: number
  /** With `debounce`: deliver at the latest this many ms after the first waiting value. Defaults to none. */
  readonly maxWait?: number
  /** At most `burst` deliveries at once, then one per `throttle` ms. Defaults to 0 (off). */
  readonly throttle?: number
  /** Deliveries allowed back to back before `throttle` applies (the bucket size). Defaults to 1. */
  readonly burst?: number
}

/**
 * A trailing-edge debounce: `deliver` runs `ms` after the last `push`, with the last value.
 *
 * @example
 * ```ts
 * import { createDebouncer } from 'tributary'
 * const d = createDebouncer(100, (v: number) => console.log(v))
 * d.push(1); d.push(2) // 100 ms later: 2
 * d.stop()
 * ```
 */
export function createDebouncer<T>(
  ms: number,
  deliver: (value: T) => void,
  options: { readonly maxWait?: number } = {},
): Scheduler<T> {
  checkMs('debounce', ms)
  if (options.maxWait !== undefined) checkMs('maxWait', options.maxWait)
  let timer: ReturnType<typeof setTimeout> | undefined
  let waitingSince: number | undefined
  let value: { v: T } | undefined
  let stopped = false
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    waitingSince = undefined
    const held = value
    value = undefined
    if (held) deliver(held.v)
  }
  return {
    push(v) {
      if (stopped) return
      value = { v }
      const now = Date.now()
      waitingSince ??= now
      let wait = ms
      if (options.maxWait !== undefined)
        wait = Math.min(wait, Math.max(0, waitingSince + options.maxWait - now))
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(fire, wait)
    },
    flush: fire,
    stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      value = undefined
    },
    get pending() {
      return value !== undefined
    },
  }
}

/**
 * A throttle as a token bucket: `burst` values pass at once, then one per `interval` ms; a
 * value pushed while the bucket is empty waits (the newest replaces an older waiting one) and
 * is delivered as soon as a token is back. So over any time `t`, at most
 * `burst + t / interval` values are delivered, and the last value is never lost.
 *
 * @example
 * ```ts
 * import { createThrottler } from 'tributary'
 * const t = createThrottler(1_000, (v: string) => console.log(v), { burst: 2 })
 * t.push('a'); t.push('b'); t.push('c'); t.push('d') // a, b at once; d one second later
 * t.stop()
 * ```
 */
export function createThrottler<T>(
  interval: number,
  deliver: (value: T) => void,
  options: { readonly burst?: number } = {},
): Scheduler<T> {
  checkMs('throttle', interval)
  const burst = options.burst ?? 1
  if (!Number.isInteger(burst) || burst < 1)
    throw new RangeError(`burst must be a whole number >= 1, got ${burst}`)
  let tokens = burst
  let refilledAt = Date.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  let value: { v: T } | undefined
  let stopped = false
  const refill = (): void => {
    const now = Date.now()
    if (interval > 0) tokens = Math.min(burst, tokens + (now - refilledAt) / interval)
    else tokens = burst
    refilledAt = now
  }
  const release = (): void => {
    timer = undefined
    refill()
    if (!value) return
    if (tokens >= 1) {
      tokens -= 1
      const held = value
      value = undefined
      deliver(held.v)
    } else schedule()
  }
  const schedule = (): void => {
    if (timer !== undefined) return
    timer = setTimeout(release, Math.max(1, Math.ceil((1 - tokens) * interval)))
  }
  return {
    push(v) {
      if (stopped) return
      refill()
      if (!value && tokens >= 1) {
        tokens -= 1
        deliver(v)
        return
      }
      value = { v }
      schedule()
    },
    flush() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      const held = value
      value = undefined
      if (held) deliver(held.v)
    },
    stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      value = undefined
    },
    get pending() {
      return value !== undefined
    },
  }
}

/**
 * Debounce then throttle, as configured; with neither, values are delivered at once.
 *
 * @example
 * ```ts
 * import { createSchedule } from 'tributary'
 * const s = createSchedule({ debounce: 50, throttle: 1_000, burst: 3 }, (v: number) => apply(v))
 * s.push(42)
 * s.stop()
 * ```
 */
export function createSchedule<T>(options: ScheduleOptions, deliver: (value: T) => void): Scheduler<T> {
  const throttled =
    options.throttle !== undefined && options.throttle > 0
      ? createThrottler(options.throttle, deliver, { burst: options.burst ?? 1 })
      : undefined
  const next = throttled ? (v: T) => throttled.push(v) : deliver
  const debounced =
    options.debounce !== undefined && options.debounce > 0
      ? createDebouncer(
          options.debounce,
          next,
          options.maxWait === undefined ? {} : { maxWait: options.maxWait },
        )
      : undefined
  if (!debounced && !throttled) {
    let stopped = false
    return {
      push: (v) => {
        if (!stopped) deliver(v)
      },
      flush: () => undefined,
      stop: () => {
        stopped = true
      },
      pending: false,
    }
  }
  return {
    push(v) {
      if (debounced) debounced.push(v)
      else next(v)
    },
    flush() {
      debounced?.flush()
      throttled?.flush()
    },
    stop() {
      debounced?.stop()
      throttled?.stop()
    },
    get pending() {
      return (debounced?.pending ?? false) || (throttled?.pending ?? false)
    },
  }
}

function checkMs(name: string, ms: number): void {
  if (!(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
    throw new RangeError(`${name} must be a number of milliseconds >= 0, got ${String(ms)}`)
  }
}
