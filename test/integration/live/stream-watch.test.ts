// Streaming components kept live with watch(): every message once and in order, and after a
// reconnect (the connection killed, the server restarted) the watcher resumes from the last
// message seen — nothing lost, nothing repeated, one error per outage.
import Redis from 'ioredis'
import { Component, redisStreamSource, watch, type ComponentUpdate } from 'tributary'
import { REDIS_STREAM_CONNECTION_NAME } from '../../../src/sources/redis-stream/redis-stream-watcher'
import { describeWithRedisServer, ownRedis, type OwnRedis } from '../../support/own-redis'
import { logUpdates, sleep } from './live-log'

/** The `newValue`s of the value updates, in order. */
const values = (updates: readonly ComponentUpdate[]): unknown[] =>
  updates.flatMap((u) => (u.kind === 'updated' || u.kind === 'added' ? [u.newValue] : []))
const errors = (updates: readonly ComponentUpdate[]): ComponentUpdate[] =>
  updates.filter((u) => u.kind === 'error')

/** Runs `command` until it succeeds (the server may be coming back). */
async function whenUp<T>(command: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await command()
    } catch (error) {
      if (tries > 250) throw error
      await sleep(20)
    }
  }
}

describeWithRedisServer('watch() on a Redis Stream: resume after a reconnect', () => {
  let server: OwnRedis
  const clients: Redis[] = []
  beforeAll(async () => {
    server = await ownRedis()
    await server.start()
  })
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect()
  })
  afterAll(() => server?.kill())

  const connect = (): Redis => {
    const client = new Redis({
      host: '127.0.0.1',
      port: server.port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 20,
      disconnectTimeout: 0,
    })
    client.on('error', () => undefined)
    clients.push(client)
    return client
  }
  /** Kills the watcher's reading connection (CLIENT KILL by its id). */
  const killReader = async (admin: Redis): Promise<void> => {
    const list = String(await admin.client('LIST'))
    const ids = [...list.matchAll(/^id=(\d+) .*name=(\S*)/gm)]
      .filter((m) => m[2] === REDIS_STREAM_CONNECTION_NAME)
      .map((m) => m[1] as string)
    expect(ids).toHaveLength(1)
    await admin.client('KILL', 'ID', ids[0] as string)
  }

  it('each entry once, in order, through a killed connection and a restart of Redis', async () => {
    const admin = connect()
    const key = `stream-watch:${process.pid}:${Date.now()}`
    await admin.xadd(key, '*', 'v', 'm0')
    class Feed {
      @Component({ fetchFrom: 'redis-stream', key, field: 'v' }) latest!: string
    }
    const live = await watch(Feed, {
      sources: [redisStreamSource(connect(), { blockTimeout: 1_000 })],
      backoff: { initialDelay: 300, maxDelay: 300 },
    })
    const log = logUpdates(live)
    try {
      expect(live.current.latest).toBe('m0')
      await sleep(50) // the watcher's first read
      for (const v of ['m1', 'm2', 'm3']) await admin.xadd(key, '*', 'v', v)
      await log.until((u) => values(u).length === 3)

      // The connection killed: entries added during the backoff come after it, once.
      await killReader(admin)
      await log.until((u) => errors(u).length === 1)
      for (const v of ['m4', 'm5']) await admin.xadd(key, '*', 'v', v)
      await log.until((u) => values(u).length === 5)
      await admin.xadd(key, '*', 'v', 'm6')
      await log.until((u) => values(u).length === 6)

      // Redis restarted (without persistence: the stream starts again, with greater ids).
      await server.kill()
      await log.until((u) => errors(u).length === 2)
      await server.start()
      for (const v of ['m7', 'm8']) await whenUp(() => admin.xadd(key, '*', 'v', v))
      await log.until((u) => values(u).length === 8)
      await admin.del(key)
    } finally {
      await live.stop()
    }
    expect(values(log.updates)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
    expect(errors(log.updates)).toHaveLength(2)
    const error = errors(log.updates)[0]
    expect(error?.kind === 'error' && error.error.message).toContain(key)
    expect(live.current.latest).toBe('m8')
  })
})
