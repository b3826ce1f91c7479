import {
  SourceNotFoundError,
  SourceUnavailableError,
  backoffDelay,
  canWatch,
  createWatcherScope,
  consulSource,
  databaseSource,
  envSource,
  fileSource,
  httpSource,
  pollingWatcher,
  redisSource,
  vaultSource,
  type ComponentSource,
  type ConsulClientLike,
  type RedisClientLike,
} from 'tributary'
import { watchConsul } from '../../../src/sources/consul/consul-watcher'
import { freshnessOf } from '../../../src/sources/http/http-watcher'
import { keyspaceNotificationsCover } from '../../../src/sources/redis/redis-watcher'
import { vaultRereadDelay } from '../../../src/sources/vault/vault-watcher'
import type { EventEmitter } from 'node:events'
import type { Kysely } from 'kysely'

describe('source watch helpers', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('backoff is exponential and capped', () => {
    expect([1, 2, 3, 4, 20].map((n) => backoffDelay(n, { initialDelay: 100, maxDelay: 500 }))).toEqual([
      100, 200, 400, 500, 500,
    ])
  })

  it('the polling watcher reports changes, a deletion, one error per outage and the recovery', async () => {
    let state: { value?: string; down?: boolean } = { value: 'a' }
    let reads = 0
    const source: ComponentSource = {
      name: 'memory',
      async fetch() {
        reads += 1
        if (state.down) throw new SourceUnavailableError({ source: 'memory', key: 'k' })
        if (state.value === undefined) throw new SourceNotFoundError({ source: 'memory', key: 'k' })
        return state.value
      },
    }
    expect(canWatch(source)).toBe(false)
    const events: string[] = []
    const controller = new AbortController()
    const watcher = pollingWatcher(source)(
      { className: 'C', property: 'p', key: 'k', secret: false },
      {
        signal: controller.signal,
        pollInterval: 1_000,
        backoff: { initialDelay: 100, maxDelay: 400 },
        onChange: (v) => events.push(`value:${String(v)}`),
        onRemove: () => events.push('removed'),
        onError: (e) => events.push(`error:${(e as Error).name}`),
      },
    )
    await jest.advanceTimersByTimeAsync(0)
    expect(events).toEqual(['value:a'])
    await jest.advanceTimersByTimeAsync(1_000)
    expect(events).toEqual(['value:a'])
    state = { value: 'b' }
    await jest.advanceTimersByTimeAsync(1_000)
    state = {}
    await jest.advanceTimersByTimeAsync(1_000)
    state = { down: true }
    const before = reads
    await jest.advanceTimersByTimeAsync(5_000)
    // 100, 200, 400, 400… backoff: about a dozen reads in 5 s, not thousands; one error.
    expect(reads - before).toBeLessThan(16)
    state = { value: 'c' }
    await jest.advanceTimersByTimeAsync(1_000)
    expect(events).toEqual(['value:a', 'value:b', 'removed', 'error:SourceUnavailableError', 'value:c'])
    await watcher.stop()
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('the built-in sources can watch', () => {
  it('every factory returns a WatchableSource', () => {
    const redis: RedisClientLike = {
      get: async () => null,
      hget: async () => null,
      hgetall: async () => ({}),
      exists: async () => 0,
    }
    const sources = [
      envSource(),
      fileSource(),
      httpSource(),
      databaseSource({} as Kysely<unknown>),
      consulSource({ kv: { get: async () => undefined } }),
      vaultSource({ read: async () => ({}) }),
      redisSource(redis),
    ]
    expect(sources.map((source) => [source.name, canWatch(source)])).toEqual([
      ['env', true],
      ['file', true],
      ['http', true],
      ['database', true],
      ['consul', true],
      ['vault', true],
      ['redis', true],
    ])
  })
})

describe('vaultRereadDelay', () => {
  it('KV v2 (no lease) waits pollInterval', () => {
    expect(vaultRereadDelay({ lease_id: '', lease_duration: 0, data: {} }, 60_000)).toBe(60_000)
  })
  it('a KV v1 refresh hint shortens pollInterval but never lengthens it', () => {
    expect(vaultRereadDelay({ lease_id: '', lease_duration: 30 }, 60_000)).toBe(27_000)
    expect(vaultRereadDelay({ lease_id: '', lease_duration: 2_764_800 }, 60_000)).toBe(60_000)
  })
  it('a real lease is read again at 90% of it, whatever pollInterval says', () => {
    expect(vaultRereadDelay({ lease_id: 'database/creds/app/x', lease_duration: 3_600 }, 1_000)).toBe(
      3_240_000,
    )
    expect(vaultRereadDelay({ lease_id: 'database/creds/app/x', lease_duration: 10 }, 60_000)).toBe(9_000)
  })
  it('never below 100 ms, and tolerates a body without an envelope', () => {
    expect(vaultRereadDelay({ lease_id: 'l', lease_duration: 0.01 }, 60_000)).toBe(100)
    expect(vaultRereadDelay(undefined, 0)).toBe(100)
    expect(vaultRereadDelay('not an envelope', 5_000)).toBe(5_000)
  })
})

describe('freshnessOf', () => {
  const fresh = (headers: Record<string, string>) => freshnessOf(new Headers(headers))
  it('max-age less Age, in ms', () => {
    expect(fresh({ 'cache-control': 'public, max-age=60' })).toBe(60_000)
    expect(fresh({ 'cache-control': 'max-age=60', age: '15' })).toBe(45_000)
    expect(fresh({ 'cache-control': 'max-age=10', age: '30' })).toBe(0)
  })
  it('nothing to honour without max-age, or with no-store / no-cache', () => {
    expect(fresh({})).toBe(0)
    expect(fresh({ 'cache-control': 'no-store' })).toBe(0)
    expect(fresh({ 'cache-control': 'no-cache, max-age=60' })).toBe(0)
    expect(fresh({ 'cache-control': 's-maxage=60' })).toBe(0)
  })
})

describe('keyspaceNotificationsCover', () => {
  it('needs keyspace events for generic, string, hash and expiry classes', () => {
    expect(keyspaceNotificationsCover('KA')).toBe(true)
    expect(keyspaceNotificationsCover('AKE')).toBe(true)
    expect(keyspaceNotificationsCover('K$ghx')).toBe(true)
    expect(keyspaceNotificationsCover('')).toBe(false)
    expect(keyspaceNotificationsCover('EA')).toBe(false)
    expect(keyspaceNotificationsCover('K$g')).toBe(false)
  })
})

describe('watchConsul', () => {
  it('an X-Consul-Index of 0 is taken as 1: the value is reported and the next read blocks', async () => {
    const calls: Array<{ index?: string; ctx: EventEmitter }> = []
    const client = {
      kv: {
        get: (options: { index?: string; ctx: EventEmitter }) => {
          calls.push(options)
          if (calls.length === 1) {
            return Promise.resolve([
              { headers: { 'x-consul-index': '0' } },
              { Key: 'k', Value: 'v', ModifyIndex: 0 },
            ])
          }
          // Held like a blocking read until the watcher cancels it.
          return new Promise((_, reject) => options.ctx.once('cancel', () => reject(new Error('cancelled'))))
        },
      },
    } as unknown as ConsulClientLike
    const values: unknown[] = []
    const watcher = watchConsul(
      { className: 'C', property: 'p', key: 'k', secret: false },
      {
        signal: new AbortController().signal,
        onChange: (v) => values.push(v),
        onRemove: () => values.push('removed'),
        onError: (e) => values.push(e),
      },
      { name: 'consul', client: () => client },
    )
    while (calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
    await watcher.stop()
    expect(values).toEqual(['v'])
    expect(calls[1]?.index).toBe('1')
  })
})

describe('WatcherScope.coalesce', () => {
  it('runs once more after the run in flight, however many triggers came, and never after stop()', async () => {
    const scope = createWatcherScope({
      signal: new AbortController().signal,
      onChange: () => undefined,
      onRemove: () => undefined,
      onError: () => undefined,
    })
    let runs = 0
    let release: () => void = () => undefined
    const trigger = scope.coalesce(async () => {
      runs += 1
      await new Promise<void>((resolve) => (release = resolve))
    })
    trigger()
    trigger()
    trigger()
    expect(runs).toBe(1)
    release()
    await new Promise((resolve) => setImmediate(resolve))
    expect(runs).toBe(2)
    const stopped = scope.watcher.stop()
    trigger()
    release()
    await stopped
    expect(runs).toBe(2)
  })
})
