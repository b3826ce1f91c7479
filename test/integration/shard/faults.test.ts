import { createServer } from 'node:net'
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely'
import { Pool } from 'pg'
import { Column, isAsyncTimeoutError, isShardError, Model, ShardManager, Table } from 'tributary'
import { createPgDatabase, createSqliteDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'

function defineItem() {
  @Table('items')
  class Item extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: String }) label!: string
  }
  return Item
}

async function seed(db: Kysely<any>, rows: number): Promise<void> {
  await sql`create table items (id integer primary key, label text not null)`.execute(db)
  for (let i = 1; i <= rows; i++) await sql`insert into items values (${i}, ${`r${i}`})`.execute(db)
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address ? address.port : 1
}

async function failureOf(work: PromiseLike<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (e: unknown) => e,
  )
}

function suite(
  name: string,
  setup: () => Promise<{ healthy: TestDatabase[]; dead: Kysely<any>; cause: RegExp }>,
) {
  describe(`${name}: one shard unreachable`, () => {
    const Item = defineItem()
    let healthy: TestDatabase[]
    let shards: ShardManager<any>
    let cause: RegExp

    beforeAll(async () => {
      const made = await setup()
      healthy = made.healthy
      cause = made.cause
      await Promise.all(healthy.map((d, i) => seed(d.db, i + 2))) // 2 + 3 rows
      shards = new ShardManager(
        { a: healthy[0]?.db as Kysely<any>, dead: made.dead, b: healthy[1]?.db as Kysely<any> },
        { ownsDatabases: false },
      ).attach(Item)
    })
    afterAll(async () => {
      await shards.close()
      await Promise.all(healthy.map((d) => d.drop()))
    })

    it("'fail' rejects with a ShardError naming the shard and its cause", async () => {
      const error = await failureOf(Item.acrossShards().asyncCount())
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['dead'])
      expect(error.message).toMatch(cause)
    })

    it("'partial' answers from the healthy shards and lists the failed one", async () => {
      const answer = await Item.acrossShards({ onShardError: 'partial' }).asyncCount()
      expect(answer.value).toBe(5)
      expect(answer.complete).toBe(false)
      expect(answer.failedShards.map((f) => f.shard)).toEqual(['dead'])
      const labels = await Item.acrossShards({ onShardError: 'partial' }).orderBy('label').asyncPluck('label')
      expect(labels.value).toEqual(['r1', 'r1', 'r2', 'r2', 'r3'])
      const healthyOnly = await Item.acrossShards(['a', 'b']).asyncAvg('id')
      expect(healthyOnly).toBe((1 + 2 + 1 + 2 + 3) / 5)
    })

    it('writes report per-shard counts and failures, without atomicity', async () => {
      const partial = await Item.acrossShards({ onShardError: 'partial' })
        .where({ id: 1 })
        .asyncUpdate({ label: 'one' })
      expect(partial.total).toBe(2)
      expect([...partial.byShard]).toEqual([
        ['a', 1],
        ['b', 1],
      ])
      expect(partial.failedShards.map((f) => f.shard)).toEqual(['dead'])
      const error = await failureOf(Item.acrossShards().where({ id: 1 }).asyncUpdate({ label: 'uno' }))
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['dead'])
      expect(error.completed.get('a')).toBe(1) // written, and not rolled back
      expect(await Item.acrossShards(['a', 'b']).where({ label: 'uno' }).asyncCount()).toBe(2)
    })
  })
}

suite('SQLite', async () => ({
  healthy: [createSqliteDatabase('trib-shard-a'), createSqliteDatabase('trib-shard-b')],
  dead: new Kysely<any>({
    dialect: new SqliteDialect({
      database: async () => {
        throw new Error('disk unreachable')
      },
    }),
  }),
  cause: /dead \(disk unreachable\)/,
}))

describeWithPostgres('PostgreSQL faults', () => {
  suite('PostgreSQL', async () => ({
    healthy: await Promise.all([createPgDatabase('trib_shard_a'), createPgDatabase('trib_shard_b')]),
    dead: new Kysely<any>({
      dialect: new PostgresDialect({
        pool: new Pool({
          host: '127.0.0.1',
          port: await closedPort(),
          user: 'postgres',
          connectionTimeoutMillis: 2_000,
        }).on('error', () => undefined),
      }),
    }),
    cause: /dead \(.*ECONNREFUSED/,
  }))

  describe('timeouts cancel the slow shard’s query on the server', () => {
    const Item = defineItem()
    let fast: TestDatabase
    let slow: TestDatabase
    let shards: ShardManager<any>

    beforeAll(async () => {
      ;[fast, slow] = await Promise.all([
        createPgDatabase('trib_shard_fast'),
        createPgDatabase('trib_shard_slow'),
      ])
      await seed(fast.db, 3)
      await sql`create view items as select 1 as id, 'slow' as label from pg_sleep(5)`.execute(slow.db)
      shards = new ShardManager({ fast: fast.db, slow: slow.db }, { ownsDatabases: false }).attach(Item)
    })
    afterAll(async () => {
      await shards.close()
      await Promise.all([fast.drop(), slow.drop()])
    })

    it("'fail' rejects with the timeout, 'partial' answers without the slow shard", async () => {
      const started = Date.now()
      const error = await failureOf(Item.acrossShards({ timeout: 300 }).asyncCount())
      expect(Date.now() - started).toBeLessThan(2_500)
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['slow'])
      expect(isAsyncTimeoutError(error.failures[0]?.cause)).toBe(true)

      const answer = await Item.acrossShards({ onShardError: 'partial' }).asyncCount({ timeout: 300 })
      expect(answer.value).toBe(3)
      expect(answer.failedShards.map((f) => f.shard)).toEqual(['slow'])

      // The backends were cancelled, not left sleeping.
      const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity
        where datname = ${slow.name} and state = 'active' and query like '%items%'`.execute(fast.db)
      expect(Number(rows[0]?.n)).toBe(0)
    })
  })
})
