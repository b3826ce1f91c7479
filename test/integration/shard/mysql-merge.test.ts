// Cross-shard merges on MySQL/MariaDB against one database holding every row: NULLs sort first
// ascending (as on SQLite, unlike PostgreSQL), DECIMAL and BIGINT (exact text from
// createMysqlDatabase) compare as numbers, not as text, and averages are rounded as MySQL's own
// `avg` rounds them (4 more decimals than the column, half away from zero). Text order is the
// column's collation, which a merge cannot know: refused with a typed error unless `compare`.
import type { Kysely } from 'kysely'
import { Column, isUnsupportedCollationError, Model, ShardManager, Table } from 'tributary'
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
}

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
    }
  })
}

const DDL = `create table ledger (id integer primary key, n integer, amount decimal(12,2), big bigint,
  label varchar(20) not null)`

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
})
