/**
 * The query store with its L2 and bus on a Redis of the test's own, killed and started again:
 * reads keep working on L1 and the fetcher, the outage is reported once, L2 is used again after.
 */
import Redis from 'ioredis'
import { QueryStore, isL2UnavailableError, redisBus, redisCache } from '../../../src'
import { describeWithRedisServer, ownRedis, type OwnRedis } from '../../support/own-redis'

describeWithRedisServer('QueryStore L2 outage', () => {
  let server: OwnRedis
  beforeAll(async () => {
    server = await ownRedis()
    await server.start()
  })
  afterAll(() => server.kill())

  it('serves from fetchers while Redis is down, reports once, resumes when it is back', async () => {
    const reports: unknown[] = []
    const client = new Redis({
      port: server.port,
      host: '127.0.0.1',
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
    })
    client.on('error', () => undefined)
    const store = new QueryStore({
      l2: redisCache(client, { prefix: 'outage:', commandTimeout: 300 }),
      bus: redisBus(client, { prefix: 'outage:', commandTimeout: 300 }),
      outageRetry: 100,
      onError: (error) => reports.push(error),
    })
    let calls = 0
    const fetcher = async (): Promise<number> => ++calls
    try {
      await expect(store.fetch(['a'], fetcher)).resolves.toBe(1)
      await server.kill()
      await expect(store.fetch(['b'], fetcher)).resolves.toBe(2)
      await expect(store.fetch(['c'], fetcher)).resolves.toBe(3)
      await new Promise((resolve) => setTimeout(resolve, 150)) // past outageRetry: L2 is tried again, still down
      await expect(store.fetch(['d'], fetcher)).resolves.toBe(4)
      const outages = reports.filter(isL2UnavailableError)
      expect(outages.filter((error) => error.tier === 'l2')).toHaveLength(1)
      await server.start()
      for (let i = 0; client.status !== 'ready' && i < 200; i++)
        await new Promise((resolve) => setTimeout(resolve, 20))
      await new Promise((resolve) => setTimeout(resolve, 150))
      await expect(store.fetch(['e'], fetcher, { staleTime: 60_000 })).resolves.toBe(5)
      expect(await client.exists('outage:v:["e"]')).toBe(1) // written to L2 again
      await server.kill() // a second outage, after a success, is reported again
      await expect(store.fetch(['f'], fetcher)).resolves.toBe(6)
      expect(reports.filter(isL2UnavailableError).filter((error) => error.tier === 'l2')).toHaveLength(2)
    } finally {
      store.close()
      client.disconnect()
    }
  }, 30_000)
})
