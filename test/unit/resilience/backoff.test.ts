// The one exponential backoff (issue 18: one retry, one backoff): the store's default
// retryDelay and the watchers' reconnect waits are the same curve with their own start.
import { exponentialDelay } from '../../../src/resilience/backoff'
import { defaultRetryDelay } from '../../../src/store/retry'
import { backoffDelay } from '../../../src/sources/watch'

describe('exponentialDelay', () => {
  it('doubles from the initial delay up to the cap, and never overflows', () => {
    expect([0, 1, 2, 3].map((n) => exponentialDelay(n, 100, 1_000))).toEqual([100, 200, 400, 800])
    expect(exponentialDelay(4, 100, 1_000)).toBe(1_000)
    expect(exponentialDelay(10_000, 100, 1_000)).toBe(1_000)
    expect(exponentialDelay(-3, 100, 1_000)).toBe(100)
    expect(exponentialDelay(2, 100, 10_000, 3)).toBe(900)
  })

  it("is the store's default retryDelay (1 s start) and the watchers' backoff (200 ms start)", () => {
    for (let n = 0; n < 40; n++) {
      expect(defaultRetryDelay(n)).toBe(exponentialDelay(n, 1_000, 30_000))
      expect(backoffDelay(n + 1)).toBe(exponentialDelay(n, 200, 30_000))
    }
    expect([defaultRetryDelay(0), defaultRetryDelay(5)]).toEqual([1_000, 30_000])
    expect([backoffDelay(1), backoffDelay(2), backoffDelay(30)]).toEqual([200, 400, 30_000])
  })
})
