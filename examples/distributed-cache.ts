/**
 * The query store with a shared cache: two stores (standing in for two processes) share a
 * Redis L2 and an invalidation bus. A value fetched by one is an L2 hit for the other; ten
 * concurrent misses across both run one fetcher (a Redis lease lock); `invalidateTags` on one
 * reaches the other; a failing fetcher is answered from the stale value within `grace`.
 * Needs Redis at TRIBUTARY_REDIS_URL (default redis://127.0.0.1:6379); without it, says so and exits 0.
 * Run: npx ts-node --transpile-only examples/distributed-cache.ts
 */
import Redis from 'ioredis'
import { QueryStore, redisBus, redisCache } from '../src'

const url = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function main(): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await probe.connect()
  } catch {
    console.log(`Redis is not reachable at ${url}; start it (redis-server --port 6379) to run this example.`)
    probe.disconnect()
    return
  }
  const prefix = `example-l2-${process.pid}:`
  const clients: Redis[] = []
  const make = (name: string): QueryStore => {
    const client = new Redis(url)
    clients.push(client)
    return new QueryStore({
      l2: redisCache(client, { prefix }),
      bus: redisBus(client, { prefix }),
      staleTime: 60_000,
      onError: (error) => console.log(`[${name}] reported: ${(error as Error).message}`),
    })
  }
  const a = make('a')
  const b = make('b')
  let calls = 0
  const loadUser = async (): Promise<{ id: number; name: string }> => {
    calls++
    await new Promise((resolve) => setTimeout(resolve, 50))
    return { id: 1, name: 'Ada' }
  }

  await a.fetch(['user', 1], loadUser, { tags: ['user:1'] })
  const fromL2 = await b.fetch(['user', 1], loadUser, { tags: ['user:1'] })
  console.log(`b read ${JSON.stringify(fromL2)} from L2; fetcher calls so far: ${calls}`)

  calls = 0
  const stores = [a, b, a, b, a, b, a, b, a, b]
  await Promise.all(stores.map((store) => store.fetch(['report', 'daily'], loadUser)))
  console.log(`10 concurrent misses across two stores: ${calls} fetcher call`)

  await a.invalidateTags(['user:1'])
  await new Promise((resolve) => setTimeout(resolve, 50))
  console.log(
    `after a.invalidateTags(['user:1']), b's entry is stale: ${b.getQuery(['user', 1])?.state.isStale}`,
  )

  await a.fetch(['rate'], async () => 1.25, { staleTime: 10, grace: 60_000 })
  await new Promise((resolve) => setTimeout(resolve, 20))
  const rate = await b.fetch(
    ['rate'],
    async () => {
      throw new Error('rates service down')
    },
    { staleTime: 10, grace: 60_000 },
  )
  console.log(`the rates fetcher failed; b answered the stale ${rate} within grace`)

  await a.invalidate([]) // deletes this example's keys from L2
  for (const store of [a, b]) store.close() // stops listening to the bus
  for (const client of [...clients, probe]) client.disconnect() // the clients are yours to close
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
