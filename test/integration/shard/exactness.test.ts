// The four ways cross-shard answers used to differ from one database holding every row: text
// past U+FFFF ordered by UTF-16 code units, a PostgreSQL aggregate of an ordered scope (see
// test/integration/model/models.test.ts), decimals added as floats, and timestamps cut to
// milliseconds in merge keys. Each answer here is compared with the oracle database's own.
import { sql } from 'kysely'
import { AsyncMetrics, Column, isUnsupportedCollationError, Model, ShardManager, Table } from 'tributary'
import { testDialects } from '../../support/services'
import { createShardedTables, type ShardedTables } from './sharded-tables'

const NAMES = ['😀', 'ＡＢ', '𝒜', '\uE000x', 'a', 'z', 'Ｚ', '🎉', 'ＡＢ', '😀']
// -0.95 and -0.96 on different shards: their mean is -0.955 exactly.
const PRICES = ['0.10', '0.20', '-0.95', '-0.96', '12.34', '0.01', '99.99', '-0.03', '0.10', '7.77']

describe.each(testDialects())('cross-shard merges on %s are exact', (dialect) => {
  @Table('items')
  class Item extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: String }) name!: string
    @Column({ type: Number }) price!: number
    @Column({ type: String }) grp!: string
    @Column({ type: Date }) at!: Date
  }
  let tables: ShardedTables
  let shards: ShardManager<any>

  beforeAll(async () => {
    const pg = dialect === 'postgres'
    const rows = NAMES.map((name, i) => ({
      id: i + 1,
      name,
      price: pg ? PRICES[i] : Number(PRICES[i]),
      grp: i === 2 || i === 3 ? 'mean' : 'other',
      // Ten timestamps within one millisecond, one microsecond apart, in an order unlike id's.
      at: pg
        ? `2024-01-01 00:00:00.123${String((i * 7) % 10)}00+00`
        : `2024-01-01T00:00:00.123${String((i * 7) % 10)}00Z`,
    }))
    const ddl = pg
      ? `create table items (id integer primary key, name text collate "C", price numeric(12,2),
          grp text, at timestamptz, label text collate "en-x-icu")`
      : `create table items (id integer primary key, name text, price real, grp text, at text, label text)`
    tables = await createShardedTables(dialect, ddl, 'items', rows, (_, i) => i)
    Item.use(tables.oracle)
    shards = new ShardManager(tables.shards, { ownsDatabases: false })
  }, 60_000)

  afterAll(async () => {
    await shards?.close()
    Item.use(null)
    await tables?.drop()
  })

  const across = () => Item.acrossShards({ manager: shards })
  const column = async (query: ReturnType<typeof sql>): Promise<unknown[]> =>
    (await query.execute(tables.oracle)).rows.map((r) => (r as { v: unknown }).v)

  it('orders text by code point, as the database does (past U+FFFF after U+E000–U+FFFF)', async () => {
    const expected = await column(sql`select name as v from items order by name, id`)
    expect(await across().orderBy('name').orderBy('id').asyncPluck('name')).toEqual(expected)
    expect(await across().orderBy('name', 'desc').limit(3).asyncPluck('name')).toEqual(
      await column(sql`select name as v from items order by name desc, id limit 3`),
    )
    expect(await across().asyncMin('name')).toBe(await Item.asyncMin('name'))
    expect(await across().asyncMax('name')).toBe(await Item.asyncMax('name'))
    const groups = await across().groupBy('name').asyncAggregate({ n: 'count' })
    expect(groups.map((g) => g.name)).toEqual(
      await column(sql`select name as v from items group by name order by name`),
    )
  })

  it('merges decimals exactly, as the single database answers', async () => {
    expect(await across().where('id', 'in', [1, 2]).asyncSum('price')).toBe(
      await Item.where('id', 'in', [1, 2]).asyncSum('price'),
    )
    expect(await across().asyncSum('price')).toBe(await Item.asyncSum('price'))
    expect(await across().asyncAvg('price')).toBe(await Item.asyncAvg('price'))
    const merged = await across()
      .groupBy('grp')
      .asyncAggregate({ mean: { avg: 'price' }, total: { sum: 'price' } })
    expect(merged).toEqual(
      await Item.groupBy('grp').asyncAggregate({ mean: { avg: 'price' }, total: { sum: 'price' } }),
    )
    if (dialect === 'postgres') {
      expect(await across().where('id', 'in', [1, 2]).asyncSum('price')).toBe(0.3)
      expect(merged.find((g) => g.grp === 'mean')?.mean).toBe(-0.955)
    }
  })

  it('keeps sub-millisecond timestamps apart in order, distinct and group keys', async () => {
    expect(await across().orderBy('at').asyncPluck('id')).toEqual(
      (await column(sql`select id as v from items order by at`)).map(Number),
    )
    expect(await across().orderBy('at', 'desc').limit(4).offset(2).asyncPluck('id')).toEqual(
      (await column(sql`select id as v from items order by at desc limit 4 offset 2`)).map(Number),
    )
    expect(await across().asyncCountDistinct('at')).toBe(10)
    expect(await Item.asyncCountDistinct('at')).toBe(10)
    expect(await across().groupBy('at').asyncAggregate({ n: 'count' })).toHaveLength(10)
  })

  it('asyncFind, asyncFindBy and asyncPick across shards; a pinned shard key asks only its shard', async () => {
    // Row i lives on shard i % 4 (see beforeAll): a resolver saying so routes by id.
    const resolver = { resolve: (id: string | number | bigint) => `s${(Number(id) - 1) % 4}` }
    const routed = Item.acrossShards({ manager: shards, shardKey: { column: 'id', resolver } })
    const ran = (): Record<string, number> =>
      Object.fromEntries(
        Object.entries(AsyncMetrics.snapshot().operations)
          .filter(([name]) => name.startsWith('Item.acrossShards.asyncFind@'))
          .map(([name, stats]) => [name.split('@')[1], stats.total]),
      )
    const before = ran()
    const found = await routed.asyncFind(7)
    expect(found).toEqual(await Item.asyncFind(7))
    expect(found).toBeInstanceOf(Item)
    const after = ran()
    expect(Object.keys(after).filter((s) => after[s] !== before[s])).toEqual(['s2'])
    expect(await across().asyncFind(7)).toEqual(found) // unrouted: every shard, one row
    expect(await across().asyncFind(999)).toBeUndefined()
    expect(await routed.asyncFindBy({ id: 3 })).toEqual(await Item.asyncFindBy({ id: 3 }))
    expect(await across().orderBy('at').asyncFindBy({ grp: 'other' })).toEqual(
      await Item.orderBy('at').asyncFindBy({ grp: 'other' }),
    )
    expect(await across().orderBy('name').asyncPick('id')).toBe(
      await Item.orderBy('name').orderBy('id').asyncPick('id'),
    )
    expect(await across().where('id', '>', 99).asyncPick('name')).toBeNull()
    expect(await Item.where('id', '>', 99).asyncPick('name')).toBeNull()
    expect(await routed.where('id', 'in', []).asyncCount()).toBe(0)
  })

  if (dialect === 'postgres') {
    it('refuses to merge a collation it does not know, naming model and column, unless given compare', async () => {
      @Table('items')
      class Labelled extends Model {
        @Column({ primary: true, type: Number }) id!: number
        @Column({ type: String }) label!: string | null
      }
      const refused = await Labelled.acrossShards({ manager: shards })
        .orderBy('label')
        .asyncPluck('id')
        .catch((e: unknown) => e)
      expect(isUnsupportedCollationError(refused)).toBe(true)
      expect(refused).toMatchObject({ model: 'Labelled', property: 'label' })
      expect(String((refused as Error).message)).toMatch(/compare/)
      const collator = new Intl.Collator('en')
      await expect(
        Labelled.acrossShards({ manager: shards, compare: (a, b) => collator.compare(String(a), String(b)) })
          .orderBy('label')
          .asyncPluck('id'),
      ).resolves.toHaveLength(10)
      await expect(Labelled.acrossShards({ manager: shards }).asyncMax('label')).rejects.toMatchObject({
        property: 'label',
      })
    })
  }
})
