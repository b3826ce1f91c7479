// Models' optional read cache: `cached({ ttl })` on a scope and statically, through a QueryStore.
// SQLite in memory (synchronous, so fake timers drive the ttl); every query run is logged.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import {
  AsyncMetrics,
  Column,
  defaultModelCacheStore,
  isInvalidQueryError,
  isRecordNotFoundError,
  Model,
  QueryStore,
  Table,
  withDatabase,
} from 'tributary'

function defineModels() {
  @Table('accounts')
  class Account extends Model {
    @Column({ primary: true }) id!: number
    @Column() name!: string
    @Column() active!: boolean
    @Column({ type: 'bigint' }) big!: bigint
  }
  // A second model on the same table: its writes must invalidate Account's cached reads too.
  @Table('accounts')
  class AccountAdmin extends Model {
    @Column({ primary: true }) id!: number
    @Column() active!: boolean
  }
  return { Account, AccountAdmin }
}

interface Logged {
  db: Kysely<any>
  queries: string[]
}

async function database(rows: number): Promise<Logged> {
  const queries: string[] = []
  const db = new Kysely<any>({
    dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    log: (event) => {
      if (event.level === 'query') queries.push(event.query.sql)
    },
  })
  await sql`create table accounts (id integer primary key, name text not null, active integer not null, big integer not null default 0)`.execute(
    db,
  )
  for (let i = 1; i <= rows; i++) {
    await sql`insert into accounts (name, active, big) values (${`a${i}`}, ${i % 2}, ${i})`.execute(db)
  }
  queries.length = 0
  return { db, queries }
}

