import Redis from 'ioredis'
import {
  Component,
  explain,
  isSourceError,
  isSourceNotFoundError,
  isSourceUnavailableError,
  redisSource,
  resolve,
  type ComponentSource,
} from 'tributary'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis } from '../../support/services'
import { context, request } from './request'

describeWithRedis('redisSource', () => {
  let redis: TestRedis
  let source: ComponentSource

  beforeAll(async () => {
    redis = await createTestRedis('tributary_redis_source')
    const { client, prefix } = redis
    await client.set(`${prefix}app:port`, '6380')
    await client.set(`${prefix}app:doc`, JSON.stringify({ db: { host: 'db.internal' }, tags: ['a', 'b'] }))
    await client.set(`${prefix}app:plain`, 'hunter2')
    await client.hset(`${prefix}app:settings`, { theme: 'dark', rps: '25', beta: 'yes' })
    await client.rpush(`${prefix}app:list`, 'x', 'y')
    source = redisSource(client, { prefix })
  })
  afterAll(() => redis.cleanup())

  it('is named redis (or as told) and applies fields itself', () => {
    expect(source.name).toBe('redis')
    expect(redisSource(redis.client, { name: 'cache' }).name).toBe('cache')
    expect(source.appliesField).toBe(true)
  })

  it('reads a string with GET, by key or by property name', async () => {
    expect(await source.fetch(request({ key: 'app:port' }), context())).toBe('6380')
    expect(await source.fetch(request({ property: 'app:port' }), context())).toBe('6380')
  })

  it('reads one hash field with HGET, or the whole hash with HGETALL', async () => {
    expect(await source.fetch(request({ key: 'app:settings', field: 'theme' }), context())).toBe('dark')
    expect(await source.fetch(request({ key: 'app:settings' }), context())).toEqual({
      theme: 'dark',
      rps: '25',
      beta: 'yes',
    })
  })

  it('picks a dotted field from a JSON string', async () => {
    expect(await source.fetch(request({ key: 'app:doc', field: 'db.host' }), context())).toBe('db.internal')
    expect(await source.fetch(request({ key: 'app:doc', field: 'tags.1' }), context())).toBe('b')
  })

  it('a missing key, hash field or JSON field is a SourceNotFoundError naming it', async () => {
    const key = await source.fetch(request({ key: 'app:nope' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(key)).toBe(true)
    expect(key).toMatchObject({ source: 'redis', key: `${redis.prefix}app:nope` })
    expect((key as Error).message).toBe(`redis: key ${redis.prefix}app:nope not found`)
    const missingKeyWithField = await source
      .fetch(request({ key: 'app:nope', field: 'theme' }), context())
      .catch((e: unknown) => e)
    expect((missingKeyWithField as Error).message).toBe(`redis: key ${redis.prefix}app:nope not found`)
    const field = await source
      .fetch(request({ key: 'app:settings', field: 'font' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(field)).toBe(true)
    expect((field as Error).message).toBe(`redis: field "font" not found in hash ${redis.prefix}app:settings`)
    const jsonField = await source
      .fetch(request({ key: 'app:doc', field: 'db.port' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(jsonField)).toBe(true)
  })

  it('a field of a string that is not JSON, or a key of another type, is a SourceError without the value', async () => {
    const plain = await source
      .fetch(request({ key: 'app:plain', field: 'x' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(plain)).toBe(true)
    expect((plain as Error).message).toBe(
      `redis: key ${redis.prefix}app:plain holds a string that is not JSON, so field "x" cannot be read`,
    )
    expect((plain as Error).message).not.toContain('hunter2')
    const list = await source.fetch(request({ key: 'app:list' }), context()).catch((e: unknown) => e)
    expect(isSourceError(list)).toBe(true)
    expect((list as Error).message).toMatch(
      new RegExp(`^redis: reading ${redis.prefix}app:list failed: WRONGTYPE`),
    )
  })

  it("adds its prefix after the client's keyPrefix", async () => {
    const prefixed = new Redis(redis.client.options.port ?? 6379, '127.0.0.1', {
      keyPrefix: redis.prefix,
      lazyConnect: true,
    })
    try {
      await prefixed.connect()
      expect(await redisSource(prefixed, { prefix: 'app:' }).fetch(request({ key: 'port' }), context())).toBe(
        '6380',
      )
    } finally {
      await prefixed.quit()
    }
  })

  it('a client that cannot reach the server is a SourceUnavailableError', async () => {
    // Not connected and not queueing: what ioredis answers while the server is down.
    const offline = new Redis(1, '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false })
    const error = await redisSource(offline)
      .fetch(request({ key: 'k' }), context())
      .catch((e: unknown) => e)
    offline.disconnect()
    expect(isSourceUnavailableError(error)).toBe(true)
    expect((error as Error).message).toMatch(
      /^redis: Redis unavailable while reading k: Stream isn't writeable/,
    )
  })

  it('rejects with the reason when the signal has aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(source.fetch(request({ key: 'app:port' }), context(controller.signal))).rejects.toThrow(
      'stop',
    )
  })

  it('resolves a class from strings and hash fields, with coercion and a ttl cache', async () => {
    class Settings {
      @Component({ fetchFrom: 'redis', key: 'app:port' }) port!: number
      @Component({ fetchFrom: 'redis', key: 'app:settings', field: 'rps', ttl: 60 }) rps!: number
      @Component({ fetchFrom: 'redis', key: 'app:settings', field: 'beta' }) beta!: boolean
      @Component({ fetchFrom: 'redis', key: 'app:settings' }) all!: Record<string, string>
    }
    const first = await resolve(Settings, { sources: [source] })
    expect(first).toMatchObject({ port: 6380, rps: 25, beta: true, all: { theme: 'dark' } })
    await redis.client.hset(`${redis.prefix}app:settings`, 'rps', '99')
    const second = await resolve(Settings, { sources: [source] })
    expect(second.rps).toBe(25)
    expect(explain(second).rps).toMatchObject({ origin: 'cache', attempts: 0 })
    expect(second.all.rps).toBe('99')
  })
})
