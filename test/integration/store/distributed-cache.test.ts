/**
 * The query store with a Redis L2 and bus, on the real Redis: values shared across stores,
 * invalidations carried by the bus, grace on failure, one fetch for N stores.
 */
import Redis from 'ioredis'
import { QueryStore, isStaleValueServedError, redisBus, redisCache } from '../../../src'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis, redisUrl } from '../../support/services'

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describeWithRedis('QueryStore with a Redis L2 and bus', () => {
  let redis: TestRedis
  const stores: QueryStore[] = []
  const clients: Redis[] = []
  let n = 0

  beforeAll(async () => {
    redis = await createTestRedis('tributary_l2')
  })
  afterEach(() => {
    for (const store of stores.splice(0)) store.close()
  })
  afterAll(async () => {
    for (const client of clients.splice(0)) client.disconnect()
    await redis.cleanup()
  })

  function makeStores(
    count: number,
    options: ConstructorParameters<typeof QueryStore>[0] = {},
  ): QueryStore[] {
    const prefix = `${redis.prefix}${++n}:`
    const made: QueryStore[] = []
    for (let i = 0; i < count; i++) {
      const client = new Redis(redisUrl)
      clients.push(client)
      const store = new QueryStore({
        l2: redisCache(client, { prefix }),
        bus: redisBus(client, { prefix }),
        lockPoll: 10,
        ...options,
      })
      stores.push(store)
      made.push(store)
    }
    return made
  }

  it('a value fetched by one store is an L2 hit for another, with its fetch time kept', async () => {
    const [a, b] = makeStores(2)
    let calls = 0
    const fetcher = async (): Promise<{ id: number }> => ({ id: ++calls })
    await expect(a!.fetch(['user', 1], fetcher, { staleTime: 60_000 })).resolves.toEqual({ id: 1 })
    await expect(b!.fetch(['user', 1], fetcher, { staleTime: 60_000 })).resolves.toEqual({ id: 1 })
    expect(calls).toBe(1)
    expect(b!.getQuery(['user', 1])?.state.updatedAt).toBe(a!.getQuery(['user', 1])?.state.updatedAt)
  })

  it('invalidate on one store deletes from L2 and reaches the other store’s L1', async () => {
    const [a, b] = makeStores(2)
    let version = 0
    const fetcher = async (): Promise<number> => ++version
    await a!.fetch(['post', 1], fetcher, { staleTime: 60_000 })
    await b!.fetch(['post', 1], fetcher, { staleTime: 60_000 })
    expect(b!.getQuery(['post', 1])?.state.isStale).toBe(false)
    await a!.invalidate(['post'])
    await until(() => b!.getQuery(['post', 1])?.state.isStale === true, 'the bus invalidation')
    await expect(b!.fetch(['post', 1], fetcher, { staleTime: 60_000 })).resolves.toBe(2)
    await expect(a!.fetch(['post', 1], fetcher, { staleTime: 60_000 })).resolves.toBe(2) // from L2
    expect(version).toBe(2)
  })

  it('setData on one store is read by the other (its L1 dropped, L2 written)', async () => {
    const [a, b] = makeStores(2)
    const fetcher = async (): Promise<string> => 'fetched'
    await a!.fetch(['name'], fetcher, { staleTime: 60_000 })
    await b!.fetch(['name'], fetcher, { staleTime: 60_000 })
    a!.setData(['name'], 'set by a')
    await until(() => b!.getQuery(['name'])?.state.isStale === true, 'the set message')
    await expect(b!.fetch(['name'], async () => 'refetched', { staleTime: 60_000 })).resolves.toBe('set by a')
  })

  it('invalidateTags on one store reaches tagged entries in every store and in L2', async () => {
    const [a, b] = makeStores(2)
    let calls = 0
    const fetcher = async (): Promise<number> => ++calls
    await a!.fetch(['profile', 1], fetcher, { staleTime: 60_000, tags: ['user:1'] })
    await b!.fetch(['profile', 1], fetcher, { staleTime: 60_000, tags: ['user:1'] })
    await b!.fetch(['profile', 2], fetcher, { staleTime: 60_000, tags: ['user:2'] })
    expect(calls).toBe(2)
    await a!.invalidateTags(['user:1'])
    await until(() => b!.getQuery(['profile', 1])?.state.isStale === true, 'the tags message')
    expect(b!.getQuery(['profile', 2])?.state.isStale).toBe(false)
    await expect(b!.fetch(['profile', 1], fetcher, { staleTime: 60_000 })).resolves.toBe(3)
  })

  it('grace: a failed fetch serves the stale L2 value and reports the failure', async () => {
    const reports: unknown[] = []
    const [a, b] = makeStores(2, { onError: (error) => reports.push(error) })
    await a!.fetch(['rate'], async () => 1.5, { staleTime: 20, grace: 60_000 })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const failing = async (): Promise<number> => {
      throw new Error('upstream down')
    }
    await expect(b!.fetch(['rate'], failing, { staleTime: 20, grace: 60_000 })).resolves.toBe(1.5)
    expect(reports).toHaveLength(1)
    expect(isStaleValueServedError(reports[0])).toBe(true)
    expect((reports[0] as Error & { tier: string }).tier).toBe('l2')
    // without grace the failure is the answer
    await expect(b!.fetch(['rate'], failing, { staleTime: 20, grace: 0 })).rejects.toThrow('upstream down')
  })

  it('stampede: N stores missing one key together run one fetcher', async () => {
    const group = makeStores(5)
    let calls = 0
    const fetcher = async (): Promise<string> => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 100))
      return 'once'
    }
    const values = await Promise.all(
      group.map((store) => store.fetch(['hot'], fetcher, { staleTime: 60_000 })),
    )
    expect(values).toEqual(['once', 'once', 'once', 'once', 'once'])
    expect(calls).toBe(1)
  })

  it('a holder whose fetch fails releases the lock and a waiter fetches', async () => {
    const [a, b] = makeStores(2)
    let bCalls = 0
    let holding = false
    const first = a!.fetch(['flaky'], async () => {
      holding = true
      await new Promise((resolve) => setTimeout(resolve, 50))
      throw new Error('holder failed')
    })
    // a holds the lock once its fetcher runs (its client may connect after b's under load,
    // and then b would be the holder and a the waiter reading b's value).
    await until(() => holding, 'a to hold the lock')
    const second = b!.fetch(['flaky'], async () => ++bCalls)
    await expect(first).rejects.toThrow('holder failed')
    await expect(second).resolves.toBe(1)
  })
})
