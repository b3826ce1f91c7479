import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect } from 'kysely'
import {
  AsyncMetrics,
  Column,
  isAsyncTimeoutError,
  isShardError,
  isUnknownShardError,
  Model,
  ShardedAsyncExecutor,
  ShardManager,
  Table,
} from 'tributary'

@Table('items')
class Item extends Model {
  @Column({ primary: true }) id!: number
  @Column() label!: string
}

async function shardDb(rows: number): Promise<Kysely<unknown>> {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  await sql`create table items (id integer primary key, label text not null)`.execute(db)
  for (let i = 1; i <= rows; i++) await sql`insert into items (label) values (${`r${i}`})`.execute(db)
  return db
}

describe('ShardManager', () => {
  let shards: ShardManager<unknown>

  beforeEach(async () => {
    shards = new ShardManager({ a: await shardDb(1), b: await shardDb(2), c: await shardDb(3) })
    shards.attach(Item)
  })
  afterEach(() => shards.close())

  it('routes attached models to the shard of withShard, across awaits', async () => {
    expect(await shards.withShard('b', () => Item.asyncCount())).toBe(2)
    const counts = await shards.withShard('c', async () => {
      const first = await Item.asyncCount()
      await new Promise((r) => setTimeout(r, 5))
      expect(shards.current).toBe('c')
      return [first, await Item.asyncCount()]
    })
    expect(counts).toEqual([3, 3])
    expect(shards.current).toBeUndefined()
  })

  it('does not leak between concurrent requests', async () => {
    const request = (name: string, delayMs: number) =>
      shards.withShard(name, async () => {
        await new Promise((r) => setTimeout(r, delayMs))
        return [shards.current, await Item.asyncCount()]
      })
    const results = await Promise.all([request('a', 15), request('b', 5), request('c', 10), request('a', 1)])
    expect(results).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['a', 1],
    ])
  })

  it('nests: the inner shard wins, the outer one comes back', async () => {
    await shards.withShard('a', async () => {
      expect(await shards.withShard('c', () => Item.asyncCount())).toBe(3)
      expect(await Item.asyncCount()).toBe(1)
    })
  })

  it('names the known shards for an unknown one', () => {
    let error: unknown
    try {
      shards.withShard('eu', () => 1)
    } catch (e) {
      error = e
    }
    expect(isUnknownShardError(error)).toBe(true)
    expect(String(error)).toContain('known shards: a, b, c')
  })

  it('leaves models that are not attached on their own database', async () => {
    @Table('items')
    class Other extends Model {
      @Column({ primary: true }) id!: number
    }
    const own = await shardDb(7)
    try {
      Other.use(own)
      expect(await shards.withShard('a', () => Other.asyncCount())).toBe(7)
    } finally {
      Other.use(null)
      await own.destroy()
    }
  })

  it('uses defaultShard outside withShard, and detaches on close', async () => {
    const dbs = { x: await shardDb(4), y: await shardDb(5) }
    const other = new ShardManager(dbs, { defaultShard: 'y' }).attach(Item)
    expect(await Item.asyncCount()).toBe(5)
    await other.close()
    await expect(Item.asyncCount()).rejects.toThrow(/no database/)
    await expect(
      dbs.x
        .selectFrom('items' as never)
        .selectAll()
        .execute(),
    ).rejects.toThrow()
  })

  it('refuses a bad configuration', async () => {
    expect(() => new ShardManager({})).toThrow(/at least one shard/)
    const db = await shardDb(0)
    expect(() => new ShardManager({ a: db }, { concurrency: 0 })).toThrow(/concurrency/)
    expect(() => new ShardManager({ a: db }, { defaultShard: 'z' })).toThrow(/unknown shard "z"/)
    await db.destroy()
  })
})

