// `ttl` is seconds everywhere (issue 18, point 4): idempotent() keeps a done key for `ttl`
// seconds and holds a claim for `lease` milliseconds, as its TSDoc says.
import { idempotent, type SeenSet } from 'tributary'

function recordingSeenSet(): SeenSet & { completed: number[]; leases: number[] } {
  const completed: number[] = []
  const leases: number[] = []
  return {
    completed,
    leases,
    claim: async (_key, _token, leaseMs) => {
      leases.push(leaseMs)
      return 'claimed'
    },
    complete: async (_key, _token, ttlMs) => void completed.push(ttlMs),
    release: async () => undefined,
  }
}

describe('idempotent ttl', () => {
  it('keeps a done key for ttl seconds (default 24 hours); the lease stays in ms', async () => {
    const seen = recordingSeenSet()
    const handler = idempotent(async () => undefined, {
      seen,
      ttl: 5,
      lease: 2_000,
      idempotencyKey: () => 'k',
    })
    await handler({}, {} as never)
    expect(seen.completed).toEqual([5_000])
    expect(seen.leases).toEqual([2_000])
    const byDefault = recordingSeenSet()
    await idempotent(async () => undefined, { seen: byDefault, idempotencyKey: () => 'k' })({}, {} as never)
    expect(byDefault.completed).toEqual([86_400_000])
  })

  it('refuses a ttl that is not a positive, finite number of seconds, naming the unit', () => {
    const seen = recordingSeenSet()
    expect(() => idempotent(async () => undefined, { seen, ttl: 0 })).toThrow(
      /option `ttl` must be a number of seconds > 0, got 0/,
    )
  })
})
