// acrossShards().stream() and a model scope's stream() against one database holding every row:
// the same rows in the same order (NULLs, descending, text by code point, PostgreSQL
// timestamps to the microsecond), offset/limit, break and abort closing the readers, a
// failing shard named in a ShardError.
import { sql, type Kysely } from 'kysely'
import { Column, isShardError, Model, ShardManager, Table } from 'tributary'
import { testDialects } from '../../support/services'
import { createShardedTables, type ShardedTables } from './sharded-tables'

const ROWS = 3_000

function defineItem() {
  @Table('items')
  class Item extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: Number }) score!: number | null
    @Column({ type: String }) label!: string
    @Column({ name: 'created_at', type: Date }) createdAt!: Date
  }
  return Item
}

function rows(dialect: 'postgres' | 'sqlite'): Record<string, unknown>[] {
  const base = Date.UTC(2025, 0, 1)
  return Array.from({ length: ROWS }, (_, i) => {
    const id = i + 1
    const at = new Date(base + ((id * 7919) % 1_000) * 1_000)
    return {
      id,
      score: id % 11 === 0 ? null : (id * 31) % 97,
      // Code point order differs from UTF-16 order past U+FFFF.
      label: ['a', 'B', 'é', '😀', 'ＡＢ', 'b'][id % 6] + String(id % 13),
      created_at: dialect === 'postgres' ? at : at.toISOString(),
    }
  })
}

const DDL = {
  postgres: `create table items (id integer primary key, score integer, label text collate "C" not null,
    created_at timestamptz not null)`,
  sqlite:
    'create table items (id integer primary key, score integer, label text not null, created_at text not null)',
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const row of iterable) out.push(row)
  return out
}

const ids = (list: Array<{ id: number }>): number[] => list.map((r) => r.id)

describe.each(testDialects())('stream() on %s', (dialect) => {
  const Item = defineItem()
  let tables: ShardedTables
  let shards: ShardManager<any>

  beforeAll(async () => {
    tables = await createShardedTables(dialect, DDL[dialect], 'items', rows(dialect), (_, i) => (i * 7) % 5)
    if (dialect === 'postgres') {
      // Microseconds that pg's Date drops: the merge must order by the exact timestamp.
      const bump = sql`update items set created_at = created_at + (id % 997) * interval '1 microsecond'`
      await Promise.all([tables.oracle, ...Object.values(tables.shards)].map((db) => bump.execute(db)))
    }
    Item.use(tables.oracle)
    shards = new ShardManager(tables.shards, { ownsDatabases: false })
  }, 60_000)

  afterAll(async () => {
    await shards?.close()
    Item.use(null)
    await tables?.drop()
  })

  const across = () => Item.acrossShards({ manager: shards })

  it('merges every shard in the order of one database holding every row', async () => {
    const orders: Array<Array<['score' | 'label' | 'createdAt' | 'id', 'asc' | 'desc']>> = [
      [
        ['score', 'asc'],
        ['id', 'desc'],
      ],
      [
        ['score', 'desc'],
        ['id', 'asc'],
      ],
      [
        ['label', 'asc'],
        ['id', 'asc'],
      ],
      [
        ['createdAt', 'desc'],
        ['id', 'asc'],
      ],
    ]
    for (const order of orders) {
      let a = across().where('id', '>', 10)
      let o = Item.where('id', '>', 10)
      for (const [column, direction] of order) {
        a = a.orderBy(column, direction)
        o = o.orderBy(column, direction)
      }
      const expected = ids(await o.asyncAll())
      expect(expected).toHaveLength(ROWS - 10)
      expect(ids(await collect(a.stream({ batchSize: 97 })))).toEqual(expected)
      // The single database's own stream (cursor or keyset pages) gives the same rows.
      expect(ids(await collect(o.stream({ batchSize: 250 })))).toEqual(expected)
    }
  })

  it('reads rows as model instances and applies offset and limit to the merged order', async () => {
    const scope = across().orderBy('score').orderBy('id').offset(5).limit(300)
    const streamed = await collect(scope.stream({ batchSize: 64 }))
    const oracle = await Item.orderBy('score').orderBy('id').offset(5).limit(300).asyncAll()
    expect(streamed).toEqual(oracle)
    expect(streamed[0]).toBeInstanceOf(Item)
    expect(await collect(across().limit(0).stream())).toEqual([])
  })

  it('without orderBy gives every row once (shard after shard)', async () => {
    const streamed = ids(await collect(across().stream({ batchSize: 500 })))
    expect(streamed).toHaveLength(ROWS)
    expect(new Set(streamed).size).toBe(ROWS)
  })

  it('stops reading when the loop breaks, and a later stream still works', async () => {
    let seen = 0
    for await (const item of across().orderBy('id').stream({ batchSize: 10 })) {
      expect(item.id).toBe(++seen)
      if (seen === 25) break
    }
    expect(seen).toBe(25)
    if (dialect === 'postgres') {
      // Every cursor's transaction is over: no connection is left idle inside one.
      for (const db of Object.values(tables.shards)) {
        const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity
          where datname = current_database() and state like 'idle in transaction%'`.execute(db)
        expect(Number(rows[0]?.n)).toBe(0)
      }
    }
    expect(await collect(across().where('id', '<=', 3).orderBy('id').stream())).toHaveLength(3)
  })

  it('rejects with the signal reason once aborted', async () => {
    const controller = new AbortController()
    const reason = new Error('enough')
    let seen = 0
    const run = (async () => {
      for await (const _ of across().orderBy('id').stream({ batchSize: 10, signal: controller.signal })) {
        if (++seen === 15) controller.abort(reason)
      }
    })()
    await expect(run).rejects.toBe(reason)
    expect(seen).toBe(15)
  })

  it('refuses a bad batchSize and unknown options, naming them', () => {
    expect(() => across().stream({ batchSize: 0 })).toThrow(/batchSize.*must be an integer >= 1, got 0/)
    expect(() => Item.all().stream({ batchSize: 1.5 })).toThrow(/batchSize/)
    expect(() => Item.all().stream({ batchSise: 10 } as never)).toThrow(
      /stream\(options\): unknown option "batchSise" \(did you mean "batchSize"\?\)/,
    )
  })

  it('a failing shard rejects with a ShardError naming it', async () => {
    await sql`alter table items rename to items_gone`.execute(tables.shards.s2 as Kysely<any>)
    try {
      const failed = await collect(across().orderBy('id').stream({ batchSize: 50 })).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isShardError(failed)).toBe(true)
      if (isShardError(failed)) expect(failed.failedShards).toEqual(['s2'])
    } finally {
      await sql`alter table items_gone rename to items`.execute(tables.shards.s2 as Kysely<any>)
    }
  })
})