describe('ShardedAsyncExecutor', () => {
  let shards: ShardManager<unknown>

  beforeEach(async () => {
    shards = new ShardManager({ a: await shardDb(1), b: await shardDb(2), c: await shardDb(3) }).attach(Item)
  })
  afterEach(() => shards.close())

  it('returns a Map of per-shard AsyncResults, with sum and collect', async () => {
    const perShard = ShardedAsyncExecutor.executeAcrossShards(['a', 'b', 'c'], () => Item.asyncCount())
    expect([...perShard.keys()]).toEqual(['a', 'b', 'c'])
    expect(await perShard.get('b')).toBe(2)
    expect(await perShard.sum()).toBe(6)
    expect(await perShard.collect()).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]),
    )
    const labels = new ShardedAsyncExecutor(shards).executeAcrossShards(undefined, () =>
      Item.asyncPluck('label'),
    )
    expect(await labels.concat()).toEqual(['r1', 'r1', 'r2', 'r1', 'r2', 'r3'])
  })

  it('starts every shard at once, bounded by concurrency', async () => {
    let running = 0
    let peak = 0
    const work = async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, 20))
      running--
      return 1
    }
    const executor = new ShardedAsyncExecutor(shards)
    expect(await executor.executeAcrossShards(undefined, work).sum()).toBe(3)
    expect(peak).toBe(3)
    peak = 0
    expect(await executor.executeAcrossShards(undefined, work, { concurrency: 1 }).sum()).toBe(3)
    expect(peak).toBe(1)
  })

  it('collects every failure into one ShardError after all settle', async () => {
    const settledOrder: string[] = []
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(undefined, async ({ shard }) => {
      await new Promise((r) => setTimeout(r, shard === 'c' ? 30 : 1))
      settledOrder.push(shard)
      if (shard !== 'b') throw new Error(`boom ${shard}`)
      return shard
    })
    const error = await results.collect().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isShardError(error)).toBe(true)
    if (!isShardError(error)) return
    expect(settledOrder).toEqual(['a', 'b', 'c'])
    expect(error.failedShards).toEqual(['a', 'c'])
    expect(error.message).toContain('a (boom a), c (boom c)')
    expect(error.completed.get('b')).toBe('b')
  })

  it('times out a slow shard and cancels its signal', async () => {
    let aborted = false
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      undefined,
      ({ shard, signal }) =>
        new Promise<string>((resolve) => {
          if (shard !== 'b') return resolve(shard)
          signal.addEventListener('abort', () => (aborted = true))
        }),
      { timeout: 30 },
    )
    const settled = await results.settle()
    expect(settled.get('a')).toMatchObject({ status: 'fulfilled', value: 'a' })
    const b = settled.get('b')
    expect(b?.status).toBe('rejected')
    expect(isAsyncTimeoutError(b?.status === 'rejected' ? b.reason : undefined)).toBe(true)
    expect(aborted).toBe(true)
  })

  it('failFast cancels the shards still running, and lists them as cancelled', async () => {
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      undefined,
      ({ shard, signal }) =>
        new Promise<string>((resolve, reject) => {
          if (shard === 'a') return reject(new Error('down'))
          const timer = setTimeout(() => resolve(shard), 5_000)
          signal.addEventListener('abort', () => clearTimeout(timer))
        }),
      { failFast: true },
    )
    const error = await results.collect().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isShardError(error)).toBe(true)
    if (!isShardError(error)) return
    expect(error.failedShards).toEqual(['a'])
    expect(error.cancelled).toEqual(['b', 'c'])
  })

  it('cancel() on one shard’s result stops that shard alone, and a queued shard never starts', async () => {
    const started: string[] = []
    let bAborted = false
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      undefined,
      ({ shard, signal }) => {
        started.push(shard)
        return new Promise<string>((resolve) => {
          if (shard === 'b') signal.addEventListener('abort', () => (bAborted = true))
          setTimeout(() => resolve(shard), 20)
        })
      },
      { concurrency: 2 },
    )
    await new Promise((r) => setTimeout(r, 5))
    expect(started).toEqual(['a', 'b'])
    results.get('b')?.cancel(new Error('not b'))
    results.get('c')?.cancel(new Error('not c'))
    const settled = await results.settle()
    expect(settled.get('a')).toMatchObject({ status: 'fulfilled', value: 'a' })
    expect(settled.get('b')).toMatchObject({ status: 'rejected', cancelled: false })
    expect((settled.get('b') as { reason: Error }).reason.message).toBe('not b')
    expect(bAborted).toBe(true)
    // c waited behind the limit of 2 and was cancelled before its turn: fn never ran for it.
    expect((settled.get('c') as { reason: Error }).reason.message).toBe('not c')
    expect(started).toEqual(['a', 'b'])
  })

  it('a timeout rejects a shard whose function ignores its signal, and records each shard once', async () => {
    const operation = `ignores-signal-${Date.now()}`
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      ['a', 'b'],
      ({ shard }) =>
        new Promise<string>((resolve) => setTimeout(() => resolve(shard), shard === 'a' ? 1 : 200)),
      { timeout: 30, operation },
    )
    const settled = await results.settle()
    expect(settled.get('a')).toMatchObject({ status: 'fulfilled', value: 'a' })
    const b = settled.get('b')
    expect(isAsyncTimeoutError(b?.status === 'rejected' ? b.reason : undefined)).toBe(true)
    const snapshot = AsyncMetrics.default.snapshot().operations
    expect(snapshot[`${operation}@a`]).toMatchObject({ total: 1, failed: 0 })
    expect(snapshot[`${operation}@b`]).toMatchObject({ total: 1, failed: 1 })
  })

  it('a caller’s signal aborted before the start runs no shard', async () => {
    const controller = new AbortController()
    controller.abort(new Error('gone'))
    let calls = 0
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      undefined,
      () => {
        calls++
        return 1
      },
      { signal: controller.signal },
    )
    const settled = await results.settle()
    expect([...settled.values()].map((s) => s.status === 'rejected' && (s.reason as Error).message)).toEqual([
      'gone',
      'gone',
      'gone',
    ])
    expect(calls).toBe(0)
  })

  it('cancels through the caller’s signal and names an unknown shard', async () => {
    const controller = new AbortController()
    const results = new ShardedAsyncExecutor(shards).executeAcrossShards(
      undefined,
      () => new Promise<number>(() => undefined),
      { signal: controller.signal },
    )
    controller.abort(new Error('stop'))
    const settled = await results.settle()
    expect([...settled.values()].every((s) => s.status === 'rejected')).toBe(true)
    expect(() => ShardedAsyncExecutor.executeAcrossShards(['a', 'nope'], () => 1)).toThrow(
      /unknown shard "nope"/,
    )
  })
})
