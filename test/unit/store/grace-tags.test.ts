/**
 * Grace periods and tags on one store, with no L2 (fake timers: only the clock matters), and
 * the checks of the distributed options.
 */
import { QueryStore, isQueryStoreError, isStaleValueServedError } from '../../../src'

describe('grace and tags without an L2', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => jest.useRealTimers())

  it('a failed fetch serves the stale value within staleTime + grace and reports it', async () => {
    const reports: unknown[] = []
    const store = new QueryStore({ onError: (error) => reports.push(error) })
    const failing = async (): Promise<number> => {
      throw new Error('down')
    }
    await store.fetch(['x'], async () => 7, { staleTime: 1_000, grace: 5_000 })
    jest.setSystemTime(1_000_000 + 5_999)
    await expect(store.fetch(['x'], failing, { staleTime: 1_000, grace: 5_000 })).resolves.toBe(7)
    expect(reports).toHaveLength(1)
    expect(isStaleValueServedError(reports[0])).toBe(true)
    expect(reports[0]).toMatchObject({ tier: 'l1', ageMs: 5_999, key: '["x"]' })
    jest.setSystemTime(1_000_000 + 6_000) // past the grace
    await expect(store.fetch(['x'], failing, { staleTime: 1_000, grace: 5_000 })).rejects.toThrow('down')
    expect(reports).toHaveLength(1)
    store.close()
  })

  it('without grace a failure rejects even with stale data', async () => {
    const store = new QueryStore({ onError: () => undefined })
    await store.fetch(['x'], async () => 7)
    await expect(
      store.fetch(['x'], async () => {
        throw new Error('down')
      }),
    ).rejects.toThrow('down')
    store.close()
  })

  it('invalidateTags marks only the tagged entries stale', async () => {
    const store = new QueryStore({ staleTime: 60_000 })
    await store.fetch(['a'], async () => 1, { tags: ['t1'] })
    await store.fetch(['b'], async () => 2, { tags: ['t2', 't1'] })
    await store.fetch(['c'], async () => 3, { tags: ['t3'] })
    await store.invalidateTags(['t1'])
    expect(store.findAll({ stale: true }).map((query) => query.key)).toEqual([['a'], ['b']])
    store.close()
  })

  it('rejects bad tags and bad distributed options with a QueryStoreError naming the option', async () => {
    const store = new QueryStore()
    expect(() => store.query(['a'], async () => 1, { tags: 'user:1' as unknown as string[] })).toThrow(
      /option tags must be an array of strings/,
    )
    await expect(store.invalidateTags('user:1' as unknown as string[])).rejects.toThrow(
      /tags must be an array/,
    )
    expect(() => new QueryStore({ grace: -1 })).toThrow(/option grace must be/)
    const bus = { publish: async () => undefined, subscribe: () => () => undefined }
    let caught: unknown
    try {
      new QueryStore({ bus, lockLease: 0 })
    } catch (error) {
      caught = error
    }
    expect(isQueryStoreError(caught)).toBe(true)
    expect((caught as Error).message).toMatch(/lockLease.*must be a number of milliseconds > 0.*got 0/)
    store.close()
  })
})
