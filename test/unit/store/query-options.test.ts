/**
 * TanStack query-core's query and queryObserver behaviours, ported one by one: initialData,
 * placeholderData, select, enabled, structuralSharing, meta, gcTime (and the cacheTime alias),
 * undefined data, retries stopping when the last subscriber leaves, cancellation.
 */
import { QueryStore, type QueryState } from '../../../src'
import { deferred, settle } from './helpers'

describe('QueryStore query options (TanStack v5 names)', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  describe('initialData', () => {
    it('starts the entry with cached data, fresh from now, without a fetch', async () => {
      store = new QueryStore({ staleTime: 1_000 })
      const fetcher = jest.fn(async () => 'fetched')
      const query = store.query(['k'], fetcher, { initialData: 'initial' })
      expect(query.state).toMatchObject({
        status: 'success',
        data: 'initial',
        isStale: false,
        updatedAt: Date.now(),
      })
      query.subscribe(() => undefined)
      await settle()
      expect(fetcher).not.toHaveBeenCalled()
      expect(await store.fetch(['k'], fetcher)).toBe('initial')
    })

    it('calls an initialData function once, and initialDataUpdatedAt (a value, zero or a function) dates it', async () => {
      store = new QueryStore({ staleTime: 1_000 })
      const initial = jest.fn(() => 'lazy')
      store.query(['a'], async () => 'x', { initialData: initial })
      store.query(['a'], async () => 'x', { initialData: initial })
      expect(initial).toHaveBeenCalledTimes(1)
      const at = jest.fn(() => Date.now() - 5_000)
      const old = store.query(['b'], async () => 'fetched', { initialData: 'i', initialDataUpdatedAt: at })
      expect(at).toHaveBeenCalledTimes(1)
      expect(old.state).toMatchObject({ updatedAt: Date.now() - 5_000, isStale: true })
      const zero = store.query(['c'], async () => 'fetched', { initialData: 'i', initialDataUpdatedAt: 0 })
      expect(zero.state.updatedAt).toBe(0)
      const stop = old.subscribe(() => undefined) // stale initial data is refetched on subscribe
      await settle()
      expect(old.state.data).toBe('fetched')
      stop()
    })

    it('an initialData function returning undefined leaves the entry empty', () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => 1, { initialData: () => undefined })
      expect(query.state.status).toBe('idle')
    })
  })

  describe('placeholderData', () => {
    it('is shown by this handle while loading, not cached, and gives way to the fetched data', async () => {
      store = new QueryStore()
      const answer = deferred<string>()
      const query = store.query(['k'], () => answer.promise, { placeholderData: 'placeholder' })
      const states: Array<QueryState<string>> = []
      query.subscribe((s) => states.push(s))
      expect(query.state).toMatchObject({ status: 'success', data: 'placeholder', isPlaceholderData: true })
      expect(store.getData(['k'])).toBeUndefined()
      expect(store.getQuery(['k'])?.state.data).toBeUndefined() // another handle sees no placeholder
      answer.resolve('real')
      await settle()
      expect(query.state).toMatchObject({ status: 'success', data: 'real', isPlaceholderData: false })
      expect(states.at(-1)?.isPlaceholderData).toBe(false)
    })

    it('a placeholderData function gets the data this handle last showed', async () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => 1, {
        placeholderData: (previous: number | undefined) => (previous ?? 0) + 100,
      })
      expect(query.state.data).toBe(100)
      await query.fetch()
      expect(query.state.data).toBe(1)
      void store.resetQueries({ queryKey: ['k'] })
      expect(query.state).toMatchObject({ data: 101, isPlaceholderData: true })
      await settle()
    })
  })

  describe('select', () => {
    it('derives the handle’s data (and fetch result), memoized on the cached value', async () => {
      store = new QueryStore()
      const select = jest.fn((todos: string[]) => todos.length)
      const count = store.query(['todos'], async () => ['a', 'b'], { select })
      await expect(count.fetch()).resolves.toBe(2)
      expect(count.state.data).toBe(2)
      expect(count.state.data).toBe(2)
      expect(select).toHaveBeenCalledTimes(1)
      expect(store.getData(['todos'])).toEqual(['a', 'b']) // the cache holds the raw data
      store.setData(['todos'], ['a', 'b', 'c'])
      expect(count.data).toBe(3)
    })

    it('keeps the reference of a deep-equal selection (structural sharing of select results)', async () => {
      store = new QueryStore()
      let n = 0
      const query = store.query(['k'], async () => ({ n: ++n, user: { id: 1 } }), { select: (d) => d.user })
      await query.fetch()
      const first = query.state.data
      await query.refetch()
      expect(query.state.data).toBe(first)
    })

    it('a select that throws puts the handle in error with the thrown error', async () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => 1, {
        select: () => {
          throw new Error('bad select')
        },
      })
      await query.fetch().catch(() => undefined)
      expect(query.state).toMatchObject({ status: 'error', error: new Error('bad select') })
    })
  })

  describe('enabled', () => {
    it('false: subscribing does not fetch, refetch still does', async () => {
      store = new QueryStore()
      const fetcher = jest.fn(async () => 1)
      const query = store.query(['k'], fetcher, { enabled: false })
      query.subscribe(() => undefined)
      await settle()
      expect(fetcher).not.toHaveBeenCalled()
      expect(query.state.status).toBe('idle')
      await expect(query.refetch()).resolves.toBe(1)
      expect(fetcher).toHaveBeenCalledTimes(1)
    })
  })

  describe('structuralSharing on refetch', () => {
    it('keeps the same references when a refetch returns deep-equal data, also for unchanged nested parts', async () => {
      store = new QueryStore()
      let version = 1
      const query = store.query(['k'], async () => ({ list: [{ id: 1 }, { id: 2 }], version }))
      const first = await query.fetch()
      const second = await query.refetch()
      expect(second).toBe(first)
      version = 2
      const third = await query.refetch()
      expect(third).not.toBe(first)
      expect(third.list).toBe(first.list)
      expect(third.version).toBe(2)
    })

    it('structuralSharing: false keeps each answer as is', async () => {
      store = new QueryStore({ structuralSharing: false })
      const query = store.query(['k'], async () => ({ a: 1 }))
      const first = await query.fetch()
      expect(await query.refetch()).not.toBe(first)
    })
  })

  it('meta reaches the fetcher, and the store default applies when none is given', async () => {
    store = new QueryStore({ meta: { source: 'store' } })
    const seen: unknown[] = []
    await store.fetch(['a'], async ({ meta }) => seen.push(meta))
    await store.fetch(['b'], async ({ meta }) => seen.push(meta), { meta: { source: 'query' } })
    expect(seen).toEqual([{ source: 'store' }, { source: 'query' }])
    expect(store.getQuery(['b'])?.options.meta).toEqual({ source: 'query' })
  })

  describe('gcTime', () => {
    it('removes an unobserved entry after gcTime, even one never fetched; cacheTime is its alias', () => {
      store = new QueryStore({ gcTime: 1_000 })
      store.query(['never fetched'], async () => 1)
      store.query(['alias'], async () => 1, { cacheTime: 5_000 })
      expect(store.getQuery(['alias'])?.options).toMatchObject({ gcTime: 5_000, cacheTime: 5_000 })
      jest.advanceTimersByTime(1_000)
      expect(store.findAll().map((q) => q.key)).toEqual([['alias']])
      jest.advanceTimersByTime(4_000)
      expect(store.size).toBe(0)
    })

    it('gcTime 0 removes the entry as soon as its last subscriber leaves', async () => {
      store = new QueryStore({ gcTime: 0 })
      const query = store.query(['k'], async () => 1)
      const stop = query.subscribe(() => undefined)
      await settle()
      stop()
      jest.advanceTimersByTime(0)
      expect(store.size).toBe(0)
    })

    it('is not counted while the entry is fetching; it starts when the fetch settles', async () => {
      store = new QueryStore({ gcTime: 1_000 })
      const answer = deferred<number>()
      void store.fetch(['k'], () => answer.promise)
      jest.advanceTimersByTime(5_000)
      expect(store.size).toBe(1)
      answer.resolve(1)
      await settle()
      jest.advanceTimersByTime(1_000)
      expect(store.size).toBe(0)
    })

    it('Infinity keeps the entry', () => {
      store = new QueryStore({ gcTime: Infinity })
      store.setData(['k'], 1)
      jest.advanceTimersByTime(365 * 86_400_000)
      expect(store.getData(['k'])).toBe(1)
    })

    it('refuses a negative gcTime, naming the option as given', () => {
      store = new QueryStore()
      expect(() => new QueryStore({ gcTime: -1 })).toThrow(/gcTime must be/)
      expect(() => new QueryStore({ cacheTime: -1 })).toThrow(/cacheTime must be/)
    })
  })

  describe('undefined data', () => {
    it('a fetcher resolving undefined fails the fetch with a QueryStoreError', async () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => undefined as unknown as number)
      await expect(query.fetch()).rejects.toMatchObject({ name: 'QueryStoreError' })
      expect(query.state).toMatchObject({ status: 'error', failureCount: 1 })
      expect(String(query.state.error)).toMatch(/resolved undefined/)
    })

    it('allowUndefined: true caches undefined as an answer (a lookup of a missing row)', async () => {
      store = new QueryStore({ staleTime: 1_000 })
      const lookup = jest.fn(async (): Promise<string | undefined> => undefined)
      expect(await store.fetch(['row', 404], lookup, { allowUndefined: true })).toBeUndefined()
      expect(await store.fetch(['row', 404], lookup, { allowUndefined: true })).toBeUndefined()
      expect(lookup).toHaveBeenCalledTimes(1)
      expect(store.getQuery(['row', 404])?.state).toMatchObject({ status: 'success', isStale: false })
    })

    it('query.setData(undefined) and an updater returning undefined leave the data', () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => 1)
      query.setData(5)
      expect(query.setData(undefined)).toBe(5)
      expect(query.setData(() => undefined)).toBe(5)
      expect(query.state.data).toBe(5)
    })
  })

  describe('retries and subscribers', () => {
    it('stops retrying when the last subscriber leaves (the attempt running may finish)', async () => {
      store = new QueryStore({ retry: 5, retryDelay: 1_000 })
      const fetcher = jest.fn(async () => {
        throw new Error('down')
      })
      const query = store.query(['k'], fetcher)
      const stop = query.subscribe(() => undefined)
      await settle()
      expect(fetcher).toHaveBeenCalledTimes(1)
      await jest.advanceTimersByTimeAsync(1_000)
      expect(fetcher).toHaveBeenCalledTimes(2)
      stop()
      await jest.advanceTimersByTimeAsync(10_000)
      expect(fetcher).toHaveBeenCalledTimes(2) // the retry waiting went no further
      expect(query.state).toMatchObject({ status: 'error', failureCount: 2, isFetching: false })
      expect(query.state.failureReason).toEqual(new Error('down'))
    })

    it('a fetch awaited without subscribers (store.fetch) keeps retrying', async () => {
      store = new QueryStore({ retry: 2, retryDelay: 10 })
      let n = 0
      const result = store.fetch(['k'], async () => {
        if (++n < 3) throw new Error('flaky')
        return 'ok'
      })
      await jest.advanceTimersByTimeAsync(20)
      await expect(result).resolves.toBe('ok')
    })

    it('reports failureCount and failureReason while retrying', async () => {
      store = new QueryStore({ retry: 1, retryDelay: 1_000 })
      const query = store.query(['k'], async () => Promise.reject(new Error('first')))
      void query.fetch().catch(() => undefined)
      await settle()
      expect(query.state).toMatchObject({
        status: 'loading',
        failureCount: 1,
        failureReason: new Error('first'),
      })
      await jest.advanceTimersByTimeAsync(1_000)
      expect(query.state).toMatchObject({ status: 'error', failureCount: 2 })
    })
  })

  describe('cancellation', () => {
    it('cancelling a settled query has no effect', async () => {
      store = new QueryStore()
      const query = store.query(['k'], async () => 1)
      await query.fetch()
      const before = query.state
      query.cancel()
      expect(query.state).toBe(before)
    })

    it('keeps the previous status while refetching, and restores it on cancel', async () => {
      store = new QueryStore()
      await store.fetch(['k'], async () => 'data')
      await store.prefetch(['k'], async () => Promise.reject(new Error('x')))
      expect(store.getQuery(['k'])?.state.status).toBe('error')
      const query = store.query(['k'], () => new Promise<string>(() => undefined))
      const pending = query.refetch()
      expect(query.state).toMatchObject({ status: 'error', isFetching: true, data: 'data' })
      query.cancel()
      await expect(pending).rejects.toMatchObject({ name: 'AsyncCancelledError' })
      expect(query.state).toMatchObject({ status: 'error', error: new Error('x'), isFetching: false })
    })

    it('a query with no fetcher rejects a fetch with a QueryStoreError', async () => {
      store = new QueryStore()
      store.setData(['k'], 1)
      await expect(store.getQuery(['k'])!.refetch()).rejects.toMatchObject({ name: 'QueryStoreError' })
    })
  })

  it('invalidating an invalidated query does not notify again', async () => {
    store = new QueryStore({ staleTime: Infinity })
    const query = store.query(['k'], async () => 1, { enabled: false })
    await query.fetch()
    const listener = jest.fn()
    query.subscribe(listener)
    await query.invalidate({ refetch: false })
    await settle()
    const calls = listener.mock.calls.length
    await query.invalidate({ refetch: false })
    await settle()
    expect(listener).toHaveBeenCalledTimes(calls)
  })

  it('notifies the remaining subscribers when one unsubscribes during an update', async () => {
    store = new QueryStore()
    const query = store.query(['k'], async () => 1, { enabled: false })
    const second = jest.fn()
    let stopFirst = (): void => undefined
    stopFirst = query.subscribe(() => stopFirst())
    query.subscribe(second)
    query.setData(2)
    await settle()
    expect(second).toHaveBeenLastCalledWith(expect.objectContaining({ data: 2 }))
  })

  it('handles on one key share the entry: one fetch, and each sees the data its own way', async () => {
    store = new QueryStore()
    const fetcher = jest.fn(async () => ({ items: [1, 2, 3] }))
    const all = store.query(['list'], fetcher)
    const count = store.query(['list'], fetcher, { select: (d) => d.items.length })
    const stops = [all.subscribe(() => undefined), count.subscribe(() => undefined)]
    await settle()
    expect(fetcher).toHaveBeenCalledTimes(1)
    expect(all.state.data).toEqual({ items: [1, 2, 3] })
    expect(count.state.data).toBe(3)
    expect(all.observerCount).toBe(2)
    for (const stop of stops) stop()
  })

  it('one listener given to two handles of a key is two subscriptions', async () => {
    store = new QueryStore({ staleTime: Infinity })
    const listener = jest.fn()
    const a = store.query(['k'], async () => 1, { enabled: false })
    const b = store.query(['k'], async () => 1, { enabled: false })
    const stopA = a.subscribe(listener)
    const stopB = b.subscribe(listener)
    expect(a.observerCount).toBe(2)
    stopA()
    expect(b.observerCount).toBe(1)
    store.setData(['k'], 2)
    await settle()
    expect(listener).toHaveBeenLastCalledWith(expect.objectContaining({ data: 2 }))
    stopB()
  })
})
