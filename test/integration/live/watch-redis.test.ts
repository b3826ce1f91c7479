import { Component, redisSource, watch } from 'tributary'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis } from '../../support/services'
import { lastIs, logUpdates } from './live-log'

describeWithRedis('watch() on Redis', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await createTestRedis('tributary_watch')
  })
  afterAll(() => redis.cleanup())

  it('a string and a hash field: changes, a deletion with fallback, a return', async () => {
    const { client, prefix } = redis
    await client.set(`${prefix}theme`, 'dark')
    await client.hset(`${prefix}limits`, 'rps', '10')
    // redisSource's watcher uses keyspace notifications when the server publishes them, else polls
    const sources = [redisSource(client, { prefix })]
    class RedisConfig {
      @Component({ fetchFrom: 'redis', key: 'theme', fallback: 'light', pollInterval: 20 }) theme!: string
      @Component({ fetchFrom: 'redis', key: 'limits', field: 'rps', pollInterval: 20 }) rps!: number
    }
    const live = await watch(RedisConfig, { sources })
    const log = logUpdates(live)
    try {
      await client.hset(`${prefix}limits`, 'rps', '25')
      await log.until(lastIs('updated rps 10→25'))
      await client.set(`${prefix}theme`, 'solarized')
      await log.until(lastIs('updated theme "dark"→"solarized"'))
      await client.del(`${prefix}theme`)
      await log.until(lastIs('removed theme "solarized"→"light"'))
      await client.set(`${prefix}theme`, 'dark')
      await log.until(lastIs('updated theme "light"→"dark"'))
    } finally {
      await live.stop()
    }
    expect(live.current).toMatchObject({ theme: 'dark', rps: 25 })
  })
})
