// Batched lookups: asyncFind / asyncFindOrFail / asyncFindBy({ key }) calls made in the same tick
// for one model and database are one `where key in (…)` query; each caller gets its own row or
// undefined; errors reach only the callers of the failed query; { batch: false } opts out.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, PostgresDialect, sql, SqliteDialect, type LogEvent } from 'kysely'
import { Pool } from 'pg'
import { Column, isAsyncExecutionError, isRecordNotFoundError, Model, ShardManager, Table } from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'

@Table('people')
class Person extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ type: String }) email!: string
}

interface Target {
  readonly db: Kysely<any>
  readonly queries: string[]
  drop(): Promise<void>
}

async function open(dialect: 'postgres' | 'sqlite', rows: number): Promise<Target> {
  const queries: string[] = []
  const log = (event: LogEvent): void => void queries.push(event.query.sql)
  let db: Kysely<any>
  let owned: TestDatabase | undefined
  if (dialect === 'postgres') {
    owned = await createPgDatabase('trib_batch')
    const pool = new Pool({ connectionString: owned.url, max: 4 })
    pool.on('error', () => undefined)
    db = new Kysely<any>({ dialect: new PostgresDialect({ pool }), log })
  } else {
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }), log })
  }
  await sql`create table people (id integer primary key, email text not null)`.execute(db)
  const values = Array.from({ length: rows }, (_, i) => ({ id: i + 1, email: `p${i + 1}@example.com` }))
  for (let i = 0; i < values.length; i += 500)
    await db
      .insertInto('people')
      .values(values.slice(i, i + 500))
      .execute()
  queries.length = 0
  return {
    db,
    queries,
    drop: async () => {
      await db.destroy()
      await owned?.drop()
    },
  }
}

