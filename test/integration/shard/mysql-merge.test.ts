// Cross-shard merges on MySQL/MariaDB against one database holding every row: NULLs sort first
// ascending (as on SQLite, unlike PostgreSQL), DECIMAL and BIGINT (exact text from
// createMysqlDatabase) compare as numbers, not as text, and averages are rounded as MySQL's own
// `avg` rounds them (4 more decimals than the column, half away from zero). Text order is the
// column's collation, read from information_schema: a binary NO PAD collation orders by code
// point, as the merge does; any other (the case- and accent-insensitive defaults, a PAD SPACE
// `_bin`) is refused with a typed error unless `compare`.
import type { Kysely } from 'kysely'
import { Column, isUnsupportedCollationError, Model, ShardManager, Table } from 'tributary'
import { createMysqlTestDatabase } from '../../support/database'
import { describeWithMysql } from '../../support/services'
import { createShardedTables, type ShardedTables } from './sharded-tables'

const ROWS = 240

@Table('ledger')
class Entry extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ type: Number }) n!: number | null
  @Column({ type: Number }) amount!: number | null
  @Column({ type: BigInt }) big!: bigint | null
  @Column({ type: String }) label!: string
  @Column({ type: String }) code!: string
  @Column({ type: String }) padded!: string
  @Column({ type: Date }) stamp!: Date | null
}

// Case, accents, a trailing space and a tab (PAD SPACE would tie 'a' and 'a '), text past U+FFFF.
const CODES = ['b', 'A', 'a', 'é', 'B', 'a ', 'a\t', '😀', 'ＡＢ', 'e\u0301', '\uFFFD']

function rows(): Record<string, unknown>[] {
  return Array.from({ length: ROWS }, (_, i) => {
    const id = i + 1
    return {
      id,
      n: id % 9 === 0 ? null : (id * 37) % 23,
      // 9.50 before 10.00 before 100.25: wrong if compared as text.
      amount: id % 7 === 0 ? null : [(id % 13) + 0.5, (id % 5) * 10, -id / 4, 100.25][id % 4]?.toFixed(2),
      big: id % 11 === 0 ? null : (BigInt(id % 3 === 0 ? -1 : 1) * (2n ** 60n + BigInt(id))).toString(),
      label: ['b', 'A', 'a', 'é', 'B'][id % 5] as string,
      code: CODES[id % CODES.length] as string,
      padded: CODES[id % CODES.length] as string,
      // Four microsecond values inside one millisecond, and NULLs.
      stamp: id % 10 === 0 ? null : `2024-01-01 00:00:00.123${id % 4}${id % 4}0`,
    }
  })
}

const DDL = `create table ledger (id integer primary key, n integer, amount decimal(12,2), big bigint,
  label varchar(20) not null, code varchar(20) collate utf8mb4_nopad_bin not null,
  padded varchar(20) collate utf8mb4_bin not null, stamp datetime(6))`

const ids = (list: ReadonlyArray<{ id: number }>): number[] => list.map((r) => r.id)

