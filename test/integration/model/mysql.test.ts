// What MySQL/MariaDB does differently from PostgreSQL and SQLite, through the model helpers on
// a real server: no RETURNING (inserted rows are read back by id), an OFFSET needs a LIMIT,
// no LIMIT inside `in (…)`, NULLs first ascending, TINYINT(1) booleans, DECIMAL and BIGINT as
// exact text from createMysqlDatabase's pool, timestamps in UTC.
import { sql, type Kysely } from 'kysely'
import { createPool } from 'mysql2'
import { Column, createMysqlDatabase, Model, Table, withDatabase } from 'tributary'
import { createMysqlTestDatabase, type TestDatabase } from '../../support/database'
import { describeWithMysql } from '../../support/services'

describeWithMysql('models on MySQL/MariaDB', () => {
  @Table('things')
  class Thing extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: String }) name!: string
    @Column({ type: Boolean }) flag!: boolean | null
    @Column({ type: Number }) price!: number | null
    @Column({ type: BigInt }) big!: bigint | null
    @Column({ name: 'made_at', type: Date }) madeAt!: Date | null
    @Column({ type: Number }) kept!: number
  }

  @Table('keyless')
  class Keyless extends Model {
    @Column({ type: String }) label!: string
  }

  let test: TestDatabase
  let db: Kysely<any>

  beforeAll(async () => {
    test = await createMysqlTestDatabase('tributary_mysql')
    db = test.db
    await sql`create table things (id integer auto_increment primary key, name varchar(40) not null,
      flag tinyint(1), price decimal(12,2), big bigint, made_at timestamp(6) null,
      kept integer not null default 42)`.execute(db)
    await sql`create table keyless (label varchar(20) not null)`.execute(db)
    Thing.use(db)
    Keyless.use(db)
  })

  afterAll(async () => {
    Thing.use(null)
    Keyless.use(null)
    await test?.drop()
  })

  beforeEach(async () => {
    await sql`truncate table things`.execute(db)
  })

  it('asyncInsert reads generated ids and defaults back, in the order given', async () => {
    const rows = await Thing.asyncInsert([
      { name: 'b', flag: true, price: 0.1 },
      { name: 'a', flag: false, price: null },
      { name: 'c', flag: null },
    ])
    expect(rows.map((r) => [r.id, r.name, r.flag, r.price, r.kept])).toEqual([
      [1, 'b', true, 0.1, 42],
      [2, 'a', false, null, 42],
      [3, 'c', null, null, 42],
    ])
    expect(rows[0]).toBeInstanceOf(Thing)
    // Given ids, and a mix of given and generated ones.
    expect(
      (
        await Thing.asyncInsert([
          { id: 10, name: 'x' },
          { id: 7, name: 'y' },
        ])
      ).map((r) => r.id),
    ).toEqual([10, 7])
    expect(
      (await Thing.asyncInsert([{ name: 'p' }, { id: 20, name: 'q' }, { name: 'r' }])).map((r) => r.id),
    ).toEqual([11, 20, 21])
    expect(await Keyless.asyncInsert([{ label: 'k1' }, { label: 'k2' }])).toEqual([
      Object.assign(new Keyless(), { label: 'k1' }),
      Object.assign(new Keyless(), { label: 'k2' }),
    ])
  })

  it('asyncInsert inside a transaction keeps helpers in the order started, and rolls back', async () => {
    const seen = await db.transaction().execute((trx) =>
      withDatabase(trx, async () => {
        const inserted = Thing.asyncInsert({ name: 'trx' })
        const count = Thing.where({ name: 'trx' }).asyncCount()
        return [(await inserted).map((r) => r.name), await count] as const
      }),
    )
    expect(seen).toEqual([['trx'], 1])
    await expect(
      db.transaction().execute((trx) =>
        withDatabase(trx, async () => {
          await Thing.asyncInsert({ name: 'gone' })
          throw new Error('roll back')
        }),
      ),
    ).rejects.toThrow('roll back')
    expect(await Thing.where({ name: 'gone' }).asyncCount()).toBe(0)
  })

  it('pages with an offset and no limit, and writes through a limited scope', async () => {
    await Thing.asyncInsert(Array.from({ length: 6 }, (_, i) => ({ name: `n${i}` })))
    expect(await Thing.orderBy('id').offset(4).asyncPluck('id')).toEqual([5, 6])
    expect(await Thing.orderBy('id').offset(4).asyncCount()).toBe(2)
    expect(await Thing.groupBy('name').offset(5).asyncAggregate({ n: 'count' })).toEqual([
      { name: 'n5', n: 1 },
    ])
    expect(await Thing.orderBy('id', 'desc').limit(2).asyncUpdate({ price: 1.5 })).toBe(2)
    expect(await Thing.orderBy('id').offset(3).limit(2).asyncDelete()).toBe(2)
    expect(await Thing.orderBy('id').asyncPluck('price')).toEqual([null, null, null, 1.5])
    expect(await Thing.where({ price: 1.5 }).asyncTouchAll('madeAt')).toBe(1)
  })

  it('sorts NULLs first ascending and last descending, as MySQL does', async () => {
    await Thing.asyncInsert([{ name: 'a', price: 2 }, { name: 'b' }, { name: 'c', price: -1 }])
    expect(await Thing.orderBy('price').asyncPluck('name')).toEqual(['b', 'c', 'a'])
    expect(await Thing.orderBy('price', 'desc').asyncPluck('name')).toEqual(['a', 'c', 'b'])
  })

  it('reads TINYINT(1), DECIMAL, BIGINT past 2^53 and TIMESTAMP exactly, in UTC', async () => {
    const at = new Date('2024-02-29T23:59:58.123Z')
    await Thing.asyncInsert({ name: 't', flag: true, price: 12.34, big: 2n ** 60n + 1n, madeAt: at })
    const [row] = await Thing.asyncAll()
    expect(row).toMatchObject({ flag: true, price: 12.34, big: 2n ** 60n + 1n, madeAt: at })
    expect(await Thing.where({ flag: true }).asyncCount()).toBe(1)
    expect(await Thing.where('madeAt', '=', at).asyncCount()).toBe(1)
    expect(await Thing.asyncSum('big')).toBe(2n ** 60n + 1n)
    // The server stored UTC: a connection in another zone sees the same instant.
    const raw = await sql<{ v: string }>`select cast(made_at as char) as v from things`.execute(db)
    expect(raw.rows[0]?.v).toBe('2024-02-29 23:59:58.123000')
  })

  it('createMysqlDatabase takes a URL, pool options or a mysql2 pool', async () => {
    const fromUrl = createMysqlDatabase(test.url)
    const fromOptions = createMysqlDatabase({ uri: test.url, connectionLimit: 2 })
    const fromPool = createMysqlDatabase(
      createPool({ uri: test.url, supportBigNumbers: true, bigNumberStrings: true }),
    )
    try {
      for (const other of [fromUrl, fromOptions, fromPool]) {
        const { rows } = await sql<{ v: unknown }>`select cast(9007199254740993 as signed) as v`.execute(
          other,
        )
        expect(rows[0]?.v).toBe('9007199254740993')
      }
    } finally {
      await Promise.all([fromUrl.destroy(), fromOptions.destroy(), fromPool.destroy()])
    }
  })
})