describe('cached model reads', () => {
  const { Account, AccountAdmin } = defineModels()
  let logged: Logged
  let store: QueryStore

  beforeEach(async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] })
    logged = await database(4)
    Account.use(logged.db)
    AccountAdmin.use(logged.db)
    store = new QueryStore()
  })

  afterEach(async () => {
    store.close()
    defaultModelCacheStore().clear()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
    Account.use(null)
    AccountAdmin.use(null)
    await logged.db.destroy()
  })

  it('serves a read from the store for ttl seconds, then queries again; the entry is then dropped', async () => {
    const active = Account.where({ active: true }).cached({ ttl: 60, store })
    expect(await active.asyncCount()).toBe(2)
    await sql`insert into accounts (name, active) values ('late', 1)`.execute(logged.db)
    logged.queries.length = 0
    expect(await active.asyncCount()).toBe(2) // cached: the insert is not seen yet
    expect(logged.queries).toEqual([])
    expect(store.size).toBe(1)
    jest.advanceTimersByTime(59_999)
    expect(await active.asyncCount()).toBe(2)
    expect(logged.queries).toEqual([])
    jest.advanceTimersByTime(1)
    expect(store.size).toBe(0) // dropped when it went stale (cacheTime = ttl)
    expect(await active.asyncCount()).toBe(3)
    expect(logged.queries).toHaveLength(1)
  })

  it('Model.cached() is the static form, on the shared default store', async () => {
    expect(await Account.cached({ ttl: 10 }).asyncSum('id')).toBe(10)
    expect(await Account.cached({ ttl: 10 }).asyncSum('id')).toBe(10)
    expect(logged.queries).toHaveLength(1)
    expect(defaultModelCacheStore().size).toBe(1)
  })

  it('keys apart every helper, column, condition, bound value and limit', async () => {
    const c = Account.cached({ ttl: 60, store })
    const answers = await Promise.all([
      c.asyncCount(),
      c.where({ active: true }).asyncCount(),
      c.where({ active: false }).asyncCount(),
      c.asyncSum('id'),
      c.asyncMax('id'),
      c.asyncMin('id'),
      c.asyncAvg('id'),
      c.orderBy('id').limit(2).asyncPluck('name'),
      c.orderBy('id', 'desc').asyncPick('name'),
      c.asyncFind(3),
      c.asyncFindBy({ name: 'a2' }),
      c.where('id', '>', 3).asyncAll(),
      c.where({ name: 'nobody' }).asyncExists(),
      c.where({ big: 2n ** 60n }).asyncCount(), // a bigint bound value is a valid key too
    ])
    expect(answers.slice(0, 9)).toEqual([4, 2, 2, 10, 4, 1, 2.5, ['a1', 'a2'], 'a4'])
    expect(answers[9]).toMatchObject({ id: 3, name: 'a3' })
    expect(answers[10]).toMatchObject({ id: 2 })
    expect((answers[11] as Array<{ id: number }>).map((a) => a.id)).toEqual([4])
    expect(answers.slice(12)).toEqual([false, 0])
    expect(store.size).toBe(14)
    expect(logged.queries).toHaveLength(14)
    expect(await c.asyncFind(3)).toBe(answers[9]) // the cached instance itself: treat as read-only
    expect(logged.queries).toHaveLength(14)
  })

  it('runs identical reads in flight once, even with ttl 0 (which caches nothing)', async () => {
    const c = Account.cached({ ttl: 0, store })
    const counts = await Promise.all(Array.from({ length: 100 }, () => c.asyncCount()))
    expect(counts.every((n) => n === 4)).toBe(true)
    expect(logged.queries).toHaveLength(1)
    await c.asyncCount()
    expect(logged.queries).toHaveLength(2)
  })

  it('writes through any model of the table mark its cached reads stale', async () => {
    const c = Account.cached({ ttl: 600, store })
    expect(await c.where({ active: true }).asyncCount()).toBe(2)
    expect(await AccountAdmin.where({ id: 2 }).asyncUpdate({ active: true })).toBe(1)
    expect(await c.where({ active: true }).asyncCount()).toBe(3)
    await Account.asyncInsert({ name: 'new', active: true, big: 0n })
    expect(await c.where({ active: true }).asyncCount()).toBe(4)
    await Account.where({ name: 'new' }).asyncDelete()
    expect(await c.where({ active: true }).asyncCount()).toBe(3)
    // a write through the cached scope itself is a write, not cached
    expect(await c.where({ id: 1 }).asyncUpdate({ active: false })).toBe(1)
    expect(await c.where({ active: true }).asyncCount()).toBe(2)
  })

  it('keeps databases apart, and bypasses the cache inside a transaction', async () => {
    const other = await database(1)
    try {
      const c = Account.cached({ ttl: 60, store })
      expect(await c.asyncCount()).toBe(4)
      expect(await withDatabase(other.db, () => c.asyncCount())).toBe(1)
      expect(store.size).toBe(2)
      const inside = await logged.db.transaction().execute((trx) =>
        withDatabase(trx, async () => {
          await sql`insert into accounts (name, active) values ('trx', 1)`.execute(trx)
          return c.asyncCount()
        }),
      )
      expect(inside).toBe(5)
      expect(store.size).toBe(2)
    } finally {
      await other.db.destroy()
    }
  })

  it('records every call under the helper name, cached or not', async () => {
    const before = AsyncMetrics.snapshot().operations['Account.asyncExists']?.total ?? 0
    const c = Account.cached({ ttl: 60, store })
    await c.asyncExists()
    await c.asyncExists()
    expect(AsyncMetrics.snapshot().operations['Account.asyncExists']?.total).toBe(before + 2)
    expect(logged.queries).toHaveLength(1)
  })

  it("a caller's signal ends its own wait; the shared read still answers the others", async () => {
    const c = Account.cached({ ttl: 60, store })
    const controller = new AbortController()
    const first = c.asyncCount({ signal: controller.signal })
    const second = c.asyncCount()
    controller.abort(new Error('caller gave up'))
    await expect(first).rejects.toThrow('caller gave up')
    expect(await second).toBe(4)
    expect(logged.queries).toHaveLength(1)
  })

  it('does not cache failures: asyncFindOrFail keeps rejecting, then finds the row once it exists', async () => {
    const c = Account.cached({ ttl: 60, store })
    expect(isRecordNotFoundError(await c.asyncFindOrFail(9).catch((e: unknown) => e))).toBe(true)
    await sql`insert into accounts (id, name, active) values (9, 'nine', 1)`.execute(logged.db)
    expect(await c.asyncFindOrFail(9)).toMatchObject({ id: 9, name: 'nine' })
  })

  it('refuses a bad ttl or store with an InvalidQueryError naming the model', () => {
    for (const options of [{ ttl: -1 }, { ttl: Number.NaN }, {}, { ttl: 1, store: {} }] as never[]) {
      const error = (() => {
        try {
          Account.cached(options)
        } catch (e) {
          return e
        }
      })()
      expect(isInvalidQueryError(error)).toBe(true)
      expect((error as Error).message).toMatch(/^Account: cached/)
    }
  })
})