describe.each(testDialects())('batched lookups on %s', (dialect) => {
  let target: Target

  beforeAll(async () => {
    target = await open(dialect, 1_600)
    Person.use(target.db)
  }, 60_000)

  afterAll(async () => {
    Person.use(null)
    await target?.drop()
  })

  beforeEach(() => {
    target.queries.length = 0
  })

  const selects = (): string[] =>
    target.queries.filter((q) => /^select/i.test(q) && !/pg_backend_pid/.test(q))

  it('100 concurrent asyncFind calls are one query; each caller gets its own row or undefined', async () => {
    const ids = [...Array.from({ length: 100 }, (_, i) => i + 1), 5, 5, 99_999]
    const found = await Promise.all(ids.map((id) => Person.asyncFind(id)))
    expect(selects()).toHaveLength(1)
    expect(selects()[0]).toMatch(/ in \(/)
    found.forEach((person, i) => {
      if (ids[i] === 99_999) expect(person).toBeUndefined()
      else {
        expect(person).toBeInstanceOf(Person)
        expect(person?.id).toBe(ids[i])
        expect(person?.email).toBe(`p${ids[i]}@example.com`)
      }
    })
    // Callers of the same key get their own instance.
    expect(found[100]).not.toBe(found[101])
    expect(found[100]).toEqual(found[101])
  })

  it('asyncFindBy({ key }) batches by that column; asyncFindOrFail rejects only its own missing key', async () => {
    const [a, b, missing] = await Promise.all([
      Person.asyncFindBy({ email: 'p7@example.com' }),
      Person.asyncFindBy({ email: 'p8@example.com' }),
      Person.asyncFindBy({ email: 'nobody@example.com' }),
    ])
    expect(selects()).toHaveLength(1)
    expect([a?.id, b?.id, missing]).toEqual([7, 8, undefined])
    target.queries.length = 0
    const settled = await Promise.allSettled([Person.asyncFindOrFail(3), Person.asyncFindOrFail(123_456)])
    expect(selects()).toHaveLength(1)
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { id: 3 } })
    expect(settled[1].status === 'rejected' && isRecordNotFoundError(settled[1].reason)).toBe(true)
  })

  it('{ batch: false }, a filtered scope and separate ticks each send their own query', async () => {
    await Promise.all([Person.asyncFind(1, { batch: false }), Person.asyncFind(2, { batch: false })])
    expect(selects()).toHaveLength(2)
    target.queries.length = 0
    await Promise.all([Person.where({ email: 'p1@example.com' }).asyncFind(1), Person.asyncFind(2)])
    expect(selects()).toHaveLength(2)
    target.queries.length = 0
    await Person.asyncFind(1)
    await Person.asyncFind(2)
    expect(selects()).toHaveLength(2)
  })

  it('splits more than 1 000 keys into several queries', async () => {
    const ids = Array.from({ length: 1_500 }, (_, i) => i + 1)
    const found = await Promise.all(ids.map((id) => Person.asyncFind(id)))
    expect(selects()).toHaveLength(2)
    expect(found.map((p) => p?.id)).toEqual(ids)
  })

  it("a caller's signal ends only its own wait", async () => {
    const controller = new AbortController()
    const reason = new Error('gave up')
    const mine = Person.asyncFind(1, { signal: controller.signal })
    const other = Person.asyncFind(2)
    controller.abort(reason)
    expect(await mine.catch((e: unknown) => e)).toBe(reason)
    expect((await other)?.id).toBe(2)
  })

  it('acrossShards().asyncFind calls in one tick are one where-in query per shard', async () => {
    const other = await open(dialect, 0)
    await other.db.insertInto('people').values({ id: 5_000, email: 'far@example.com' }).execute()
    const shards = new ShardManager({ a: target.db, b: other.db }, { ownsDatabases: false })
    try {
      other.queries.length = 0
      const ids = [1, 2, 3, 5_000, 9_999]
      const found = await Promise.all(ids.map((id) => Person.acrossShards({ manager: shards }).asyncFind(id)))
      expect(found.map((p) => p?.id)).toEqual([1, 2, 3, 5_000, undefined])
      expect(selects()).toHaveLength(1)
      expect(other.queries.filter((q) => /^select/i.test(q) && !/pg_backend_pid/.test(q))).toHaveLength(1)
      // With the primary key as the shard key, each id goes only to the shard the resolver names.
      target.queries.length = 0
      other.queries.length = 0
      const routed = Person.acrossShards({
        manager: shards,
        shardKey: { column: 'id', resolver: { resolve: (id) => (Number(id) >= 5_000 ? 'b' : 'a') } },
      })
      const got = await Promise.all([routed.asyncFind(1), routed.asyncFind(2), routed.asyncFind(5_000)])
      expect(got.map((p) => p?.id)).toEqual([1, 2, 5_000])
      expect(selects()).toHaveLength(1)
      expect(selects()[0]).toMatch(/ in \(/)
      // A batch of one key is the plain single-row lookup.
      const farSelects = other.queries.filter((q) => /^select/i.test(q) && !/pg_backend_pid/.test(q))
      expect(farSelects).toHaveLength(1)
      expect(farSelects[0]).toMatch(/ = [$?]/)
    } finally {
      await shards.close()
      await other.drop()
    }
  })

  it('a failed batch rejects its callers; callers routed to another shard are answered', async () => {
    const broken = await open(dialect, 0)
    await sql`drop table people`.execute(broken.db)
    const shards = new ShardManager({ good: target.db, bad: broken.db }, { ownsDatabases: false })
    shards.attach(Person)
    try {
      const settled = await Promise.allSettled([
        shards.withShard('good', () => Person.asyncFind(1)),
        shards.withShard('bad', () => Person.asyncFind(1)),
        shards.withShard('bad', () => Person.asyncFind(2)),
        shards.withShard('good', () => Person.asyncFind(2)),
      ])
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
      for (const s of settled) {
        if (s.status === 'rejected') {
          expect(isAsyncExecutionError(s.reason)).toBe(true)
          expect((s.reason as Error).message).toMatch(/Person\.asyncFind/)
        }
      }
      expect(broken.queries.filter((q) => /^select/i.test(q))).toHaveLength(1)
    } finally {
      await shards.close()
      Person.use(target.db)
      await broken.drop()
    }
  })
})
