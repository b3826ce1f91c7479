import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect } from 'kysely'
import {
  AsyncResult,
  AsyncShardResolver,
  hashShardResolver,
  isShardRoutingError,
  rangeShardResolver,
} from 'tributary'

describe('hashShardResolver', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`)

  it('is stable and independent of the order of the names', () => {
    const a = hashShardResolver(['s1', 's2', 's3', 's4'])
    const b = hashShardResolver(['s4', 's2', 's1', 's3'])
    for (const key of keys.slice(0, 2_000)) expect(a.resolve(key)).toBe(b.resolve(key))
    expect(a.resolve(42)).toBe(a.resolve('42'))
    expect(a.resolve(42n)).toBe(a.resolve(42))
  })

  it('spreads keys evenly', () => {
    const resolver = hashShardResolver(['s1', 's2', 's3', 's4'])
    const counts = new Map<string, number>()
    for (const key of keys) counts.set(resolver.resolve(key), (counts.get(resolver.resolve(key)) ?? 0) + 1)
    for (const n of counts.values()) expect(Math.abs(n - 5_000)).toBeLessThan(400)
  })

  it('moves about 1/(n+1) of the keys when a shard is added, all of them to the new shard', () => {
    const before = hashShardResolver(['s1', 's2', 's3', 's4'])
    const after = hashShardResolver(['s1', 's2', 's3', 's4', 's5'])
    let moved = 0
    for (const key of keys) {
      const from = before.resolve(key)
      const to = after.resolve(key)
      if (from !== to) {
        moved++
        expect(to).toBe('s5')
      }
    }
    expect(Math.abs(moved / keys.length - 1 / 5)).toBeLessThan(0.02)
  })

  it('moves only the removed shard’s keys when a shard is removed', () => {
    const before = hashShardResolver(['s1', 's2', 's3', 's4'])
    const after = hashShardResolver(['s1', 's2', 's4'])
    const wrongly = keys.filter(
      (key) => before.resolve(key) !== 's3' && after.resolve(key) !== before.resolve(key),
    )
    expect(wrongly).toEqual([])
  })

  it('refuses bad input with typed errors', () => {
    expect(() => hashShardResolver([])).toThrow(RangeError)
    expect(() => hashShardResolver(['a', 'a'])).toThrow(/repeat/)
    const resolver = hashShardResolver(['a'])
    let error: unknown
    try {
      resolver.resolve({} as unknown as string)
    } catch (e) {
      error = e
    }
    expect(isShardRoutingError(error)).toBe(true)
  })
})

describe('rangeShardResolver', () => {
  const resolver = rangeShardResolver<number>([
    { shard: 'new', from: 1_000, to: 2_000 },
    { shard: 'old', to: 1_000 },
    { shard: 'newest', from: 5_000 },
  ])

  it('routes by [from, to)', () => {
    expect(resolver.resolve(-5)).toBe('old')
    expect(resolver.resolve(999)).toBe('old')
    expect(resolver.resolve(1_000)).toBe('new')
    expect(resolver.resolve(1_999)).toBe('new')
    expect(resolver.resolve(5_000)).toBe('newest')
    expect(resolver.resolve(10 ** 12)).toBe('newest')
  })

  it('throws a ShardRoutingError in a gap', () => {
    let error: unknown
    try {
      resolver.resolve(3_000)
    } catch (e) {
      error = e
    }
    expect(isShardRoutingError(error)).toBe(true)
    expect(String(error)).toContain('3000')
  })

  it('refuses overlapping or empty ranges', () => {
    expect(() =>
      rangeShardResolver([
        { shard: 'a', from: 0, to: 10 },
        { shard: 'b', from: 5, to: 20 },
      ]),
    ).toThrow(/overlap/)
    expect(() => rangeShardResolver([{ shard: 'a', from: 10, to: 10 }])).toThrow(/empty/)
    expect(() => rangeShardResolver([{ shard: 'a' }, { shard: 'b' }])).toThrow(/overlap/)
  })

  it('routes string keys', () => {
    const byName = rangeShardResolver<string>([
      { shard: 'a-m', to: 'n' },
      { shard: 'n-z', from: 'n' },
    ])
    expect(byName.resolve('alice')).toBe('a-m')
    expect(byName.resolve('zoe')).toBe('n-z')
  })
})

describe('AsyncShardResolver', () => {
  it('caches answers for ttl and shares concurrent lookups', async () => {
    let now = 0
    let calls = 0
    const resolver = new AsyncShardResolver<string>({
      ttl: 1, // seconds, as every ttl
      now: () => now,
      lookup: async (key) => {
        calls++
        await new Promise((r) => setImmediate(r))
        return key.startsWith('eu') ? 'eu' : 'us'
      },
    })
    const [a, b] = await Promise.all([resolver.resolveAsync('eu-1'), resolver.resolveAsync('eu-1')])
    expect([a, b, calls]).toEqual(['eu', 'eu', 1])
    now = 999
    expect(await resolver.resolveAsync('eu-1')).toBe('eu')
    expect(calls).toBe(1)
    now = 1_000
    expect(await resolver.resolveAsync('eu-1')).toBe('eu')
    expect(calls).toBe(2)
    resolver.invalidate('eu-1')
    expect(await resolver.resolveAsync('eu-1')).toBe('eu')
    expect(calls).toBe(3)
  })

  it('does not cache unknown keys or failures, and wraps them in ShardRoutingError', async () => {
    let fail = true
    let calls = 0
    const resolver = new AsyncShardResolver<string>({
      lookup: async () => {
        calls++
        if (fail) throw new Error('directory down')
        return undefined
      },
    })
    const first = await resolver.resolveAsync('k').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isShardRoutingError(first)).toBe(true)
    expect(String((first as Error).cause)).toContain('directory down')
    fail = false
    const second = await resolver.resolveAsync('k').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(String(second)).toContain('not in the directory')
    expect(calls).toBe(2)
  })

  it('drops the oldest answer past maxEntries', async () => {
    let calls = 0
    const resolver = new AsyncShardResolver<number>({
      maxEntries: 2,
      lookup: async () => {
        calls++
        return 's'
      },
    })
    await resolver.resolveAsync(1)
    await resolver.resolveAsync(2)
    await resolver.resolveAsync(3)
    await resolver.resolveAsync(2)
    expect(calls).toBe(3)
    await resolver.resolveAsync(1)
    expect(calls).toBe(4)
  })

  it('honours the caller’s signal', async () => {
    const resolver = new AsyncShardResolver<string>({
      lookup: () => new Promise((resolve) => setTimeout(() => resolve('s'), 50)),
    })
    const controller = new AbortController()
    const result = resolver.resolveAsync('k', { signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(result).rejects.toThrow('gave up')
    expect(await resolver.resolveAsync('k')).toBe('s')
  })

  it('reads a directory table', async () => {
    const db = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    })
    try {
      await sql`create table tenant_shards (tenant text primary key, shard text not null)`.execute(db)
      await sql`insert into tenant_shards values ('acme', 'eu'), ('globex', 'us')`.execute(db)
      const resolver = AsyncShardResolver.fromDirectory<string>(db, {
        table: 'tenant_shards',
        keyColumn: 'tenant',
      })
      const acme = resolver.resolveAsync('acme')
      expect(acme).toBeInstanceOf(AsyncResult)
      expect(await acme).toBe('eu')
      expect(await resolver.resolveAsync('globex')).toBe('us')
      // Cached for the ttl: a move in the directory is seen after invalidate (or the ttl).
      await sql`update tenant_shards set shard = 'apac' where tenant = 'acme'`.execute(db)
      expect(await resolver.resolveAsync('acme')).toBe('eu')
      resolver.invalidate('acme')
      expect(await resolver.resolveAsync('acme')).toBe('apac')
      await expect(resolver.resolveAsync('initech')).rejects.toThrow(
        /tenant_shards.*initech.*not in the directory/,
      )
    } finally {
      await db.destroy()
    }
  })
})
