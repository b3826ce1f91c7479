/**
 * QueryStore.fetch against TanStack Query core's QueryClient.fetchQuery, side by side:
 * cache hits (fresh data, no request) and misses (a new key each time, instant fetcher).
 * Both are configured alike: staleTime 60 s for hits, gcTime/cacheTime 5 min.
 * Goal from issue 8: at least 2x TanStack's cache-hit throughput (ratio <= 0.5).
 */
import { compare, report } from './support/harness'
import { QueryStore } from '../src'

const HIT_OPS = 100_000
const MISS_OPS = 10_000
const KEYS = 1_000
const CACHE_TIME = 300_000

async function main(): Promise<void> {
  const { QueryClient } = await import('@tanstack/query-core')
  const client = new QueryClient({ defaultOptions: { queries: { gcTime: CACHE_TIME } } })
  client.mount()
  const store = new QueryStore({ cacheTime: CACHE_TIME })
  const instant = async (): Promise<number> => 1
  const keys = Array.from({ length: KEYS }, (_, i) => ['user', i, { active: true }] as const)

  for (const key of keys) {
    await store.fetch(key, instant, { staleTime: 60_000 })
    await client.fetchQuery({ queryKey: key, queryFn: instant, staleTime: 60_000 })
  }

  const hits = await compare(
    'cache hit (fetch, fresh, 1,000 keys)',
    {
      label: 'QueryStore.fetch',
      run: async () => {
        for (let i = 0; i < HIT_OPS; i++) await store.fetch(keys[i % KEYS]!, instant, { staleTime: 60_000 })
      },
    },
    {
      label: 'QueryClient.fetchQuery',
      run: async () => {
        for (let i = 0; i < HIT_OPS; i++) {
          await client.fetchQuery({ queryKey: keys[i % KEYS]!, queryFn: instant, staleTime: 60_000 })
        }
      },
    },
    { operationsPerRun: HIT_OPS, goal: '<= 0.5x (2x throughput)' },
  )

  let round = 0
  const misses = await compare(
    'cache miss (new key, instant fetcher)',
    {
      label: 'QueryStore.fetch',
      run: async () => {
        const r = ++round
        for (let i = 0; i < MISS_OPS; i++) await store.fetch(['miss', r, i], instant)
        store.remove(['miss'])
      },
    },
    {
      label: 'QueryClient.fetchQuery',
      run: async () => {
        const r = ++round
        for (let i = 0; i < MISS_OPS; i++)
          await client.fetchQuery({ queryKey: ['miss', r, i], queryFn: instant })
        client.removeQueries({ queryKey: ['miss'] })
      },
    },
    { operationsPerRun: MISS_OPS },
  )

  report('store', [hits, misses], {
    hitThroughputVsTanStack: 1 / hits.ratio,
    missThroughputVsTanStack: 1 / misses.ratio,
  })
  store.close()
  client.clear()
  client.unmount()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
