// Issue 15, defect 3: `notify-keyspace-events` set with CONFIG SET is lost when Redis restarts.
// The watcher checks it again on every reconnect: polling at `pollInterval` when it is off, back
// to notifications when a later restart turns it on. A server of the test's own on a free port.
import Redis from 'ioredis'
import { Component, watch } from 'tributary'
import { redisSource } from '../../../src/sources/redis/redis-source'
import { describeWithRedisServer, ownRedis, type OwnRedis } from '../../support/own-redis'
import { logUpdates } from './live-log'
import { isValue, recorder, request, sleep, type Reported } from './recorder'

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describeWithRedisServer('redis watcher across a restart of Redis (issue 15, defect 3)', () => {
  let server: OwnRedis
  const clients: Redis[] = []
  const watchers: Array<{ stop(): Promise<void> }> = []
  beforeAll(async () => {
    server = await ownRedis()
    await server.start()
  })
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()))
    for (const client of clients.splice(0)) client.disconnect()
    await sleep(1)
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
  const subscribers = async (admin: Redis, key: string): Promise<number> => {
    const [, count] = (await admin.pubsub('NUMSUB', `__keyspace@0__:${key}`)) as [string, number]
    return Number(count)
  }
  /** Runs `command` once the admin connection is back after a restart. */
  const whenUp = async <T>(command: () => Promise<T>): Promise<T> => {
    for (let tries = 0; ; tries++) {
      try {
        return await command()
      } catch (error) {
        if (tries > 200) throw error
        await sleep(20)
      }
    }
  }

  it('notifications lost in a restart: polled at pollInterval; a restart with them on subscribes again', async () => {
    const admin = connect()
    await admin.config('SET', 'notify-keyspace-events', 'KA')
    await admin.set('k', 'a')
    const rec = recorder({ pollInterval: 50 })
    const watcher = redisSource(connect()).watch(request('k'), rec.options)
    watchers.push(watcher)
    await rec.until(isValue('a'))
    await waitFor(async () => (await subscribers(admin, 'k')) === 1)
    await admin.set('k', 'b')
    await rec.until(isValue('b'))

    // Restarted without notifications (CONFIG SET is not persisted).
    await server.kill()
    await rec.until((events) => events.at(-1)?.kind === 'error')
    await server.start()
    await whenUp(() => admin.set('k', 'c'))
    await rec.until(isValue('c'))
    await waitFor(async () => (await subscribers(admin, 'k')) === 0)
    await admin.set('k', 'd')
    await rec.until(isValue('d'))

    // Restarted with notifications on from the start: the watcher subscribes again.
    await server.kill()
    await rec.until((events) => events.at(-1)?.kind === 'error')
    await server.start(['--notify-keyspace-events', 'KA'])
    await whenUp(() => admin.ping())
    await waitFor(async () => (await subscribers(admin, 'k')) === 1)
    await admin.set('k', 'e')
    await rec.until(isValue('e'))
    await watcher.stop()
    expect(await subscribers(admin, 'k')).toBe(0)
    expect(rec.values()).toEqual(['a', 'b', 'c', 'd', 'e'])
    // One error per outage.
    expect(rec.events.filter((e: Reported) => e.kind === 'error')).toHaveLength(2)
  })

  // Issue 16, defect 10: a restarted server that lost the key (no persistence) is an outage,
  // not a deletion: one error, no "the key was deleted", and the next value comes through.
  it('keyspace mode: a restart that loses the key is one error and no deletion', async () => {
    const admin = connect()
    await admin.set('lost', 'a')
    await admin.config('SET', 'notify-keyspace-events', 'KA')
    class Lost {
      @Component({ fetchFrom: 'redis', key: 'lost' }) value!: string
    }
    const live = await watch(Lost, {
      sources: [redisSource(connect())],
      backoff: { initialDelay: 20, maxDelay: 200 },
    })
    const log = logUpdates(live)
    try {
      await waitFor(async () => (await subscribers(admin, 'lost')) === 1)
      await server.kill()
      await log.until((updates) => updates.some((u) => u.kind === 'error'))
      await server.start(['--notify-keyspace-events', 'KA'])
      // The watcher is subscribed again and has read the (missing) key on the new server.
      await waitFor(async () => (await whenUp(() => subscribers(admin, 'lost'))) === 1)
      await waitFor(async () => /cmdstat_get:calls=[1-9]/.test(await admin.info('commandstats')))
      await sleep(100)
      await admin.set('lost', 'b')
      await log.until((updates) => updates.some((u) => u.kind !== 'error'))
      expect(log.lines()).toEqual(['error value', 'updated value "a"→"b"'])
      expect(live.current.value).toBe('b')
      // A real deletion after the restart is still one.
      await admin.del('lost')
      await log.until((updates) => updates.length === 3)
      expect(log.updates[2]?.kind).toBe('error')
      expect(String((log.updates[2] as { error?: Error }).error?.message)).toMatch(/deleted/)
    } finally {
      await live.stop()
    }
  })

  // Defect 10's other half: the restarted server lost both the key and the CONFIG SET that
  // turned notifications on, so the watcher falls back to polling; the first poll's missing key
  // is still the outage's, not a deletion.
  it('keyspace mode: a restart that loses the key and the notifications is one error, then polled', async () => {
    const admin = connect()
    await admin.set('gone', 'a')
    await admin.config('SET', 'notify-keyspace-events', 'KA')
    class Gone {
      @Component({ fetchFrom: 'redis', key: 'gone', pollInterval: 30 }) value!: string
    }
    const live = await watch(Gone, {
      sources: [redisSource(connect())],
      backoff: { initialDelay: 20, maxDelay: 200 },
    })
    const log = logUpdates(live)
    try {
      await waitFor(async () => (await subscribers(admin, 'gone')) === 1)
      await server.kill()
      await log.until((updates) => updates.some((u) => u.kind === 'error'))
      await server.start()
      // Polling now: GETs arrive on the new server and nobody subscribes.
      await waitFor(async () =>
        /cmdstat_get:calls=([3-9]|\d\d)/.test(await whenUp(() => admin.info('commandstats'))),
      )
      expect(await subscribers(admin, 'gone')).toBe(0)
      await admin.set('gone', 'b')
      await log.until((updates) => updates.some((u) => u.kind !== 'error'))
      expect(log.lines()).toEqual(['error value', 'updated value "a"→"b"'])
      // A deletion seen by a later poll is one.
      await admin.del('gone')
      await log.until((updates) => updates.length === 3)
      expect(String((log.updates[2] as { error?: Error }).error?.message)).toMatch(/deleted/)
    } finally {
      await live.stop()
    }
  })
})
