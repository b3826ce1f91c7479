import {
  Component,
  ComponentCache,
  SourceNotFoundError,
  SourceUnavailableError,
  explain,
  isCircuitOpenError,
  resolve,
} from './tributary'
import type { ComponentResolutionError, ComponentValueCache } from './tributary'
import { memorySource } from './support'

afterEach(() => jest.useRealTimers())

const down = (key: string) => new SourceUnavailableError({ source: 'mem', key })

describe('per-component retry, timeout and circuit breaker', () => {
  it('retries with backoff and reports the attempts', async () => {
    jest.useFakeTimers()
    class Retried {
      @Component({ fetchFrom: 'mem', key: 'port', retry: { attempts: 3, initialDelay: 100, jitter: 'none' } })
      port!: number
    }
    const source = memorySource(
      'mem',
      { port: '80' },
      { failures: { port: (attempt: number) => (attempt < 2 ? down('port') : undefined) } },
    )
    const pending = resolve(Retried, { sources: [source], cache: false })
    await jest.advanceTimersByTimeAsync(0)
    expect(source.calls).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(100)
    expect(source.calls).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(200)
    const config = await pending
    expect(config.port).toBe(80)
    expect(source.calls.map((c) => c.attempt)).toEqual([0, 1, 2])
    expect(explain(config).port).toMatchObject({ attempts: 3, origin: 'source' })
  })

  it('gives up after the retries, with the attempt count, and does not retry a missing key', async () => {
    jest.useFakeTimers()
    class Failing {
      @Component({ fetchFrom: 'mem', key: 'down', retry: { attempts: 2, initialDelay: 10, jitter: 'none' } })
      a!: string
      @Component({ fetchFrom: 'mem', key: 'missing', retry: 5 }) b!: string
    }
    const source = memorySource('mem', {}, { failures: { down: down('down') } })
    const pending = resolve(Failing, { sources: [source] }).catch(
      (e: unknown) => e,
    ) as Promise<ComponentResolutionError>
    await jest.advanceTimersByTimeAsync(100)
    const error = await pending
    expect(error.errors.map((e) => [e.property, e.attempts])).toEqual([
      ['a', 3],
      ['b', 1],
    ])
    expect(error.errors[0]?.message).toBe(
      'Failing.a (source "mem", key "down", 3 attempts): mem: unavailable while reading "down"',
    )
    expect(error.errors[1]?.cause).toBeInstanceOf(SourceNotFoundError)
  })

  it('a per-component timeout gives up on that component only (its fallback applies)', async () => {
    jest.useFakeTimers()
    class Timed {
      @Component({ fetchFrom: 'mem', key: 'slow', timeout: 50 }) slow!: string
      @Component({ fetchFrom: 'mem', key: 'slowWithFallback', timeout: 50, fallback: 'default' })
      other!: string
      @Component({ fetchFrom: 'mem', key: 'fast' }) fast!: string
    }
    const source = memorySource(
      'mem',
      { slow: 's', slowWithFallback: 'x', fast: 'f' },
      { delays: { slow: 1_000, slowWithFallback: 1_000 } },
    )
    const pending = resolve(Timed, { sources: [source] }).catch(
      (e: unknown) => e,
    ) as Promise<ComponentResolutionError>
    await jest.advanceTimersByTimeAsync(50)
    const error = await pending
    expect(error.errors.map((e) => e.message)).toEqual([
      'Timed.slow (source "mem", key "slow"): Timed.slow timed out after 50 ms',
    ])
    expect(error.resolved).toEqual(['other', 'fast'])
    expect(explain(error.instance as object).other).toMatchObject({
      origin: 'fallback',
      value: 'default',
      reason: 'Timed.other timed out after 50 ms',
    })
  })

  it('circuit breakers are shared per source and key across resolves', async () => {
    class Guarded {
      @Component({ fetchFrom: 'mem', key: 'flaky', circuitBreaker: { threshold: 2, halfOpenAfter: 60_000 } })
      flaky!: string
    }
    const source = memorySource('mem', { flaky: 'ok' }, { failures: { flaky: down('flaky') } })
    for (let i = 0; i < 2; i++) await resolve(Guarded, { sources: [source] }).catch(() => undefined)
    expect(source.calls).toHaveLength(2)
    const error = (await resolve(Guarded, { sources: [source] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(source.calls).toHaveLength(2)
    expect(isCircuitOpenError(error.errors[0]?.cause)).toBe(true)
    expect(error.errors[0]?.attempts).toBe(0)
    expect(error.errors[0]?.message).toMatch(
      /Guarded\.flaky \(source "mem", key "flaky"\): mem:flaky: circuit open/,
    )
    // Another source object has its own breaker.
    const healthy = memorySource('mem', { flaky: 'ok' })
    expect((await resolve(Guarded, { sources: [healthy] })).flaky).toBe('ok')
  })
})

describe('ComponentCache', () => {
  class Cached {
    @Component({ fetchFrom: 'mem', key: 'rate', ttl: 60 }) rate!: number
    @Component({ fetchFrom: 'mem', key: 'live' }) live!: number
  }

  it('keeps a value for its ttl across resolves sharing a cache', async () => {
    jest.useFakeTimers()
    const cache = new ComponentCache()
    const source = memorySource('mem', { rate: '1', live: '1' })
    expect(await resolve(Cached, { sources: [source], cache })).toMatchObject({ rate: 1, live: 1 })
    source.values = { rate: '2', live: '2' }
    jest.advanceTimersByTime(59_000)
    const second = await resolve(Cached, { sources: [source], cache })
    expect(second).toMatchObject({ rate: 1, live: 2 })
    expect(explain(second).rate).toMatchObject({ origin: 'cache', attempts: 0 })
    jest.advanceTimersByTime(1_000)
    expect(await resolve(Cached, { sources: [source], cache })).toMatchObject({ rate: 2, live: 2 })
    expect(source.calls.filter((c) => c.key === 'rate')).toHaveLength(2)
    // A separate cache (or none) does not see those values.
    expect((await resolve(Cached, { sources: [source], cache: new ComponentCache() })).rate).toBe(2)
    expect(source.calls.filter((c) => c.key === 'rate')).toHaveLength(3)
  })

  it('makes identical concurrent fetches once, across resolves', async () => {
    jest.useFakeTimers()
    const cache = new ComponentCache()
    const source = memorySource('mem', { rate: '5', live: '1' }, { delays: { rate: 100 } })
    const all = Promise.all([1, 2, 3].map(() => resolve(Cached, { sources: [source], cache })))
    await jest.advanceTimersByTimeAsync(100)
    expect((await all).map((c) => c.rate)).toEqual([5, 5, 5])
    expect(source.calls.filter((c) => c.key === 'rate')).toHaveLength(1)
    expect(cache.inFlight).toBe(0)
  })

  it('a resolve joining the fetch another resolve has in flight reports it as from the cache', async () => {
    jest.useFakeTimers()
    const cache = new ComponentCache()
    const source = memorySource('mem', { rate: '5', live: '1' }, { delays: { rate: 100 } })
    const first = resolve(Cached, { sources: [source], cache })
    const second = resolve(Cached, { sources: [source], cache })
    await jest.advanceTimersByTimeAsync(100)
    expect(explain(await first).rate).toMatchObject({ origin: 'source', attempts: 1 })
    expect(explain(await second).rate).toMatchObject({ origin: 'cache', attempts: 0, value: 5 })
  })

  it('stores values with their ttl as staleTime, keeps the last good one through a failed refetch', async () => {
    jest.useFakeTimers({ now: 1_000_000 })
    const cache = new ComponentCache()
    cache.set('k', 'v1', 30)
    expect(cache.get('k')).toEqual({ value: 'v1', storedAt: 1_000_000, expiresAt: 1_030_000 })
    // Fresh: the fetcher is not called.
    const fetcher = jest.fn((_signal: AbortSignal) => Promise.resolve('v2'))
    expect(await cache.fetch('k', fetcher, { ttl: 30 })).toBe('v1')
    expect(fetcher).not.toHaveBeenCalled()
    jest.advanceTimersByTime(30_000)
    expect(await cache.fetch('k', fetcher, { ttl: 30 })).toBe('v2')
    expect(fetcher).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(30_000)
    const failed = await cache
      .fetch('k', () => Promise.reject(new Error('down')), { ttl: 30 })
      .catch((e: unknown) => e)
    expect(failed).toEqual(new Error('down'))
    expect(cache.get('k')?.value).toBe('v2')
    // A key whose only fetch failed holds nothing.
    await cache.fetch('never', () => Promise.reject(new Error('down'))).catch(() => undefined)
    expect(cache.get('never')).toBeUndefined()
    expect(cache.size).toBe(1)
    expect(cache.delete('k')).toBe(true)
    expect(cache.delete('k')).toBe(false)
    expect(cache.size).toBe(0)
  })

  it('a shared fetch is cancelled only when every caller gave up', async () => {
    jest.useFakeTimers()
    const cache = new ComponentCache()
    let sharedSignal: AbortSignal | undefined
    const fetch = (signal: AbortSignal) => {
      sharedSignal = signal
      return new Promise<string>((resolve) => setTimeout(() => resolve('v'), 100))
    }
    const a = new AbortController()
    const b = new AbortController()
    const first = cache.dedupe('k', fetch, a.signal).catch((e: unknown) => e)
    const second = cache.dedupe('k', fetch, b.signal)
    a.abort(new Error('a gave up'))
    expect(await first).toEqual(new Error('a gave up'))
    expect(sharedSignal?.aborted).toBe(false)
    await jest.advanceTimersByTimeAsync(100)
    expect(await second).toBe('v')
    const c = new AbortController()
    const third = cache.dedupe('k2', fetch, c.signal).catch((e: unknown) => e)
    c.abort(new Error('c gave up'))
    await third
    expect(sharedSignal?.aborted).toBe(true)
  })

  it('is bounded: the least recently used entry goes first', () => {
    const cache = new ComponentCache({ maxEntries: 2 })
    cache.set('a', 1, 60)
    cache.set('b', 2, 60)
    cache.get('a')
    cache.set('c', 3, 60)
    expect([cache.get('a')?.value, cache.get('b'), cache.get('c')?.value]).toEqual([1, undefined, 3])
    expect(cache.size).toBe(2)
    expect(() => new ComponentCache({ maxEntries: 0 })).toThrow(RangeError)
  })

  it("fallbackTo: 'cache' serves the last good value when the source fails after the ttl", async () => {
    jest.useFakeTimers()
    class Resilient {
      @Component({ fetchFrom: 'mem', key: 'rate', ttl: 10, fallbackTo: 'cache', fallback: 0 }) rate!: number
      @Component({ fetchFrom: 'mem', key: 'strict', ttl: 10 }) strict!: number
    }
    const cache = new ComponentCache()
    const source = memorySource('mem', { rate: '7', strict: '1' })
    await resolve(Resilient, { sources: [source], cache })
    jest.advanceTimersByTime(11_000)
    source.behaviour = { failures: { rate: down('rate'), strict: down('strict') } }
    const error = (await resolve(Resilient, { sources: [source], cache }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(error.errors.map((e) => e.property)).toEqual(['strict'])
    expect((error.instance as Resilient).rate).toBe(7)
    expect(explain(error.instance as object).rate).toMatchObject({
      origin: 'cache',
      reason: 'mem: unavailable while reading "rate"',
    })
    cache.clear()
    const fresh = (await resolve(Resilient, { sources: [source], cache }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(explain(fresh.instance as object).rate).toMatchObject({ origin: 'fallback', value: 0 })
  })

  it("a custom cache whose get() throws under fallbackTo: 'cache' is one more failure, not a hang", async () => {
    class Cached {
      @Component({ fetchFrom: 'mem', key: 'rate', fallbackTo: 'cache', fallback: 0 }) rate!: number
      @Component({ fetchFrom: 'mem', key: 'strict', fallbackTo: 'cache' }) strict!: number
    }
    const real = new ComponentCache()
    const cacheDown = new Error('cache down')
    const cache: ComponentValueCache = {
      get: () => {
        throw cacheDown
      },
      set: (key, value, ttl) => real.set(key, value, ttl),
      fetch: (key, fetch, options) => real.fetch(key, fetch, options),
      dedupe: (key, fetch, signal) => real.dedupe(key, fetch, signal),
      delete: (key) => real.delete(key),
      clear: () => real.clear(),
    }
    const source = memorySource('mem', {}, { failures: { rate: down('rate'), strict: down('strict') } })
    const error = (await resolve(Cached, { sources: [source], cache }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    // The fallback chain goes on past the cache: `rate` takes its fallback, naming both failures.
    expect((error.instance as Cached).rate).toBe(0)
    expect(explain(error.instance as object).rate).toMatchObject({
      origin: 'fallback',
      reason: 'mem: unavailable while reading "rate"; the cache failed too: cache down',
    })
    // `strict` has nothing after the cache: its error holds the source's failure and the cache's.
    expect(error.errors.map((e) => e.property)).toEqual(['strict'])
    const cause = error.errors[0]?.cause
    expect(cause).toBeInstanceOf(AggregateError)
    expect((cause as AggregateError).errors).toEqual([down('strict'), cacheDown])
  })
})
