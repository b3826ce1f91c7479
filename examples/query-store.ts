/**
 * The query store: cached queries with stale-while-revalidate, deduplication, a timeout,
 * select and structural sharing, an optimistic mutation rolled back on failure, filters,
 * a warm cache handed to a second store, and an async store that cancels superseded
 * requests. Run: npx ts-node --transpile-only examples/query-store.ts
 */
import { createAsyncStore, dehydrate, hydrate, QueryStore } from '../src'

interface User {
  id: number
  name: string
}

const db = new Map<number, User>([
  [1, { id: 1, name: 'Ada' }],
  [2, { id: 2, name: 'Grace' }],
])
let requests = 0

function loadUser(id: number, signal: AbortSignal): Promise<User> {
  requests++
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ ...(db.get(id) as User) }), 20)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
}

async function main(): Promise<void> {
  const store = new QueryStore({ maxEntries: 1_000, staleTime: 60_000, gcTime: 300_000 })

  // 1. Ten concurrent fetches of one key make one request; a later fetch is served from cache.
  const users = await Promise.all(
    Array.from({ length: 10 }, () => store.fetch(['user', 1], ({ signal }) => loadUser(1, signal))),
  )
  await store.fetch(['user', 1], ({ signal }) => loadUser(1, signal))
  console.log(`10 + 1 fetches of ${users[0]?.name}: ${requests} request`)

  // 2. A subscribed query: state changes arrive batched; `select` shapes what this handle shows.
  const user = store.query(['user', 2], ({ signal }) => loadUser(2, signal), {
    timeout: 2_000,
    select: (u) => u.name,
  })
  const unsubscribe = user.subscribe((state) => console.log(`user 2: ${state.status}`, state.data ?? ''))
  await user.fetch()

  // Structural sharing: a refetch answering equal data keeps the same object.
  const before = store.getData<User>(['user', 2])
  await store.refetchQueries({ queryKey: ['user', 2] })
  console.log('same object after an equal refetch:', store.getData<User>(['user', 2]) === before)

  // 3. An optimistic rename that fails: the cache shows it at once, then rolls it back.
  const rename = store.mutation(
    async (vars: { id: number; name: string }) => {
      await new Promise((resolve) => setTimeout(resolve, 10))
      if (vars.name === '') throw new Error('a name is required')
      db.set(vars.id, { id: vars.id, name: vars.name })
      return vars
    },
    {
      optimistic: {
        key: ['user', 2],
        update: (old: User | undefined, vars) => ({ ...(old as User), name: vars.name }),
      },
      invalidates: [['user', 2]],
    },
  )
  const failing = rename.mutate({ id: 2, name: '' })
  console.log('optimistic name:', JSON.stringify(store.getData<User>(['user', 2])?.name))
  await failing.wait().catch((error: Error) => console.log('mutation failed:', error.message))
  console.log('after rollback:', store.getData<User>(['user', 2])?.name)
  await rename.mutate({ id: 2, name: 'Grace Hopper' }).wait()
  console.log('after success and refetch:', store.getData<User>(['user', 2])?.name)
  unsubscribe()

  // 4. A warm cache for another process: dehydrate, send as JSON, hydrate.
  const next = new QueryStore({ staleTime: 60_000 })
  hydrate(next, JSON.parse(JSON.stringify(dehydrate(store))))
  const served = await next.fetch(['user', 1], ({ signal }) => loadUser(1, signal))
  console.log(`hydrated store serves ${served.name} with ${requests} requests made so far`)
  next.close()

  // 5. An async store: switching params aborts the request for the old ones.
  const profile = createAsyncStore((id: number, { signal }) => loadUser(id, signal), 1)
  const latest = await profile.updateParams(2)
  console.log('async store data:', latest.name, '| loading:', profile.loading.get())
  profile.close()

  store.close()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
