/**
 * Run by test/integration/store/distributed-processes.test.ts as a child process:
 * `store-worker.ts <redisUrl> <prefix> <mode> <lockLease>`. Waits until `<prefix>go` exists (counting itself in
 * `<prefix>ready` first),
 * then fetches ['hot'] through a QueryStore with a Redis L2; the fetcher counts its calls with
 * INCR `<prefix>calls`. Mode `hang`: the fetcher prints `fetching` and never answers (to be
 * killed). Prints one JSON line `{ value }` and exits.
 */
import Redis from 'ioredis'
import { QueryStore } from '../../src/store/query-store'
import { redisCache } from '../../src/store/distributed/redis-cache'
import { redisBus } from '../../src/store/distributed/redis-bus'

async function main(): Promise<void> {
  const [url, prefix, mode, lease] = process.argv.slice(2) as [string, string, string, string]
  const client = new Redis(url)
  const store = new QueryStore({
    l2: redisCache(client, { prefix }),
    bus: redisBus(client, { prefix }),
    lockLease: Number(lease),
    lockPoll: 10,
  })
  await client.incr(`${prefix}ready`)
  while ((await client.exists(`${prefix}go`)) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const value = await store.fetch(
    ['hot'],
    async () => {
      const call = await client.incr(`${prefix}calls`)
      if (mode === 'hang') {
        process.stdout.write('fetching\n')
        await new Promise(() => undefined)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
      return `fetched by pid ${process.pid} (call ${call})`
    },
    { staleTime: 5_000 },
  )
  process.stdout.write(JSON.stringify({ value }) + '\n')
  store.close()
  client.disconnect()
}

main().catch((error: unknown) => {
  process.stderr.write(String(error) + '\n')
  process.exit(1)
})
