import { AsyncTimeoutError, QueryStore, defaultRetryDelay, isAsyncTimeoutError } from '../../../src'
import { settle } from './helpers'

describe('QueryStore retry and timeout', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers()
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  it('uses TanStack backoff: 1 s, 2 s, 4 s … capped at 30 s', () => {
    store = new QueryStore()
    expect([0, 1, 2, 3, 4, 5, 6].map(defaultRetryDelay)).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ])
  })

  it('retries with exponential backoff and succeeds', async () => {
    store = new QueryStore({ retry: 3 })
    const times: number[] = []
    const start = Date.now()
    const fetcher = jest.fn(async () => {
      times.push(Date.now() - start)
      if (times.length < 4) throw new Error(`fail ${times.length}`)
      return 'ok'
    })
    const query = store.query(['r'], fetcher)
    const result = query.fetch()
    await settle()
    expect(query.state).toMatchObject({ status: 'loading', failureCount: 1, isFetching: true })
    await jest.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000)
    await expect(result).resolves.toBe('ok')
    expect(times).toEqual([0, 1_000, 3_000, 7_000])
    expect(query.state).toMatchObject({ status: 'success', failureCount: 0, error: null })
  })

  it('caps the default backoff at 30 s between attempts of a real fetch', async () => {
    store = new QueryStore({ retry: 7 })
    const start = Date.now()
    const times: number[] = []
    const result = store
      .fetch(['cap'], async () => {
        times.push(Date.now() - start)
        throw new Error(`fail ${times.length}`)
      })
      .catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(200_000)
    expect(await result).toEqual(new Error('fail 8'))
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number))
    expect(gaps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
  })

  it('keeps the error of the last attempt when retries run out', async () => {
    store = new QueryStore()
    let n = 0
    // per-query options over the store's: a retry predicate and a fixed delay
    const query = store.query(
      ['r'],
      async () => {
        throw new Error(`attempt ${++n}`)
      },
      {
        retry: (failureCount, error) => failureCount < 2 && (error as Error).message.startsWith('attempt'),
        retryDelay: 50,
      },
    )
    const result = query.fetch().catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(100)
    expect(await result).toEqual(new Error('attempt 3'))
    expect(query.state).toMatchObject({ status: 'error', error: new Error('attempt 3'), failureCount: 3 })
  })

  it('stops retrying when the predicate says so', async () => {
    store = new QueryStore({
      retry: (_count, error) => !(error as Error).message.includes('fatal'),
      retryDelay: 10,
    })
    const fetcher = jest.fn(async () => {
      throw new Error(fetcher.mock.calls.length === 2 ? 'fatal' : 'flaky')
    })
    const result = store.fetch(['p'], fetcher).catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(100)
    expect(await result).toEqual(new Error('fatal'))
    expect(fetcher).toHaveBeenCalledTimes(2)
  })

  it('aborts an attempt that takes too long with AsyncTimeoutError', async () => {
    store = new QueryStore({ timeout: 2_000 })
    let signal: AbortSignal | undefined
    const result = store
      .fetch(['slow'], (ctx) => {
        signal = ctx.signal
        return new Promise<string>(() => undefined)
      })
      .catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(1_999)
    expect(signal?.aborted).toBe(false)
    await jest.advanceTimersByTimeAsync(1)
    const error = await result
    expect(isAsyncTimeoutError(error)).toBe(true)
    expect((error as AsyncTimeoutError).timeoutMs).toBe(2_000)
    expect(signal?.aborted).toBe(true)
    expect(store.getQuery(['slow'])?.state).toMatchObject({ status: 'error', error })
  })

  it('retries a timed-out attempt, and a close() during backoff clears the wait', async () => {
    store = new QueryStore({ timeout: 100, retry: 1 })
    const fetcher = jest.fn(
      (ctx: { attempt: number }) =>
        new Promise<string>((resolve) => {
          if (ctx.attempt === 1) resolve('second')
        }),
    )
    const result = store.fetch(['t'], fetcher)
    await jest.advanceTimersByTimeAsync(100 + 1_000)
    await expect(result).resolves.toBe('second')

    const failing = store
      .fetch(['t2'], () => Promise.reject(new Error('x')), { retry: 5 })
      .catch((e: unknown) => e)
    await settle()
    expect(jest.getTimerCount()).toBeGreaterThan(0)
    store.close()
    expect(await failing).toMatchObject({ name: 'AsyncCancelledError' })
  })
})
