import Redis from 'ioredis'
import {
  Component,
  isSourceError,
  isSourceNotFoundError,
  isSourceUnavailableError,
  redisStreamSource,
  resolve,
  type WatchableSource,
} from 'tributary'
import { recorder, request as watchRequest } from '../live/recorder'
import { freePort } from '../../support/own-redis'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis } from '../../support/services'
import { context, request } from './request'

describeWithRedis('redisStreamSource', () => {
  let redis: TestRedis
  let source: WatchableSource

  beforeAll(async () => {
    redis = await createTestRedis('tributary_redis_stream_source')
    const { client, prefix } = redis
    await client.xadd(`${prefix}flags`, '*', 'theme', 'light', 'rps', '10')
    await client.xadd(`${prefix}flags`, '*', 'theme', 'dark', 'rps', '25', 'doc', '{"db":{"port":5432}}')
    await client.set(`${prefix}plain`, 'x')
    source = redisStreamSource(client, { prefix })
  })
  afterAll(() => redis.cleanup())

  it('is named redis-stream (or as told) and applies fields itself', () => {
    expect(source.name).toBe('redis-stream')
    expect(redisStreamSource(redis.client, { name: 'feed' }).name).toBe('feed')
    expect(source.appliesField).toBe(true)
  })

  it('refuses a client that is not one and a wrong option, naming it', () => {
    expect(() => redisStreamSource({} as never)).toThrow(
      'redisStreamSource(client, options): client must be an ioredis client (xrevrange, duplicate)',
    )
    expect(() => redisStreamSource(redis.client, { blockTimeout: 0 })).toThrow(
      'redisStreamSource(client, options): option blockTimeout must be an integer >= 1, got 0',
    )
    expect(() => redisStreamSource(redis.client, { prefx: 'a:' } as never)).toThrow(
      '(did you mean "prefix"?)',
    )
  })

  it('reads the latest entry: its fields as an object, one field, or a path inside a JSON field', async () => {
    expect(await source.fetch(request({ key: 'flags' }), context())).toEqual({
      theme: 'dark',
      rps: '25',
      doc: '{"db":{"port":5432}}',
    })
    expect(await source.fetch(request({ property: 'flags', field: 'theme' }), context())).toBe('dark')
    expect(await source.fetch(request({ key: 'flags', field: 'doc.db.port' }), context())).toBe(5432)
  })

  it('resolve() coerces the latest entry to the property types', async () => {
    const { prefix } = redis
    class Flags {
      @Component({ fetchFrom: 'redis-stream', key: `${prefix}flags`, field: 'rps' }) rps!: number
      @Component({ fetchFrom: 'redis-stream', key: `${prefix}flags`, field: 'theme' }) theme!: string
      @Component({ fetchFrom: 'redis-stream', key: `${prefix}missing`, fallback: 'none' }) other!: string
    }
    const config = await resolve(Flags, { sources: [redisStreamSource(redis.client)] })
    expect(config).toMatchObject({ rps: 25, theme: 'dark', other: 'none' })
  })

  it('a missing or empty stream, or a field the latest entry lacks, is a SourceNotFoundError naming it', async () => {
    const { client, prefix } = redis
    const missing = await source.fetch(request({ key: 'nope' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    expect(missing).toMatchObject({ source: 'redis-stream', key: `${prefix}nope` })
    expect((missing as Error).message).toBe(`redis-stream: stream ${prefix}nope is missing or empty`)
    const id = await client.xadd(`${prefix}emptied`, '*', 'a', '1')
    await client.xdel(`${prefix}emptied`, id as string)
    expect(
      isSourceNotFoundError(await source.fetch(request({ key: 'emptied' }), context()).catch((e) => e)),
    ).toBe(true)
    const field = await source
      .fetch(request({ key: 'flags', field: 'font' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(field)).toBe(true)
    expect((field as Error).message).toMatch(
      /^redis-stream: field "font" not found in the latest entry \(\d+-\d+\) of stream /,
    )
  })

  it('a key of another type, or a path into a field that is not JSON, is a SourceError without the value', async () => {
    const wrong = await source.fetch(request({ key: 'plain' }), context()).catch((e: unknown) => e)
    expect(isSourceError(wrong) && !isSourceNotFoundError(wrong)).toBe(true)
    expect((wrong as Error).message).toBe(`redis-stream: key ${redis.prefix}plain is not a stream`)
    const notJson = await source.fetch(request({ key: 'flags', field: 'theme.x' }), context()).catch((e) => e)
    expect(isSourceError(notJson)).toBe(true)
    expect((notJson as Error).message).not.toContain('dark')
  })

  it('unreachable Redis is a SourceUnavailableError without the password', async () => {
    const port = await freePort()
    const down = new Redis({
      port,
      password: 's3cret-pw',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    down.on('error', () => undefined)
    try {
      const error = await redisStreamSource(down)
        .fetch(request({ key: 'flags' }), context())
        .catch((e: unknown) => e)
      expect(isSourceUnavailableError(error)).toBe(true)
      expect(error).toMatchObject({ source: 'redis-stream', key: 'flags' })
      expect(String(error)).not.toContain('s3cret-pw')
      expect(JSON.stringify((error as { cause?: unknown }).cause)).not.toContain('s3cret-pw')
    } finally {
      down.disconnect()
    }
  })

  it('an aborted signal rejects at once', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(source.fetch(request({ key: 'flags' }), context(controller.signal))).rejects.toThrow()
  })

  it('watch: the latest entry, then every entry added once and in order (a repeated value too)', async () => {
    const { client, prefix } = redis
    const key = `${prefix}watched`
    await client.xadd(key, '*', 'v', 'a')
    const rec = recorder()
    const watcher = source.watch(watchRequest('watched', { field: 'v' }), rec.options)
    try {
      await rec.until((events) => events.length === 1)
      for (const v of ['b', 'c', 'c', 'd']) await client.xadd(key, '*', 'v', v)
      await rec.until((events) => events.length === 5)
      // Several entries in one XREAD, each reported.
      await client.multi().xadd(key, '*', 'v', 'e').xadd(key, '*', 'v', 'f').exec()
      await rec.until((events) => events.length === 7)
    } finally {
      await watcher.stop()
    }
    expect(rec.values()).toEqual(['a', 'b', 'c', 'c', 'd', 'e', 'f'])
    expect(rec.events.every((e) => e.kind === 'value')).toBe(true)
  })

  it('watch: a missing stream is a removal, its first entries are values', async () => {
    const { client, prefix } = redis
    const rec = recorder()
    const watcher = source.watch(watchRequest('later'), rec.options)
    try {
      await rec.until((events) => events.length === 1)
      await client.xadd(`${prefix}later`, '*', 'x', '1')
      await client.xadd(`${prefix}later`, '*', 'x', '2')
      await rec.until((events) => events.length === 3)
    } finally {
      await watcher.stop()
    }
    expect(rec.events[0]).toEqual({ kind: 'removed' })
    expect(rec.values()).toEqual([{ x: '1' }, { x: '2' }])
  })

  it('watch right after a fetch reads on from the entry the fetch gave (none added in between is skipped)', async () => {
    const { client, prefix } = redis
    const key = `${prefix}handoff`
    await client.xadd(key, '*', 'v', 'a')
    const fresh = redisStreamSource(client, { prefix })
    expect(await fresh.fetch(request({ key: 'handoff', field: 'v' }), context())).toBe('a')
    await client.xadd(key, '*', 'v', 'b')
    await client.xadd(key, '*', 'v', 'c')
    const rec = recorder()
    const watcher = fresh.watch(watchRequest('handoff', { field: 'v' }), rec.options)
    try {
      await rec.until((events) => events.length === 2)
      await client.xadd(key, '*', 'v', 'd')
      await rec.until((events) => events.length === 3)
    } finally {
      await watcher.stop()
    }
    expect(rec.values()).toEqual(['b', 'c', 'd'])
  })
})