describeWithMysql('cross-shard merges on MySQL/MariaDB', () => {
  let tables: ShardedTables
  let shards: ShardManager<any>
  const across = () => Entry.acrossShards({ manager: shards })

  beforeAll(async () => {
    tables = await createShardedTables('mysql', DDL, 'ledger', rows(), (_, i) => (i * 7) % 3, [
      'm0',
      'm1',
      'm2',
    ])
    Entry.use(tables.oracle as Kysely<any>)
    shards = new ShardManager(tables.shards, { ownsDatabases: false })
  }, 60_000)

  afterAll(async () => {
    await shards?.close()
    Entry.use(null)
    await tables?.drop()
  })

  it.each(['asc', 'desc'] as const)('orders NULLs as MySQL does (%s)', async (direction) => {
    const single = await Entry.where({}).orderBy('n', direction).orderBy('id').asyncAll()
    const merged = await across().orderBy('n', direction).orderBy('id').asyncAll()
    expect(ids(merged)).toEqual(ids(single))
    // MySQL: NULL is the smallest value.
    expect((direction === 'asc' ? single[0] : single[single.length - 1])?.n).toBeNull()
    const page = await across().orderBy('n', direction).orderBy('id').offset(20).limit(15).asyncAll()
    expect(ids(page)).toEqual(ids(single).slice(20, 35))
  })

  it('orders DECIMAL and BIGINT columns as numbers', async () => {
    for (const column of ['amount', 'big'] as const) {
      for (const direction of ['asc', 'desc'] as const) {
        const single = await Entry.where({}).orderBy(column, direction).orderBy('id').asyncAll()
        const merged = await across().orderBy(column, direction).orderBy('id').asyncAll()
        expect(ids(merged)).toEqual(ids(single))
      }
    }
    expect(await across().asyncMax('amount')).toBe(100.25)
    expect(await across().asyncMin('big')).toEqual(await Entry.asyncMin('big'))
  })

  it('streams in the order of one database', async () => {
    const single = await Entry.where({}).orderBy('amount', 'desc').orderBy('id').asyncAll()
    const streamed: number[] = []
    for await (const e of across().orderBy('amount', 'desc').orderBy('id').stream({ batchSize: 17 }))
      streamed.push(e.id)
    expect(streamed).toEqual(ids(single))
  })

  it("sums exactly and averages as MySQL's avg rounds", async () => {
    for (const column of ['n', 'amount', 'big'] as const) {
      expect(await across().asyncSum(column)).toEqual(await Entry.asyncSum(column))
      expect(await across().asyncAvg(column)).toEqual(await Entry.asyncAvg(column))
    }
    // avg(1, 1, 2) is 1.3333 on MySQL (scale 0 + 4), not 1.3333333333333333.
    const thirds = await across().where('id', 'in', [1, 2, 3]).asyncAvg('id')
    expect(thirds).toBe(await Entry.where('id', 'in', [1, 2, 3]).asyncAvg('id'))
    const grouped = await across()
      .groupBy('n')
      .orderBy('n')
      .asyncAggregate({ c: 'count', mean: { avg: 'amount' }, total: { sum: 'big' } })
    const oracle = await Entry.where({})
      .groupBy('n')
      .orderBy('n')
      .asyncAggregate({ c: 'count', mean: { avg: 'amount' }, total: { sum: 'big' } })
    expect(grouped).toEqual(oracle)
    expect(grouped[0]?.n).toBeNull() // the NULL group first, as MySQL orders it
  })

  it('refuses to merge text by an unknown collation, naming MySQL; compare makes it possible', async () => {
    const error = (await across()
      .orderBy('label')
      .asyncAll()
      .catch((e: unknown) => e)) as Error
    expect(isUnsupportedCollationError(error)).toBe(true)
    expect(error.message).toContain('label')
    expect(error.message).toContain('MySQL/MariaDB')
    const en = new Intl.Collator('en', { sensitivity: 'base' })
    const merged = await Entry.acrossShards({
      manager: shards,
      compare: (a, b) => en.compare(String(a), String(b)),
    })
      .orderBy('label')
      .orderBy('id')
      .asyncAll()
    const labels = merged.map((e) => e.label)
    const sorted = [...labels].sort((a, b) => en.compare(a, b))
    expect(labels).toEqual(sorted)
    expect(merged).toHaveLength(ROWS)
  })

  it('merges a utf8mb4_nopad_bin column by code point, as the server orders it, without compare', async () => {
    for (const direction of ['asc', 'desc'] as const) {
      const single = await Entry.where({}).orderBy('code', direction).orderBy('id').asyncAll()
      const merged = await across().orderBy('code', direction).orderBy('id').asyncAll()
      expect(ids(merged)).toEqual(ids(single))
    }
    expect(await across().asyncMax('code')).toBe(await Entry.asyncMax('code'))
    expect(await across().asyncMin('code')).toBe(await Entry.asyncMin('code'))
    const groups = await across().groupBy('code').orderBy('code').asyncAggregate({ c: 'count' })
    expect(groups).toEqual(
      await Entry.where({}).groupBy('code').orderBy('code').asyncAggregate({ c: 'count' }),
    )
    // By code point: 'a' < 'a\t' < 'a ' (PAD SPACE would tie 'a' and 'a '), and U+FFFD < '😀'
    // (UTF-16 order would put the surrogate pair first).
    const codePoints = (text: string): number[] => [...text].map((c) => c.codePointAt(0) as number)
    const byCodePoint = (a: string, b: string): number => {
      const x = codePoints(a)
      const y = codePoints(b)
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
      }
      return x.length - y.length
    }
    expect(groups.map((g) => g.code)).toEqual([...new Set(CODES)].sort(byCodePoint))
  })

  it('refuses a PAD SPACE _bin column, naming it and the NO PAD collation to use', async () => {
    const error = (await across()
      .orderBy('padded')
      .asyncAll()
      .catch((e: unknown) => e)) as Error
    expect(isUnsupportedCollationError(error)).toBe(true)
    expect(error.message).toContain('padded has collation utf8mb4_bin')
    expect(error.message).toContain('PAD SPACE')
    expect(error.message).toContain('COLLATE utf8mb4_nopad_bin')
  })

  it('groups, orders and counts DATETIME(6) by the microsecond, which a Date cannot hold', async () => {
    const groups = await across().groupBy('stamp').orderBy('stamp').asyncAggregate({ c: 'count' })
    const oracle = await Entry.where({}).groupBy('stamp').orderBy('stamp').asyncAggregate({ c: 'count' })
    expect(groups).toEqual(oracle)
    // NULL, then .123000, .123110, .123220 and .123330: one millisecond, four values.
    expect(groups).toHaveLength(5)
    expect(await across().asyncCountDistinct('stamp')).toBe(4)
    for (const direction of ['asc', 'desc'] as const) {
      const single = await Entry.where({}).orderBy('stamp', direction).orderBy('id').asyncAll()
      const merged = await across().orderBy('stamp', direction).orderBy('id').asyncAll()
      expect(ids(merged)).toEqual(ids(single))
    }
  })

  it("partial mode: a shard whose table is missing is reported, the others' rows are merged", async () => {
    const empty = await createMysqlTestDatabase('trib_partial')
    const partial = new ShardManager({ ...tables.shards, broken: empty.db }, { ownsDatabases: false })
    try {
      const scope = () => Entry.acrossShards({ manager: partial, onShardError: 'partial' })
      const count = await scope().asyncCount()
      expect(count.complete).toBe(false)
      expect(count.value).toBe(ROWS)
      expect(count.failedShards.map((f) => f.shard)).toEqual(['broken'])
      const page = await scope().orderBy('amount', 'desc').orderBy('id').limit(10).asyncAll()
      expect(ids(page.value)).toEqual(
        ids(await Entry.where({}).orderBy('amount', 'desc').orderBy('id').limit(10).asyncAll()),
      )
      expect(page.failedShards).toHaveLength(1)
      // The same failure without partial mode rejects, naming the shard.
      await expect(Entry.acrossShards({ manager: partial }).asyncCount()).rejects.toThrow(/broken/)
    } finally {
      await partial.close()
      await empty.drop()
    }
  })
})
