// Sums past Number.MAX_SAFE_INTEGER come back as exact bigints, and smaller ones as numbers, on
// every dialect from testDialects() (MySQL through createMysqlDatabase, whose pool returns
// BIGINT and DECIMAL as text). SQLite needs better-sqlite3's safeIntegers mode for that
// (without it the driver itself returns a rounded number, which tributary cannot undo).
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { Column, Model, Table, withDatabase } from 'tributary'
import { createMysqlTestDatabase, createPgDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'

@Table('ledger')
class Entry extends Model {
  @Column({ primary: true }) id!: number
  @Column() amount!: number
}

const HUGE = 4_000_000_000_000_000n // 4e15: three of them pass 2^53 (≈ 9.007e15)

async function setUp(
  dialect: 'sqlite' | 'postgres' | 'mysql',
): Promise<{ db: Kysely<any>; drop(): Promise<void> }> {
  if (dialect === 'mysql') {
    const test: TestDatabase = await createMysqlTestDatabase('tributary_big_numbers')
    await sql`create table ledger (id integer auto_increment primary key, amount bigint not null)`.execute(
      test.db,
    )
    return { db: test.db, drop: () => test.drop() }
  }
  if (dialect === 'postgres') {
    const test: TestDatabase = await createPgDatabase('tributary_big_numbers')
    await sql`create table ledger (id serial primary key, amount bigint not null)`.execute(test.db)
    return { db: test.db, drop: () => test.drop() }
  }
  const database = new BetterSqlite3(':memory:')
  database.defaultSafeIntegers(true)
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
  await sql`create table ledger (id integer primary key, amount integer not null)`.execute(db)
  return { db, drop: () => db.destroy() }
}

describe.each(testDialects(['sqlite', 'postgres', 'mysql']))('numbers past 2^53 on %s', (dialect) => {
  let db: Kysely<any>
  let drop: () => Promise<void>

  beforeAll(async () => {
    ;({ db, drop } = await setUp(dialect))
    for (let i = 0; i < 3; i++) await sql`insert into ledger (amount) values (${HUGE})`.execute(db)
    await sql`insert into ledger (amount) values (${7})`.execute(db)
    Entry.use(db)
  })

  afterAll(async () => {
    Entry.use(null)
    await drop()
  })

  it('a sum past MAX_SAFE_INTEGER is an exact bigint; one below it is a number', async () => {
    const expected = 3n * HUGE + 7n
    expect(expected > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true)
    const raw = (await sql<{ v: unknown }>`select sum(amount) as v from ledger`.execute(db)).rows[0]?.v
    expect(BigInt(raw as string | bigint)).toBe(expected) // what the driver gives, read exactly
    expect(await Entry.asyncSum('amount')).toBe(expected)
    expect(await Entry.where('id', '<=', 2).asyncSum('amount')).toBe(8_000_000_000_000_000)
    expect(await Entry.asyncCount()).toBe(4)
    expect(await Entry.asyncMax('amount')).toBe(4_000_000_000_000_000)
    expect(await Entry.asyncFind(4)).toMatchObject({ id: 4, amount: 7 })
    expect(typeof (await Entry.asyncPluck('id'))[0]).toBe('number')
  })

  it('inside a transaction too', async () => {
    const sum = await db
      .transaction()
      .execute((trx) => withDatabase(trx, () => Entry.asyncSum('amount').wait()))
    expect(sum).toBe(3n * HUGE + 7n)
  })
})
