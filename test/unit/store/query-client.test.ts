/**
 * TanStack query-core's queryClient and queryCache behaviours, ported one by one to the
 * store's names: query defaults, setQueryData / setQueriesData / getQueriesData, isFetching,
 * isMutating, find / findAll, cancel / reset / refetch / remove / invalidate with filters,
 * cache events, dehydrate / hydrate.
 */
import { QueryStore, dehydrate, hydrate, type QueryCacheEvent } from '../../../src'
import { deferred, settle } from './helpers'

describe('QueryStore as a TanStack QueryClient', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  describe('query defaults', () => {
    it('applies defaults registered for a key prefix to entries created under it, not to others', async () => {
      store = new QueryStore()
      store.setQueryDefaults(['todos'], { staleTime: 10_000, retry: 2 })
      expect(store.getQueryDefaults(['todos', 1])).toEqual({ staleTime: 10_000, retry: 2 })
      expect(store.getQueryDefaults(['todo'])).toEqual({}) // a subset of a word is not a prefix
      await store.fetch(['todos', 1], async () => 'x')
      expect(store.getQuery(['todos', 1])?.options).toMatchObject({ staleTime: 10_000, retry: 2 })
      await store.fetch(['other'], async () => 'y')
      expect(store.getQuery(['other'])?.options.staleTime).toBe(0)
    })

    it('merges every matching registration, the later winning, and updates an existing one', () => {
      store = new QueryStore()
      store.setQueryDefaults(['a'], { staleTime: 1, gcTime: 5 })
      store.setQueryDefaults(['a', 'b'], { staleTime: 2 })
      expect(store.getQueryDefaults(['a', 'b', 'c'])).toEqual({ staleTime: 2, gcTime: 5 })
      store.setQueryDefaults(['a'], { staleTime: 3 })
      expect(store.getQueryDefaults(['a'])).toEqual({ staleTime: 3 })
    })

    it('lets options given to a query override the defaults', async () => {
      store = new QueryStore()
      store.setQueryDefaults(['k'], { staleTime: 10_000 })
      await store.fetch(['k'], async () => 1, { staleTime: 5 })
      expect(store.getQuery(['k'])?.options.staleTime).toBe(5)
    })

    it('does not fetch when defaults are set', () => {
      store = new QueryStore()
      store.setQueryDefaults(['k'], { staleTime: 1 })
      expect(store.size).toBe(0)
    })
  })

  describe('setData (setQueryData)', () => {
    it('does not create an entry for undefined, nor change data for undefined or an updater returning it', () => {
      store = new QueryStore()
      expect(store.setData(['none'], undefined)).toBeUndefined()
      expect(store.setData<number>(['none'], () => undefined)).toBeUndefined()
      expect(store.size).toBe(0)
      store.setData(['k'], 1)
      expect(store.setData(['k'], undefined)).toBe(1)
      expect(store.setData<number>(['k'], () => undefined)).toBe(1)
      expect(store.getData(['k'])).toBe(1)
    })

    it('keeps references of deep-equal data (structural sharing), unless turned off', () => {
      store = new QueryStore()
      const first = { user: { id: 1 }, tags: ['a'] }
      store.setData(['s'], first)
      const second = store.setData(['s'], { user: { id: 1 }, tags: ['a', 'b'] })
      expect(second?.user).toBe(first.user)
      expect(store.setData(['s'], { user: { id: 1 }, tags: ['a', 'b'] })).toBe(second)
      store.query(['raw'], async () => first, { structuralSharing: false })
      store.setData(['raw'], { ...first })
      const copy = { ...first }
      expect(store.setData(['raw'], copy)).toBe(copy)
    })

    it('applies a custom structuralSharing function', () => {
      store = new QueryStore({ structuralSharing: (old, next) => ({ old, next }) })
      store.setData(['c'], 1)
      expect(store.setData(['c'], 2)).toEqual({ old: 1, next: 2 })
    })

    it('takes updatedAt, and does not end a fetch in flight', async () => {
      store = new QueryStore({ staleTime: 1_000 })
      store.setData(['k'], 1, { updatedAt: Date.now() - 5_000 })
      expect(store.getQuery(['k'])?.state).toMatchObject({ updatedAt: Date.now() - 5_000, isStale: true })
      const answer = deferred<number>()
      const pending = store.fetch(['k'], () => answer.promise)
      store.setData(['k'], 2)
      expect(store.getQuery(['k'])?.state.isFetching).toBe(true)
      answer.resolve(3)
      await expect(pending).resolves.toBe(3)
    })
  })

  it('setQueriesData updates every existing matching query, and creates none', () => {
    store = new QueryStore()
    store.setData(['user', 1], 1)
    store.setData(['user', 2], 2)
    store.setData(['other'], 0)
    const result = store.setQueriesData<number>({ queryKey: ['user'] }, (old) => (old ?? 0) * 10)
    expect(result).toEqual([
      [['user', 1], 10],
      [['user', 2], 20],
    ])
    expect(store.getData(['other'])).toBe(0)
    expect(store.setQueriesData({ queryKey: ['missing'] }, 1)).toEqual([])
    expect(store.size).toBe(3)
  })

  it('getQueriesData returns [key, data] of every match, and [] when none', () => {
    store = new QueryStore()
    store.setData(['a', 1], 'x')
    store.setData(['a', 2], 'y')
    expect(store.getQueriesData({ queryKey: ['a'] })).toEqual([
      [['a', 1], 'x'],
      [['a', 2], 'y'],
    ])
    expect(store.getQueriesData({ queryKey: ['b'] })).toEqual([])
  })

  it('fetch (fetchQuery) answers fresh initialData without fetching, stale initialData with a fetch', async () => {
    store = new QueryStore({ gcTime: 1_000 })
    const fetcher = jest.fn(async () => 'fetched')
    expect(await store.fetch(['a'], fetcher, { initialData: 'initial', staleTime: 60_000 })).toBe('initial')
    expect(fetcher).not.toHaveBeenCalled()
    expect(await store.fetch(['b'], fetcher, { initialData: 'initial', initialDataUpdatedAt: 0 })).toBe(
      'fetched',
    )
    jest.advanceTimersByTime(1_000)
    expect(store.size).toBe(0) // both collected: the countdown starts without a fetch too
  })

  describe('ensureQueryData', () => {
    it('answers cached data whatever its age, else fetches', async () => {
      store = new QueryStore()
      const fetcher = jest.fn(async () => 'fetched')
      expect(await store.ensureQueryData(['k'], fetcher)).toBe('fetched')
      jest.advanceTimersByTime(60_000) // stale (staleTime 0)
      expect(await store.ensureQueryData(['k'], fetcher)).toBe('fetched')
      expect(fetcher).toHaveBeenCalledTimes(1)
    })

    it('does not fetch with initialData, which seeds the entry', async () => {
      store = new QueryStore()
      const fetcher = jest.fn(async () => 'fetched')
      expect(await store.ensureQueryData(['k'], fetcher, { initialData: 'initial' })).toBe('initial')
      expect(fetcher).not.toHaveBeenCalled()
      expect(store.getData(['k'])).toBe('initial')
    })

    it('with revalidateIfStale answers stale data and refetches in the background', async () => {
      store = new QueryStore({ staleTime: 1_000 })
      let n = 0
      const fetcher = jest.fn(async () => ++n)
      await store.fetch(['k'], fetcher)
      expect(await store.ensureQueryData(['k'], fetcher, { revalidateIfStale: true })).toBe(1) // fresh: no refetch
      jest.advanceTimersByTime(1_000)
      expect(await store.ensureQueryData(['k'], fetcher, { revalidateIfStale: true })).toBe(1)
      await settle()
      expect(store.getData(['k'])).toBe(2)
      expect(fetcher).toHaveBeenCalledTimes(2)
    })
  })

  it('isFetching and isMutating count what runs, with filters', async () => {
    store = new QueryStore()
    const one = deferred<number>()
    const two = deferred<number>()
    void store.fetch(['x', 1], () => one.promise)
    void store.fetch(['y'], () => two.promise)
    expect(store.isFetching()).toBe(2)
    expect(store.isFetching({ queryKey: ['x'] })).toBe(1)
    one.resolve(1)
    two.resolve(2)
    await settle()
    expect(store.isFetching()).toBe(0)

    const write = deferred<void>()
    const save = store.mutation(() => write.promise, { mutationKey: ['save', 'user'] })
    const other = store.mutation(() => write.promise)
    const a = save.mutate(undefined)
    const b = other.mutate(undefined)
    expect(store.isMutating()).toBe(2)
    expect(store.isMutating({ mutationKey: ['save'] })).toBe(1)
    expect(store.isMutating({ mutationKey: ['save'], exact: true })).toBe(0)
    write.resolve()
    await Promise.all([a.wait(), b.wait()])
    expect(store.isMutating()).toBe(0)
  })

  describe('find and findAll', () => {
    it('find matches exactly by default, or by prefix with exact: false', () => {
      store = new QueryStore()
      store.setData(['todos', 1], 't')
      expect(store.find({ queryKey: ['todos'] })).toBeUndefined()
      expect(store.find({ queryKey: ['todos'], exact: false })?.key).toEqual(['todos', 1])
      expect(store.find({ queryKey: ['todos', 1] })?.state.data).toBe('t')
    })

    it('findAll filters by key, type, staleness, fetch status and predicate', async () => {
      store = new QueryStore({ staleTime: 10_000 })
      const stop = store.query(['active'], async () => 1).subscribe(() => undefined)
      await settle()
      store.setData(['fresh'], 2)
      store.setData(['stale'], 3, { updatedAt: Date.now() - 20_000 })
      const answer = deferred<number>()
      void store.fetch(['loading'], () => answer.promise)
      const keys = (filters?: Parameters<QueryStore['findAll']>[0]): unknown[] =>
        store.findAll(filters).map((q) => q.key[0])
      expect(keys()).toEqual(['active', 'fresh', 'stale', 'loading'])
      expect(keys({ type: 'active' })).toEqual(['active'])
      expect(keys({ type: 'inactive' })).toEqual(['fresh', 'stale', 'loading'])
      expect(keys({ stale: true })).toEqual(['stale', 'loading'])
      expect(keys({ stale: false })).toEqual(['active', 'fresh'])
      expect(keys({ fetchStatus: 'fetching' })).toEqual(['loading'])
      expect(keys({ predicate: (q) => q.state.data === 2 })).toEqual(['fresh'])
      expect(keys({ queryKey: ['fresh'], type: 'active' })).toEqual([])
      answer.resolve(4)
      stop()
    })
  })

  describe('cancelQueries', () => {
    it('reverts matched queries to their state before the fetch; awaiters get AsyncCancelledError', async () => {
      store = new QueryStore()
      store.setData(['k'], 'old')
      const pending = store.query(['k'], () => new Promise<string>(() => undefined)).refetch()
      expect(store.getQuery(['k'])?.state.isFetching).toBe(true)
      await store.cancelQueries({ queryKey: ['k'] })
      await expect(pending).rejects.toMatchObject({ name: 'AsyncCancelledError' })
      expect(store.getQuery(['k'])?.state).toMatchObject({
        status: 'success',
        data: 'old',
        isFetching: false,
      })
    })

    it('does not revert with revert: false', async () => {
      store = new QueryStore()
      const query = store.query(['k'], () => new Promise<string>(() => undefined))
      const pending = query.fetch()
      await store.cancelQueries({ queryKey: ['k'] }, { revert: false })
      await expect(pending).rejects.toMatchObject({ name: 'AsyncCancelledError' })
      expect(query.state).toMatchObject({ status: 'loading', isFetching: false })
    })

    it('does not crash when nothing matches, and a cancelled query can be refetched', async () => {
      store = new QueryStore()
      await store.cancelQueries({ queryKey: ['none'], exact: true })
      let calls = 0
      const query = store.query(['k'], () => (++calls === 1 ? new Promise<number>(() => undefined) : 5))
      void query.fetch().catch(() => undefined)
      await store.cancelQueries()
      await expect(query.refetch()).resolves.toBe(5)
    })
  })

  describe('refetchQueries', () => {
    it('refetches all by default, or only active / inactive / stale ones', async () => {
      store = new QueryStore({ staleTime: Infinity })
      const calls: string[] = []
      const loader = (name: string) => async () => {
        calls.push(name)
        return name
      }
      const stop = store.query(['active'], loader('active')).subscribe(() => undefined)
      await store.fetch(['inactive'], loader('inactive'))
      await settle()
      calls.length = 0
      await store.refetchQueries()
      expect(calls.sort()).toEqual(['active', 'inactive'])
      calls.length = 0
      await store.refetchQueries({ type: 'active' })
      expect(calls).toEqual(['active'])
      calls.length = 0
      await store.refetchQueries({ type: 'inactive' })
      expect(calls).toEqual(['inactive'])
      calls.length = 0
      await store.refetchQueries({ stale: true })
      expect(calls).toEqual([])
      stop()
    })

    it('rejects only with throwOnError, and skips entries with no fetcher', async () => {
      store = new QueryStore()
      store.setData(['set only'], 1)
      await store.fetch(['bad'], async () => 1)
      store.query(['bad'], async () => Promise.reject(new Error('down')))
      await expect(store.refetchQueries()).resolves.toBeUndefined()
      await expect(store.refetchQueries({ queryKey: ['bad'] }, { throwOnError: true })).rejects.toThrow(
        'down',
      )
    })

    it('supersedes a fetch in flight by default, shares it with cancelRefetch: false', async () => {
      store = new QueryStore()
      store.setData(['k'], 0)
      const signals: AbortSignal[] = []
      store.query(['k'], ({ signal }) => {
        signals.push(signal)
        return Promise.resolve(signals.length)
      })
      const first = store.getQuery<number>(['k'])!.refetch()
      await store.refetchQueries({ queryKey: ['k'] }, { cancelRefetch: false })
      expect(signals).toHaveLength(1)
      await first
      const again = store.getQuery<number>(['k'])!.refetch()
      await store.refetchQueries({ queryKey: ['k'] })
      expect(signals).toHaveLength(3)
      expect(signals[1]?.aborted).toBe(true)
      await again
    })
  })

  describe('disabled handles', () => {
    it('a query observed only by disabled handles is inactive and not refetched in bulk', async () => {
      store = new QueryStore({ staleTime: Infinity })
      const fetcher = jest.fn(async () => 1)
      const disabled = store.query(['k'], fetcher, { enabled: false })
      await disabled.fetch()
      const stop = disabled.subscribe(() => undefined)
      expect(store.findAll({ type: 'active' })).toEqual([])
      expect(store.findAll({ type: 'inactive' }).map((q) => q.key)).toEqual([['k']])
      await store.invalidateQueries({ queryKey: ['k'] }, { refetchType: 'all' })
      await store.refetchQueries({ queryKey: ['k'] })
      await store.invalidate(['k'])
      expect(fetcher).toHaveBeenCalledTimes(1)
      const enabled = store.query(['k'], fetcher).subscribe(() => undefined) // one enabled handle: active
      await settle()
      await store.refetchQueries({ queryKey: ['k'], type: 'active' })
      expect(fetcher).toHaveBeenCalledTimes(3) // fetched on subscribe (invalidated), then refetched
      enabled()
      stop()
    })
  })

  describe('invalidateQueries', () => {
    it('refetches active queries by default, inactive or all with refetchType, none with none', async () => {
      store = new QueryStore({ staleTime: Infinity })
      const calls: string[] = []
      const loader = (name: string) => async () => {
        calls.push(name)
        return name
      }
      const stop = store.query(['q', 'active'], loader('active')).subscribe(() => undefined)
      await store.fetch(['q', 'inactive'], loader('inactive'))
      await settle()
      calls.length = 0
      await store.invalidateQueries({ queryKey: ['q'] })
      expect(calls).toEqual(['active'])
      expect(store.getQuery(['q', 'inactive'])?.state.isStale).toBe(true)
      calls.length = 0
      await store.invalidateQueries({ queryKey: ['q'] }, { refetchType: 'inactive' })
      expect(calls).toEqual(['inactive'])
      calls.length = 0
      await store.invalidateQueries(undefined, { refetchType: 'all' })
      expect(calls.sort()).toEqual(['active', 'inactive'])
      calls.length = 0
      await store.invalidateQueries(undefined, { refetchType: 'none' })
      expect(calls).toEqual([])
      stop()
    })
  })

  describe('resetQueries', () => {
    it('resets to the initial state (initial data if any) and refetches the observed ones', async () => {
      store = new QueryStore({ staleTime: Infinity })
      let n = 0
      const withInitial = store.query(['i'], async () => ++n, { initialData: 100, initialDataUpdatedAt: 0 })
      await withInitial.refetch()
      expect(withInitial.state.data).toBe(1)
      await store.fetch(['plain'], async () => 'p')
      const events: string[] = []
      const stop = store.query(['observed'], async () => ++n).subscribe((s) => events.push(s.status))
      await settle()
      await store.resetQueries()
      expect(withInitial.state).toMatchObject({ status: 'success', data: 100, updatedAt: 0 })
      expect(store.getQuery(['plain'])?.state).toMatchObject({ status: 'idle', data: undefined })
      expect(store.getData(['observed'])).toBe(3) // refetched
      stop()
    })
  })

  it('removeQueries removes matches and cancels their fetches', async () => {
    store = new QueryStore()
    store.setData(['a', 1], 1)
    let signal: AbortSignal | undefined
    void store
      .fetch(['a', 2], (ctx) => {
        signal = ctx.signal
        return new Promise<number>(() => undefined)
      })
      .catch(() => undefined)
    store.setData(['b'], 3)
    store.removeQueries({ queryKey: ['a'] })
    expect(signal?.aborted).toBe(true)
    expect(store.findAll().map((q) => q.key)).toEqual([['b']])
  })

  describe('cache events', () => {
    it('reports added, updated and removed entries', async () => {
      store = new QueryStore({ gcTime: 1_000 })
      const events: Array<[QueryCacheEvent['type'], unknown]> = []
      const stop = store.subscribe((e) => events.push([e.type, e.query.key]))
      await store.fetch(['k'], async () => 1)
      expect(events[0]).toEqual(['added', ['k']])
      expect(events.filter(([type]) => type === 'updated').length).toBeGreaterThanOrEqual(2) // loading, success
      jest.advanceTimersByTime(1_000)
      expect(events.at(-1)).toEqual(['removed', ['k']])
      stop()
      store.setData(['later'], 1)
      expect(events.some(([, key]) => JSON.stringify(key) === '["later"]')).toBe(false)
    })

    it('reports an entry created with initial data as added, holding it', () => {
      store = new QueryStore()
      const seen: unknown[] = []
      store.subscribe((e) => e.type === 'added' && seen.push(e.query.state.data))
      store.query(['i'], async () => 2, { initialData: 1 })
      expect(seen).toEqual([1])
    })

    it('reports a listener error to onListenerError and goes on', () => {
      const errors: unknown[] = []
      store = new QueryStore({ onListenerError: (e) => errors.push(e) })
      const good = jest.fn()
      store.subscribe(() => {
        throw new Error('bad listener')
      })
      store.subscribe(good)
      store.setData(['k'], 1)
      expect(errors[0]).toEqual(new Error('bad listener'))
      expect(good).toHaveBeenCalled()
    })
  })

  describe('dehydrate and hydrate', () => {
    it('hands the successful queries, with their age, to another store through JSON', async () => {
      store = new QueryStore({ staleTime: 60_000 })
      await store.fetch(['user', 1], async () => ({ name: 'Ada' }))
      await store.prefetch(['bad'], async () => Promise.reject(new Error('no')))
      jest.advanceTimersByTime(10_000)
      const json = JSON.stringify(dehydrate(store))
      const cold = new QueryStore({ staleTime: 60_000 })
      try {
        hydrate(cold, JSON.parse(json))
        expect(cold.getData(['user', 1])).toEqual({ name: 'Ada' })
        expect(cold.getQuery(['bad'])).toBeUndefined()
        expect(cold.getQuery(['user', 1])?.state.updatedAt).toBe(Date.now() - 10_000)
        const fetcher = jest.fn(async () => ({ name: 'Grace' }))
        expect(await cold.fetch(['user', 1], fetcher)).toEqual({ name: 'Ada' }) // still fresh
        expect(fetcher).not.toHaveBeenCalled()
        jest.advanceTimersByTime(50_000)
        expect(await cold.fetch(['user', 1], fetcher)).toEqual({ name: 'Grace' }) // stale at its true age
      } finally {
        cold.close()
      }
    })

    it('keeps newer data already in the target, and honours shouldDehydrateQuery', async () => {
      store = new QueryStore()
      store.setData(['a'], 'old')
      store.setData(['b'], 'b')
      const state = dehydrate(store, { shouldDehydrateQuery: (q) => q.key[0] === 'a' })
      expect(state.queries.map((q) => q.queryKey)).toEqual([['a']])
      const target = new QueryStore()
      try {
        jest.advanceTimersByTime(1)
        target.setData(['a'], 'newer')
        hydrate(target, state)
        expect(target.getData(['a'])).toBe('newer')
        hydrate(target, undefined) // nothing to do
      } finally {
        target.close()
      }
    })
  })
})
