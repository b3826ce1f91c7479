import { QueryStore, type QueryState } from '../../../src'
import { deferred, settle } from './helpers'

describe('QueryStore queries', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0) // close() clears every timer
    jest.useRealTimers()
  })

  it('serves fresh data without a request and refetches once stale', async () => {
    store = new QueryStore({ staleTime: 60_000 })
    const fetcher: jest.Mock<Promise<string>, []> = jest.fn(async () => 'v' + fetcher.mock.calls.length)
    expect(await store.fetch(['user', 1], fetcher)).toBe('v1')
    jest.advanceTimersByTime(59_999)
    expect(await store.fetch(['user', 1], fetcher)).toBe('v1')
    expect(fetcher).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(1)
    expect(store.getQuery(['user', 1])?.state.isStale).toBe(true)
    expect(await store.fetch(['user', 1], fetcher)).toBe('v2')
    expect(fetcher).toHaveBeenCalledTimes(2)
  })

  it('works as a get-or-fetch ttl cache with a per-call staleTime', async () => {
    store = new QueryStore()
    let n = 0
    const load = async (): Promise<number> => ++n
    expect(await store.fetch(['ttl'], load, { staleTime: 5_000 })).toBe(1)
    expect(await store.fetch(['ttl'], load, { staleTime: 5_000 })).toBe(1)
    jest.advanceTimersByTime(5_000)
    expect(await store.fetch(['ttl'], load, { staleTime: 5_000 })).toBe(2)
    // without options the entry's latest options apply; staleTime 0 always revalidates
    expect(await store.fetch(['ttl'], load)).toBe(2)
    expect(await store.fetch(['ttl'], load, { staleTime: 0 })).toBe(3)
  })

  it('serves stale data at once to subscribers and revalidates in the background', async () => {
    store = new QueryStore({ staleTime: 1_000 })
    const answer = deferred<string>()
    let calls = 0
    const fetcher = (): Promise<string> => (++calls === 1 ? Promise.resolve('old') : answer.promise)
    await store.fetch(['k'], fetcher)
    jest.advanceTimersByTime(1_000)
    const query = store.query(['k'], fetcher)
    const seen: Array<QueryState<string>> = []
    const stop = query.subscribe((s) => seen.push(s))
    expect(query.state).toMatchObject({ status: 'success', data: 'old', isStale: true, isFetching: true })
    answer.resolve('new')
    await settle()
    expect(query.state).toMatchObject({ status: 'success', data: 'new', isStale: false, isFetching: false })
    expect(seen.at(-1)?.data).toBe('new')
    stop()
  })

  it('makes identical requests in flight once: 1,000 concurrent fetches call the fetcher once', async () => {
    store = new QueryStore()
    const answer = deferred<number>()
    const fetcher = jest.fn(() => answer.promise)
    const all = Array.from({ length: 1_000 }, () => store.fetch(['same', { a: 1, b: 2 }], fetcher))
    all.push(store.fetch(['same', { b: 2, a: 1 }], fetcher))
    answer.resolve(42)
    const values = await Promise.all(all)
    expect(fetcher).toHaveBeenCalledTimes(1)
    expect(new Set(values)).toEqual(new Set([42]))
  })

  it('drops an entry with no subscribers after cacheTime, and keeps an observed one', async () => {
    store = new QueryStore({ cacheTime: 10_000 })
    await store.fetch(['a'], async () => 1)
    const observed = store.query(['b'], async () => 2)
    const stop = observed.subscribe(() => undefined)
    await settle()
    jest.advanceTimersByTime(9_999)
    expect(store.getData(['a'])).toBe(1)
    jest.advanceTimersByTime(1)
    expect(store.getData(['a'])).toBeUndefined()
    expect(store.getData(['b'])).toBe(2)
    stop()
    jest.advanceTimersByTime(10_000)
    expect(store.size).toBe(0)
  })

  it('evicts the least recently used unobserved entries beyond maxEntries', async () => {
    store = new QueryStore({ maxEntries: 3, staleTime: Infinity })
    const stop = store.query(['pinned'], async () => 'p').subscribe(() => undefined)
    await settle()
    await store.fetch(['x', 1], async () => 1)
    await store.fetch(['x', 2], async () => 2)
    await store.fetch(['pinned'], async () => 'p') // touch
    await store.fetch(['x', 1], async () => 1) // touch: 2 is now least recently used
    await store.fetch(['x', 3], async () => 3)
    expect(store.size).toBe(3)
    expect(store.getData(['x', 2])).toBeUndefined()
    expect(store.getData(['x', 1])).toBe(1)
    expect(store.getData(['x', 3])).toBe(3)
    await store.fetch(['x', 4], async () => 4)
    await store.fetch(['x', 5], async () => 5)
    expect(store.getData(['pinned'])).toBe('p') // observed entries are never evicted
    expect(store.size).toBe(3)
    stop()
  })

  it('batches notifications: one call per listener per burst of changes', async () => {
    store = new QueryStore()
    const query = store.query(['n'], async () => 0)
    const listener = jest.fn()
    query.subscribe(listener)
    await settle()
    listener.mockClear()
    query.setData(1)
    query.setData(2)
    query.setData((old) => (old ?? 0) + 1)
    expect(listener).not.toHaveBeenCalled()
    await settle()
    expect(listener).toHaveBeenCalledTimes(1)
    expect(listener).toHaveBeenLastCalledWith(expect.objectContaining({ data: 3, status: 'success' }))
    await settle()
    expect(listener).toHaveBeenCalledTimes(1) // nothing changed, nothing sent
  })

  it('flags data stale for subscribers when staleTime passes', async () => {
    store = new QueryStore({ staleTime: 5_000 })
    const query = store.query(['s'], async () => 'v')
    const listener = jest.fn()
    query.subscribe(listener)
    await settle()
    expect(query.state.isStale).toBe(false)
    listener.mockClear()
    await jest.advanceTimersByTimeAsync(5_000)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(listener).toHaveBeenLastCalledWith(expect.objectContaining({ isStale: true, data: 'v' }))
  })

  it('invalidates by key prefix: observed queries refetch, others only turn stale', async () => {
    store = new QueryStore({ staleTime: Infinity })
    const loads: string[] = []
    const loader = (name: string) => async () => {
      loads.push(name)
      return name
    }
    const watched = store.query(['user', 1], loader('u1'))
    watched.subscribe(() => undefined)
    await settle()
    await store.fetch(['user', 2], loader('u2'))
    await store.fetch(['users'], loader('all'))
    loads.length = 0
    await store.invalidate(['user'])
    expect(loads).toEqual(['u1'])
    expect(store.getQuery(['user', 2])?.state.isStale).toBe(true)
    expect(store.getQuery(['users'])?.state.isStale).toBe(false)
    await store.fetch(['user', 2], loader('u2'))
    expect(loads).toEqual(['u1', 'u2'])
  })

  it('setData/getData, and prefetch never rejects', async () => {
    store = new QueryStore({ staleTime: 1_000 })
    expect(store.getData(['p'])).toBeUndefined()
    store.setData(['p'], { n: 1 })
    store.setData<{ n: number }>(['p'], (old) => ({ n: (old?.n ?? 0) + 1 }))
    expect(store.getData(['p'])).toEqual({ n: 2 })
    const fetcher = jest.fn(async () => ({ n: 9 }))
    expect(await store.fetch(['p'], fetcher)).toEqual({ n: 2 })
    expect(fetcher).not.toHaveBeenCalled()
    await expect(store.prefetch(['bad'], () => Promise.reject(new Error('nope')))).resolves.toBeUndefined()
    expect(store.getQuery(['bad'])?.state).toMatchObject({ status: 'error', error: new Error('nope') })
  })

  it("a caller's signal stops its own wait, not the shared fetch", async () => {
    store = new QueryStore()
    const answer = deferred<string>()
    const controller = new AbortController()
    const mine = store.fetch(['shared'], () => answer.promise, { signal: controller.signal })
    const theirs = store.fetch(['shared'], () => answer.promise)
    controller.abort(new Error('left'))
    await expect(mine).rejects.toThrow('left')
    answer.resolve('ok')
    await expect(theirs).resolves.toBe('ok')
  })

  it('cancel() aborts the fetch signal and reverts the state; close() rejects later fetches', async () => {
    store = new QueryStore()
    let signal: AbortSignal | undefined
    const query = store.query(['c'], (ctx) => {
      signal = ctx.signal
      return new Promise<string>(() => undefined)
    })
    const pending = query.fetch()
    expect(query.state.status).toBe('loading')
    query.cancel()
    await expect(pending).rejects.toMatchObject({ name: 'AsyncCancelledError' })
    expect(signal?.aborted).toBe(true)
    expect(query.state).toMatchObject({ status: 'idle', isFetching: false })
    store.close()
    await expect(store.fetch(['c2'], async () => 1)).rejects.toMatchObject({ name: 'AsyncCancelledError' })
  })

  it('refetch() supersedes a fetch in flight: its signal aborts, its late answer is discarded', async () => {
    store = new QueryStore()
    const answers: Array<ReturnType<typeof deferred<string>>> = []
    const signals: AbortSignal[] = []
    const query = store.query(['r'], ({ signal }) => {
      signals.push(signal)
      const answer = deferred<string>()
      answers.push(answer)
      return answer.promise // ignores its signal: the late answer must still be dropped
    })
    query.setData('cached')
    const first = query.fetch()
    const second = query.refetch()
    expect(signals).toHaveLength(2)
    expect(signals[0]?.aborted).toBe(true)
    expect(signals[1]?.aborted).toBe(false)
    answers[1]?.resolve('new')
    answers[0]?.resolve('late')
    await expect(second).resolves.toBe('new')
    await expect(first).resolves.toBe('new') // the superseded fetch's awaiters get the new result
    await settle()
    expect(query.state).toMatchObject({ status: 'success', data: 'new', isFetching: false })
    // without data yet, or with cancelRefetch: false, the fetch in flight is shared instead
    const again = query.refetch()
    expect(query.refetch({ cancelRefetch: false })).toBe(again)
    answers[2]?.resolve('newer')
    await expect(again).resolves.toBe('newer')
  })

  it('rejects bad options with a typed error naming the option', () => {
    store = new QueryStore()
    expect(() => new QueryStore({ maxEntries: 0 })).toThrow(/maxEntries/)
    expect(() => store.query(['x'], async () => 1, { staleTime: -1 })).toThrow(/staleTime must be/)
    expect(() => store.query(['x'], async () => 1, { staleTime: -1 })).toThrow(
      expect.objectContaining({ name: 'QueryStoreError' }),
    )
  })
})
