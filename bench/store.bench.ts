/**
 * QueryStore.fetch against TanStack Query core's QueryClient.fetchQuery, side by side:
 * cache hits (fresh data, no request) and misses (a new key each time, instant fetcher
 * answering a small object). Both are configured alike: staleTime 60 s for hits, gcTime 5 min,
 * structural sharing on (the default of both, set explicitly here).
 * Goals from issue 13: at least 10x TanStack's cache-hit throughput (ratio <= 0.1) and 2.5x
 * its cache-miss throughput (ratio <= 0.4).
 */
import { compare, report } from './support/harness'
import { QueryStore } from '../src'

const HIT_OPS = 100_000
const MISS_OPS = 10_000
const KEYS = 1_000
const CACHE_TIME = 300_000

async function main(): Promise<void> {
  const { QueryClient } = await import('@tanstack/query-core')
  const client = new QueryClient({
    defaultOptions: { queries: { gcTime: CACHE_TIME, structuralSharing: true } },
  })
  client.mount()
  const store = new QueryStore({ gcTime: CACHE_TIME, structuralSharing: true })
  const instant = async (): Promise<{ id: number; tags: string[] }> => ({ id: 1, tags: ['a'] })
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
    { operationsPerRun: HIT_OPS, goal: '<= 0.1x (10x throughput)' },
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
    { operationsPerRun: MISS_OPS, goal: '<= 0.4x (2.5x throughput)' },
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
