// PostgreSQL only: server-side cancel, 10,000 helpers on a pool of 10, a backend killed
// mid-query, and sums past Number.MAX_SAFE_INTEGER.
import { Kysely, PostgresDialect, sql } from 'kysely'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Client, Pool } from 'pg'
import {
  AsyncExecutionError,
  Column,
  configureDatabase,
  isAsyncCancelledError,
  isAsyncExecutionError,
  Model,
  Table,
} from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'
import { createSchema, defineModels, seedRows } from './fixtures'

async function activeQueries(admin: Client, database: string, like: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `select pid from pg_stat_activity where datname = $1 and state = 'active' and query like $2 and pid <> pg_backend_pid()`,
    [database, like],
  )
  return rows.map((r) => r.pid)
}

// A full GC before reading the heap, so the memory check sees what is retained, not garbage
// (or what jest's --detectOpenHandles bookkeeping keeps until the next collection).
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void
function retainedHeap(): number {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('condition not reached')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describeWithPostgres('models on postgres: cancel, load and faults', () => {
  const { User } = defineModels()

  // A view whose every read sleeps on the server: a slow query the helpers can run.
  @Table('slow_users')
  class SlowUser extends Model {
    @Column({ primary: true }) id!: number
    @Column() score!: number
  }

  let test: TestDatabase
  let db: Kysely<any>
  let admin: Client

  beforeAll(async () => {
    test = await createPgDatabase('tributary_model_faults', { max: 10 })
    // pg emits 'error' on a checked-out client whose backend dies; without a listener that
    // is an uncaught exception (the README says to add one). The query itself rejects too.
    const pool = new Pool({ connectionString: test.url, max: 10 })
    pool.on('connect', (client) => client.on('error', () => undefined))
    // ...and an idle client whose backend dies (the killed one, once back in the pool) emits
    // 'error' on the pool, which needs a listener too.
    pool.on('error', () => undefined)
    db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    await createSchema(db, 'postgres')
    await sql`create function slow_rows(seconds float) returns setof users language sql as
      $$ select pg_sleep(seconds); select * from users $$`.execute(db)
    await sql`create view slow_users as select * from slow_rows(2)`.execute(db)
    admin = new Client({ connectionString: test.url })
    await admin.connect()
    User.use(db)
    SlowUser.use(db)
    await User.asyncInsert(seedRows())
  })

  afterAll(async () => {
    await admin?.end()
    await db?.destroy()
    await test?.drop()
  })

  it('cancels a running query on the server when the signal aborts', async () => {
    const controller = new AbortController()
    const started = Date.now()
    const result = SlowUser.asyncCount({ signal: controller.signal })
    const [pid] = await waitFor(async () => {
      const pids = await activeQueries(admin, test.name, '%slow_users%')
      return pids.length > 0 ? pids : undefined
    })
    controller.abort()
    const error = await result.catch((e: unknown) => e)
    expect(isAsyncCancelledError(error) || (error as Error).name === 'AbortError').toBe(true)
    // The server stops the statement well before its 2 s sleep ends.
    await waitFor(async () =>
      (await activeQueries(admin, test.name, '%slow_users%')).includes(pid as number) ? undefined : true,
    )
    expect(Date.now() - started).toBeLessThan(1_500)
    // The connection is healthy afterwards.
    expect(await User.asyncCount()).toBe(40)
  })

  it('result.cancel() cancels the server query too', async () => {
    const result = SlowUser.asyncSum('score')
    await waitFor(async () =>
      (await activeQueries(admin, test.name, '%slow_users%')).length > 0 ? true : undefined,
    )
    const started = Date.now()
    result.cancel()
    expect(isAsyncCancelledError(await result.catch((e: unknown) => e))).toBe(true)
    await waitFor(async () =>
      (await activeQueries(admin, test.name, '%slow_users%')).length === 0 ? true : undefined,
    )
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('cancel() through onError() cancels the server query too (no AbortController until a cancel)', async () => {
    const result = SlowUser.asyncCount()
    const recovered = result.onError(() => -1)
    await waitFor(async () =>
      (await activeQueries(admin, test.name, '%slow_users%')).length > 0 ? true : undefined,
    )
    const started = Date.now()
    recovered.cancel()
    expect(isAsyncCancelledError(await result.catch((e: unknown) => e))).toBe(true)
    await waitFor(async () =>
      (await activeQueries(admin, test.name, '%slow_users%')).length === 0 ? true : undefined,
    )
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('runs 10,000 helpers started at once on a pool of 10 without a pool error', async () => {
    const connections = async (): Promise<number> =>
      Number(
        (await admin.query('select count(*) as n from pg_stat_activity where datname = $1', [test.name]))
          .rows[0].n,
      ) - 1
    const heapBefore = retainedHeap()
    const results = Array.from({ length: 10_000 }, (_, i) =>
      i % 4 === 0
        ? User.asyncCount()
        : i % 4 === 1
          ? User.asyncSum('big')
          : i % 4 === 2
            ? User.asyncFind((i % 40) + 1)
            : User.asyncExists(),
    )
    await new Promise((r) => setTimeout(r, 50))
    const midway = await connections()
    const heapInFlight = retainedHeap() - heapBefore
    const values = await Promise.all(results)
    expect(midway).toBeLessThanOrEqual(10)
    // Bounded: 10,000 queued helpers hold about 3 KB each (≈ 30 MB here), nothing per row.
    expect(heapInFlight).toBeLessThan(64 * 2 ** 20)
    const expectedSum = seedRows().reduce((s, r) => s + r.big, 0)
    values.forEach((v, i) => {
      if (i % 4 === 0) expect(v).toBe(40)
      else if (i % 4 === 1) expect(v).toBe(expectedSum)
      else if (i % 4 === 2) expect((v as InstanceType<typeof User>).id).toBe((i % 40) + 1)
      else expect(v).toBe(true)
    })
    // Settled, the 10,000 results and their rows (still referenced here) keep about 10 MB.
    expect(retainedHeap() - heapBefore).toBeLessThan(32 * 2 ** 20)
  })

  it('a backend terminated mid-query rejects that helper with AsyncExecutionError; the next succeeds', async () => {
    const result = SlowUser.asyncCount()
    const [pid] = await waitFor(async () => {
      const pids = await activeQueries(admin, test.name, '%slow_users%')
      return pids.length > 0 ? pids : undefined
    })
    await admin.query('select pg_terminate_backend($1)', [pid])
    const error = await result.catch((e: unknown) => e)
    expect(isAsyncExecutionError(error)).toBe(true)
    expect(error).toBeInstanceOf(AsyncExecutionError)
    expect((error as AsyncExecutionError).operation).toBe('SlowUser.asyncCount')
    expect((error as Error).message).toMatch(/^SlowUser.asyncCount failed: /)
    expect(await User.asyncCount()).toBe(40)
    expect(await User.where({ active: true }).asyncPluck('id')).toHaveLength(26)
  })

  it('sums past Number.MAX_SAFE_INTEGER come back as bigint', async () => {
    const { User: Huge } = defineModels()
    Huge.use(db)
    await sql`update users set big = 4000000000000000 where id <= 3`.execute(db)
    const expected = BigInt(
      (await sql<{ v: string }>`select sum(big)::text as v from users`.execute(db)).rows[0]!.v,
    )
    expect(await Huge.asyncSum('big')).toBe(expected)
    expect(typeof (await Huge.where('id', '<=', 2).asyncSum('big'))).toBe('number')
    expect(await Huge.asyncMax('big')).toBe(4_000_000_000_000_000)
  })

  it('honours a configured concurrency limit', async () => {
    configureDatabase(db, { concurrency: 2 })
    try {
      const slow = [SlowUser.asyncCount(), SlowUser.asyncCount(), SlowUser.asyncCount()]
      await waitFor(async () =>
        (await activeQueries(admin, test.name, '%slow_users%')).length === 2 ? true : undefined,
      )
      await new Promise((r) => setTimeout(r, 200))
      expect(await activeQueries(admin, test.name, '%slow_users%')).toHaveLength(2)
      slow.forEach((r) => r.cancel())
      await Promise.allSettled(slow)
    } finally {
      configureDatabase(db, { concurrency: 10 })
    }
  })
})
