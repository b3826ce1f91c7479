/**
 * The one exponential backoff without jitter: `initial × exponent^n`, capped at `max`. The
 * query store's default `retryDelay` (1 s, 2 s, … 30 s) and the watchers' reconnect waits
 * (200 ms, 400 ms, … 30 s) are this curve; `retryPolicy` adds cockatiel's jitter to it.
 */

/**
 * The wait before retry `n` (0 for the first): `min(max, initial × exponent^n)`, never
 * overflowing (a large `n` is the cap). @internal
 */
export function exponentialDelay(n: number, initial: number, max: number, exponent = 2): number {
  return Math.min(max, initial * exponent ** Math.max(0, Math.min(n, 60)))
}
