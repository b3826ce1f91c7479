/**
 * One test per defect of issue 13 (each failed before its fix).
 */
import { QueryStore, type QueryState } from '../../../src'
import { deferred, settle } from './helpers'

const DAY = 86_400_000

describe('QueryStore defects (issue 13)', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  describe('1. the size bound never evicts the entry it just made', () => {
    it('keeps a new entry when every older one is busy, and exceeds the bound until one is idle', async () => {
      store = new QueryStore({ maxEntries: 2, staleTime: Infinity })
      const stops = [store.query(['a'], async () => 'a'), store.query(['b'], async () => 'b')].map((q) =>
        q.subscribe(() => undefined),
      )
      await settle()
      store.setData(['c'], 'c')
      expect(store.getData(['c'])).toBe('c') // was undefined: the new entry was the one dropped
      expect(store.size).toBe(3)
      stops[0]?.()
      expect(store.size).toBe(2) // 'a' became idle: it goes, 'c' (most recently used) stays
      expect(store.getData(['a'])).toBeUndefined()
      expect(store.getData(['c'])).toBe('c')
      stops[1]?.()
    })

    it('makes one request for 5 concurrent fetches of one new key when the bound is reached', async () => {
      store = new QueryStore({ maxEntries: 1, staleTime: Infinity })
      const stop = store.query(['busy'], async () => 0).subscribe(() => undefined)
      await settle()
      const answer = deferred<number>()
      const fetcher = jest.fn(() => answer.promise)
      const all = Array.from({ length: 5 }, () => store.fetch(['new'], fetcher))
      answer.resolve(7)
      expect(await Promise.all(all)).toEqual([7, 7, 7, 7, 7])
      expect(fetcher).toHaveBeenCalledTimes(1)
      stop()
    })

    it('keeps the newest data when the older entries were busy', async () => {
      store = new QueryStore({ maxEntries: 2, staleTime: Infinity })
      const stop = store.query(['watched'], async () => 'w').subscribe(() => undefined)
      const slow = deferred<string>()
      const older = store.fetch(['slow'], () => slow.promise)
      await settle()
      await store.fetch(['newest'], async () => 'newest')
      slow.resolve('slow') // 'slow' becomes idle and, as least recently used, goes
      await older
      expect(store.getData(['newest'])).toBe('newest')
      expect(store.getData(['slow'])).toBeUndefined()
      expect(store.size).toBe(2)
      stop()
    })
  })

  describe('2. a handle re-attaches to the store entry for its key', () => {
    it('after cacheTime: invalidate reaches its subscribers and a fresh query shares its fetch', async () => {
      store = new QueryStore({ cacheTime: 1_000 })
      let n = 0
      const fetcher = jest.fn(async () => ++n)
      const kept = store.query(['k'], fetcher)
      await kept.fetch()
      jest.advanceTimersByTime(1_000)
      expect(store.size).toBe(0) // collected
      const seen: number[] = []
      const stop = kept.subscribe((s) => s.data !== undefined && seen.push(s.data))
      await settle()
      expect(store.getQuery(['k'])).toBeDefined() // the handle's subscription lives in the store
      await store.invalidate(['k'])
      await settle()
      expect(seen.at(-1)).toBe(3) // fetched on subscribe (2), refetched by the invalidation (3)
      await store.query(['k'], fetcher).fetch() // fresh enough? staleTime 0: a new fetch, shared entry
      expect(kept.state.data).toBe(store.getData(['k']))
      stop()
    })

    it('after eviction: a mutation updates what the kept handle shows', async () => {
      store = new QueryStore({ maxEntries: 1, staleTime: Infinity })
      const kept = store.query(['todo'], async () => ['a'])
      await kept.fetch()
      await store.fetch(['other'], async () => 1) // evicts ['todo']
      expect(store.getData(['todo'])).toBeUndefined()
      const listener = jest.fn<void, [QueryState<string[]>]>()
      const stop = kept.subscribe(listener)
      await settle()
      const add = store.mutation(async (item: string) => item, {
        optimistic: { key: ['todo'], update: (old: string[] | undefined, item) => [...(old ?? []), item] },
      })
      const done = add.mutate('b')
      await settle()
      expect(kept.state.data).toEqual(['a', 'b'])
      expect(listener).toHaveBeenLastCalledWith(expect.objectContaining({ data: ['a', 'b'] }))
      await done.wait()
      stop()
    })
    it('after removal: a subscribed handle follows the next entry for its key', async () => {
      store = new QueryStore({ staleTime: Infinity })
      const query = store.query(['k'], async () => 'fetched')
      const seen: unknown[] = []
      const stop = query.subscribe((s) => seen.push(s.data))
      await settle()
      store.removeQueries({ queryKey: ['k'] })
      store.setData(['k'], 'set after removal')
      await settle()
      expect(seen.at(-1)).toBe('set after removal')
      expect(store.getQuery(['k'])?.observerCount).toBe(1)
      stop()
      expect(store.getQuery(['k'])?.observerCount).toBe(0)
    })
  })

  describe('3. durations past 2^31-1 ms are kept', () => {
    it('cacheTime of 30 days keeps the entry for 30 days', async () => {
      store = new QueryStore({ cacheTime: 30 * DAY })
      await store.fetch(['k'], async () => 1)
      jest.advanceTimersByTime(29 * DAY)
      expect(store.getData(['k'])).toBe(1) // was gone after 1 ms
      jest.advanceTimersByTime(DAY)
      expect(store.getData(['k'])).toBeUndefined()
    })

    it('staleTime of 30 days keeps data fresh for subscribers', async () => {
      store = new QueryStore({ staleTime: 30 * DAY })
      const query = store.query(['k'], async () => 1)
      const stop = query.subscribe(() => undefined)
      await settle()
      jest.advanceTimersByTime(10)
      expect(query.state.isStale).toBe(false)
      jest.advanceTimersByTime(30 * DAY)
      expect(query.state.isStale).toBe(true)
      stop()
    })

    it('a timeout of 30 days does not fire at once', async () => {
      store = new QueryStore({ timeout: 30 * DAY })
      const answer = deferred<string>()
      const result = store.fetch(['k'], () => answer.promise)
      await jest.advanceTimersByTimeAsync(1_000)
      answer.resolve('late but in time')
      await expect(result).resolves.toBe('late but in time')
    })
  })

  it('4. fetchNextPage on one of two paginated handles on a key appends', async () => {
    store = new QueryStore()
    const fetchPage = jest.fn(async ({ pageParam }: { pageParam: number }) => ({ n: pageParam }))
    const options = { initialPageParam: 0, getNextPageParam: (last: { n: number }) => last.n + 1 }
    const first = store.paginated(['feed'], fetchPage, options)
    store.paginated(['feed'], fetchPage, options) // the latest fetcher for the key is this one's
    await first.fetch()
    const data = await first.fetchNextPage()
    expect(data.pageParams).toEqual([0, 1])
    expect(fetchPage).toHaveBeenCalledTimes(2)
  })

  it('5. an optimistic update on a key with no entry leaves an entry that is collected', async () => {
    store = new QueryStore({ cacheTime: 1_000 })
    const save = store.mutation(async (n: number) => n, {
      optimistic: { key: ['fresh'], update: (_old: number | undefined, n) => n },
    })
    await save.mutate(1).wait()
    expect(store.getData(['fresh'])).toBe(1)
    jest.advanceTimersByTime(1_000)
    expect(store.size).toBe(0)
  })

  it('6. a cancelled multi-page refetch requests no further page', async () => {
    store = new QueryStore()
    const gate = deferred<void>()
    let gated = false
    const fetchPage = jest.fn(({ pageParam }: { pageParam: number }) =>
      gated ? gate.promise.then(() => pageParam) : Promise.resolve(pageParam),
    )
    const feed = store.paginated(['feed'], fetchPage, {
      initialPageParam: 0,
      getNextPageParam: (last: number) => (last < 2 ? last + 1 : undefined),
    })
    await feed.fetch()
    await feed.fetchNextPage()
    await feed.fetchNextPage()
    expect(fetchPage).toHaveBeenCalledTimes(3)
    gated = true
    const refetch = feed.refetch()
    feed.query.cancel()
    gate.resolve() // the page in flight answers after the cancel (its fetcher ignores the signal)
    await expect(refetch).rejects.toMatchObject({ name: 'AsyncCancelledError' })
    await settle()
    expect(fetchPage).toHaveBeenCalledTimes(4) // not 6: pages 2 and 3 were not requested
    expect(feed.state.data?.pageParams).toEqual([0, 1, 2])
  })

  it('7. MutationHandle.cancel() rejects with AsyncCancelledError, as Query.cancel() does', async () => {
    store = new QueryStore()
    const save = store.mutation(
      (_: number, { signal }) =>
        new Promise<number>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        ),
    )
    const handle = save.mutate(1)
    handle.cancel()
    await expect(handle.wait()).rejects.toMatchObject({ name: 'AsyncCancelledError' })
  })

  it('8. after close(), query().fetch() and subscribe() do not run the fetcher', async () => {
    store = new QueryStore()
    store.close()
    const fetcher = jest.fn(async () => 1)
    const query = store.query(['k'], fetcher)
    await expect(query.fetch()).rejects.toMatchObject({ name: 'AsyncCancelledError' })
    await expect(query.refetch()).rejects.toMatchObject({ name: 'AsyncCancelledError' })
    query.subscribe(() => undefined)
    await settle()
    expect(fetcher).not.toHaveBeenCalled()
  })

  it('9. setData during a first fetch, then cancel(), leaves status success beside the data', async () => {
    store = new QueryStore()
    const query = store.query(['k'], () => new Promise<string>(() => undefined))
    const pending = query.fetch()
    query.setData('set by hand')
    query.cancel()
    await expect(pending).rejects.toMatchObject({ name: 'AsyncCancelledError' })
    expect(query.state).toMatchObject({ status: 'success', data: 'set by hand', isFetching: false })
  })
})
