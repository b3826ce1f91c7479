/**
 * `performance.now()`, read once per burst of microtasks, for the durations `explain` reports.
 * @internal
 */
import { performance } from 'node:perf_hooks'

let now = -1
const endBurst = (): void => {
  now = -1
}

/**
 * The time in ms, read once per burst of microtasks: components whose fetches settle in the
 * same burst (in-memory and cached sources) share one reading, which is accurate to the time
 * the burst's own callbacks take, and a resolve of many such components reads the clock once
 * instead of once each. A fetch settling on a later I/O turn reads the clock anew. @internal
 */
export function burstNow(): number {
  if (now < 0) {
    now = performance.now()
    queueMicrotask(endBurst)
  }
  return now
}
