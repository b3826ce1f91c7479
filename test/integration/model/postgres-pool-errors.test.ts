// Issue 16, defect 12: pg emits 'error' on a pooled client whose backend dies, and with nobody
// listening the process crashes. createPostgresDatabase listens on the pool and its clients;
// the pools here have no listener of the test's own: a missed one is an uncaught exception
// (jest fails the test). The query that was running fails with a typed error naming the model
// helper or the shard.
import { sql, type Kysely } from 'kysely'
import { Client, Pool } from 'pg'
import {
  Column,
  createPostgresDatabase,
  isAsyncExecutionError,
  isShardError,
  Model,
  ShardManager,
  Table,
} from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'

async function activePid(admin: Client, database: string, like: string): Promise<number> {
  const until = Date.now() + 5_000
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = $1 and state = 'active' and query like $2 and pid <> pg_backend_pid()`,
      [database, like],
    )
    if (rows[0]) return rows[0].pid
    if (Date.now() > until) throw new Error('the query did not start')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describeWithPostgres(
  'createPostgresDatabase: a backend dying does not crash the process (issue 16, defect 12)',
  () => {
    @Table('slow_items')
    class SlowItem extends Model {
      @Column({ primary: true }) id!: number
    }
    @Table('items')
    class Item extends Model {
      @Column({ primary: true }) id!: number
    }

    let test: TestDatabase
    let other: TestDatabase
    let admin: Client
    const made: Array<Kysely<unknown>> = []

    beforeAll(async () => {
      test = await createPgDatabase('tributary_pool_errors')
      other = await createPgDatabase('tributary_pool_errors_b')
      for (const t of [test, other]) {
        await sql`create table items (id int primary key)`.execute(t.db)
        await sql`insert into items values (1), (2)`.execute(t.db)
        await sql`create view slow_items as select id from items, pg_sleep(3)`.execute(t.db)
      }
      admin = new Client({ connectionString: test.url })
      await admin.connect()
    })
    afterAll(async () => {
      await admin?.end()
      await Promise.all(made.map((db) => db.destroy()))
      await test?.drop()
      await other?.drop()
    })

    it('a model helper whose backend is terminated mid-query rejects naming the helper; the next one runs', async () => {
      const seen: Error[] = []
      // A pool the user made, with no listener of its own.
      const db = createPostgresDatabase(new Pool({ connectionString: test.url, max: 2 }), {
        onPoolError: (error) => seen.push(error),
      })
      made.push(db)
      SlowItem.use(db)
      Item.use(db)
      const running = SlowItem.asyncCount()
      await admin.query('select pg_terminate_backend($1)', [
        await activePid(admin, test.name, '%slow_items%'),
      ])
      const error = await running.catch((e: unknown) => e)
      expect(isAsyncExecutionError(error)).toBe(true)
      expect((error as Error).message).toMatch(/^SlowItem\.asyncCount failed: .*terminating connection/)
      // The client's own 'error' (the socket closing after the query failed) came to the listener.
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(seen.length).toBeGreaterThanOrEqual(1)
      expect(await Item.asyncCount()).toBe(2)
    })

    it('an idle pooled client whose backend is terminated is an error on the pool, reported, not thrown', async () => {
      const seen: Error[] = []
      const db = createPostgresDatabase(
        { connectionString: test.url, max: 1, idleTimeoutMillis: 60_000 },
        {
          onPoolError: (error) => seen.push(error),
        },
      )
      made.push(db)
      Item.use(db)
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
      await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid])
      const until = Date.now() + 5_000
      while (seen.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(seen.length).toBeGreaterThanOrEqual(1)
      expect(await Item.asyncCount()).toBe(2)
    })

    it('across shards: the shard whose backend dies is named in the ShardError', async () => {
      const a = createPostgresDatabase(other.url)
      const victim = createPostgresDatabase(test.url)
      const shards = new ShardManager({ a, victim }, { ownsDatabases: true }).attach(SlowItem)
      try {
        const running = SlowItem.acrossShards().asyncCount()
        const pid = await activePid(admin, test.name, '%slow_items%')
        await admin.query('select pg_terminate_backend($1)', [pid])
        const error = await running.catch((e: unknown) => e)
        expect(isShardError(error)).toBe(true)
        if (!isShardError(error)) return
        expect(error.failedShards).toEqual(['victim'])
        expect(error.message).toMatch(/victim \(.*terminating connection/)
      } finally {
        await shards.close()
      }
    })

    it('refuses a target that is neither a string, options nor a pool', () => {
      expect(() => createPostgresDatabase(42 as never)).toThrow(TypeError)
      expect(() => createPostgresDatabase(test.url, { onPoolError: 'no' as never })).toThrow(/onPoolError/)
    })
  },
)
