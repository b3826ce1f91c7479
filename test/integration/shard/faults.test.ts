import { createServer, type AddressInfo, type Server } from 'node:net'
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely'
import { Pool } from 'pg'
import {
  Column,
  isAsyncCancelledError,
  isAsyncTimeoutError,
  isShardError,
  Model,
  ShardManager,
  Table,
} from 'tributary'
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

  describe('two shards unreachable', () => {
    const Item = defineItem()
    let ok: TestDatabase
    let dead: Kysely<any>[]
    let shards: ShardManager<any>

    beforeAll(async () => {
      ok = await createPgDatabase('trib_shard_ok')
      await seed(ok.db, 4)
      dead = await Promise.all(
        [1, 2].map(
          async () =>
            new Kysely<any>({
              dialect: new PostgresDialect({
                pool: new Pool({ host: '127.0.0.1', port: await closedPort(), user: 'postgres' }).on(
                  'error',
                  () => undefined,
                ),
              }),
            }),
        ),
      )
      shards = new ShardManager(
        { d1: dead[0] as Kysely<any>, ok: ok.db, d2: dead[1] as Kysely<any> },
        { ownsDatabases: false },
      ).attach(Item)
    })
    afterAll(async () => {
      await shards.close()
      await Promise.all(dead.map((db) => db.destroy()))
      await ok.drop()
    })

    it('lists both, each with its cause, and keeps the healthy answer', async () => {
      const error = await failureOf(Item.acrossShards().asyncCount())
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['d1', 'd2'])
      for (const failure of error.failures) expect(String(failure.cause)).toMatch(/ECONNREFUSED/)
      expect(error.message).toMatch(/failed on 2 shards: d1 \(.*ECONNREFUSED.*\), d2 \(.*ECONNREFUSED/)
      expect([...error.completed]).toEqual([['ok', 4]])
      const partial = await Item.acrossShards({ onShardError: 'partial' }).asyncMax('id')
      expect(partial.value).toBe(4)
      expect(partial.failedShards.map((f) => f.shard)).toEqual(['d1', 'd2'])
    })
  })

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

      // The backends were cancelled on the server, not left sleeping for 5 s.
      expect(await activeQueries(fast.db, slow.name, 2_000)).toBe(0)
      expect(Date.now() - started).toBeLessThan(4_500)
    })

    it('the caller’s signal and cancel() stop every shard’s query on the server', async () => {
      const controller = new AbortController()
      const started = Date.now()
      const viaSignal = Item.acrossShards().asyncCount({ signal: controller.signal })
      await activeBackend(fast.db, slow.name)
      controller.abort(new Error('user left'))
      expect(await failureOf(viaSignal)).toEqual(new Error('user left'))
      expect(await activeQueries(fast.db, slow.name, 2_000)).toBe(0)

      const viaCancel = Item.acrossShards({ onShardError: 'partial' }).asyncSum('id')
      await activeBackend(fast.db, slow.name)
      viaCancel.cancel()
      expect(isAsyncCancelledError(await failureOf(viaCancel))).toBe(true)
      expect(await activeQueries(fast.db, slow.name, 2_000)).toBe(0)
      expect(Date.now() - started).toBeLessThan(4_500)
      expect(await Item.acrossShards(['fast']).asyncCount()).toBe(3) // the pool is healthy
    })
  })

  describe('a backend killed mid-query', () => {
    const Item = defineItem()
    let dbs: TestDatabase[]
    let victim: Kysely<any>
    let shards: ShardManager<any>

    beforeAll(async () => {
      dbs = await Promise.all(['a', 'b', 'victim'].map((n) => createPgDatabase(`trib_shard_${n}`)))
      await Promise.all([seed(dbs[0]!.db, 2), seed(dbs[1]!.db, 3)])
      await sql`create view items as select 1 as id, 'slow' as label from pg_sleep(10)`.execute(dbs[2]!.db)
      // pg emits 'error' on a checked-out client whose backend dies; without a listener that is
      // an uncaught exception (README: models). The query itself rejects too.
      const pool = new Pool({ connectionString: dbs[2]!.url, max: 4 }).on('error', () => undefined)
      pool.on('connect', (client) => client.on('error', () => undefined))
      victim = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
      shards = new ShardManager({ a: dbs[0]!.db, b: dbs[1]!.db, victim }, { ownsDatabases: false }).attach(
        Item,
      )
    })
    afterAll(async () => {
      await shards.close()
      await victim.destroy()
      await Promise.all(dbs.map((d) => d.drop()))
    })

    /** Starts `work`, terminates the victim's backend once its query runs, and settles `work`. */
    async function killDuring<T>(work: () => PromiseLike<T>): Promise<PromiseSettledResult<T>> {
      const settled = Promise.allSettled([work()])
      const pid = await activeBackend(dbs[0]!.db, dbs[2]!.name)
      const { rows } = await sql<{ ok: boolean }>`select pg_terminate_backend(${pid}) as ok`.execute(
        dbs[0]!.db,
      )
      expect(rows[0]?.ok).toBe(true)
      return (await settled)[0] as PromiseSettledResult<T>
    }

    it("'fail' rejects with a ShardError naming the killed shard; 'partial' answers without it", async () => {
      const failed = await killDuring(() => Item.acrossShards().asyncCount())
      expect(failed.status).toBe('rejected')
      const error = failed.status === 'rejected' ? failed.reason : undefined
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['victim'])
      expect((error.failures[0]?.cause as { code?: string }).code).toBe('57P01')
      expect(error.message).toMatch(/victim \(.*terminating connection due to administrator command/)
      expect([...error.completed]).toEqual([
        ['a', 2],
        ['b', 3],
      ])

      const partial = await killDuring(() => Item.acrossShards({ onShardError: 'partial' }).asyncSum('id'))
      expect(partial.status).toBe('fulfilled')
      const answer = partial.status === 'fulfilled' ? partial.value : undefined
      expect(answer?.value).toBe(1 + 2 + 1 + 2 + 3)
      expect(answer?.failedShards.map((f) => f.shard)).toEqual(['victim'])
    })

    it('the next fan-out gets a live connection on the killed shard', async () => {
      await sql`create or replace view items as select 1 as id, 'fast' as label`.execute(dbs[2]!.db)
      expect(await Item.acrossShards().asyncCount()).toBe(6)
      expect(await Item.acrossShards().orderBy('label').asyncPluck('label')).toEqual([
        'fast',
        'r1',
        'r1',
        'r2',
        'r2',
        'r3',
      ])
    })
  })

  describe("'fail' with failFast cancels the shards still running when one fails", () => {
    const Item = defineItem()
    let slow: TestDatabase
    let broken: Kysely<any>
    let hangUp: Server
    let shards: ShardManager<any>

    beforeAll(async () => {
      slow = await createPgDatabase('trib_shard_slow')
      await sql`create view items as select 1 as id, 'slow' as label from pg_sleep(10)`.execute(slow.db)
      // A server that accepts connections and hangs up 300 ms later: the shard fails while the
      // slow one is running.
      hangUp = createServer((socket) => void setTimeout(() => socket.destroy(), 300))
      await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve))
      const port = (hangUp.address() as AddressInfo).port
      broken = new Kysely<any>({
        dialect: new PostgresDialect({
          pool: new Pool({ host: '127.0.0.1', port, user: 'postgres' }).on('error', () => undefined),
        }),
      })
      shards = new ShardManager({ slow: slow.db, broken }, { ownsDatabases: false }).attach(Item)
    })
    afterAll(async () => {
      await shards.close()
      await broken.destroy()
      await new Promise((resolve) => hangUp.close(resolve))
      await slow.drop()
    })

    it('without failFast, waits for every shard and reports each failure with its cause', async () => {
      const started = Date.now()
      const error = await failureOf(Item.acrossShards({ timeout: 1_000 }).asyncCount())
      expect(Date.now() - started).toBeGreaterThanOrEqual(950) // it waited for the slow shard
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['slow', 'broken'])
      expect(error.cancelled).toEqual([])
      expect(isAsyncTimeoutError(error.failures[0]?.cause)).toBe(true)
      expect(String(error.failures[1]?.cause)).toMatch(/Connection terminated/)
      expect(await activeQueries(slow.db, slow.name, 2_000)).toBe(0)
    })

    it('rejects once the slow shard is cancelled, listing it as cancelled, and its query stops', async () => {
      const started = Date.now()
      const pending = Item.acrossShards({ failFast: true }).asyncCount()
      await activeBackend(slow.db, slow.name) // the slow query is running
      const error = await failureOf(pending)
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(isShardError(error)).toBe(true)
      if (!isShardError(error)) return
      expect(error.failedShards).toEqual(['broken'])
      expect(error.cancelled).toEqual(['slow'])
      expect(await activeQueries(slow.db, slow.name, 2_000)).toBe(0)
    })
  })
})

/** How many queries on `items` are active in database `name`, polled until 0 or `withinMs` passes. */
async function activeQueries(db: Kysely<any>, name: string, withinMs: number): Promise<number> {
  const until = Date.now() + withinMs
  for (;;) {
    const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity
      where datname = ${name} and state = 'active' and query like '%items%'
      and pid <> pg_backend_pid()`.execute(db)
    const n = Number(rows[0]?.n)
    if (n === 0 || Date.now() > until) return n
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** The pid of the backend running a query on `items` in database `name` (waits up to 5 s). */
async function activeBackend(db: Kysely<any>, name: string): Promise<number> {
  const until = Date.now() + 5_000
  for (;;) {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity
      where datname = ${name} and state = 'active' and query like '%items%'
      and pid <> pg_backend_pid()`.execute(db)
    if (rows[0]) return rows[0].pid
    if (Date.now() > until) throw new Error(`no query on items started in ${name}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
