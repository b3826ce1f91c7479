// A deterministic data set (seeded PRNG) with skewed keys, nulls and duplicates, loaded once
// into an oracle database and split across shards by hashShardResolver(user_id).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect } from 'kysely'
import { Column, hashShardResolver, Model, Table } from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'

export const ROWS = 100_000
export const SHARDS = ['s0', 's1', 's2', 's3']

export function defineEvent() {
  @Table('events')
  class Event extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ name: 'user_id', type: Number }) userId!: number
    @Column({ type: String }) category!: string | null
    @Column({ type: Number }) score!: number | null
    @Column({ type: Number }) amount!: number
    @Column({ type: String }) label!: string
    @Column({ name: 'happened_at', type: Date }) happenedAt!: Date
  }
  return Event
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface EventRow {
  id: number
  user_id: number
  category: string | null
  score: number | null
  amount: number
  label: string
  happened_at: Date
}

export function generate(rows = ROWS, seed = 20240601): EventRow[] {
  const random = mulberry32(seed)
  const categories = ['alpha', 'alpha', 'alpha', 'beta', 'beta', 'gamma', 'delta', null]
  const base = Date.UTC(2024, 0, 1)
  return Array.from({ length: rows }, (_, i) => ({
    id: i + 1,
    user_id: Math.floor(1_000 * random() ** 3), // skewed: most rows on a few users
    category: categories[Math.floor(random() * categories.length)] ?? null,
    score: random() < 0.1 ? null : Math.floor(random() * 1_000) - 200,
    amount: 2 ** 40 + Math.floor(random() * 2 ** 30), // Σ passes 2^53
    label: `l${Math.floor(random() ** 2 * 5_000)}`,
    happened_at: new Date(base + Math.floor(random() * 365 * 86_400) * 1_000),
  }))
}

const COLUMNS = ['id', 'user_id', 'category', 'score', 'amount', 'label', 'happened_at'] as const

async function load(db: Kysely<any>, dialect: 'postgres' | 'sqlite', rows: EventRow[]): Promise<void> {
  if (dialect === 'postgres') {
    await sql`create table events (id integer primary key, user_id integer not null, category text,
      score integer, amount bigint not null, label text not null, happened_at timestamptz not null)`.execute(
      db,
    )
    for (let i = 0; i < rows.length; i += 25_000) {
      const chunk = rows.slice(i, i + 25_000)
      const col = <K extends keyof EventRow>(k: K) => chunk.map((r) => r[k])
      await sql`insert into events select * from unnest(${col('id')}::int[], ${col('user_id')}::int[],
        ${col('category')}::text[], ${col('score')}::int[], ${col('amount').map(String)}::bigint[],
        ${col('label')}::text[], ${col('happened_at')}::timestamptz[])`.execute(db)
    }
  } else {
    await sql`create table events (id integer primary key, user_id integer not null, category text,
      score integer, amount integer not null, label text not null, happened_at text not null)`.execute(db)
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 2_000) {
        await trx
          .insertInto('events')
          .values(rows.slice(i, i + 2_000).map((r) => ({ ...r, happened_at: r.happened_at.toISOString() })))
          .execute()
      }
    })
  }
  void COLUMNS
}

export interface Fixture {
  readonly oracle: Kysely<any>
  readonly shards: Record<string, Kysely<any>>
  readonly rows: EventRow[]
  drop(): Promise<void>
}

function sqliteKysely(file: string): Kysely<any> {
  const database = new BetterSqlite3(file)
  database.defaultSafeIntegers(true) // exact 64-bit integers (sums pass 2^53)
  database.pragma('journal_mode = WAL')
  return new Kysely<any>({ dialect: new SqliteDialect({ database }) })
}

/** Loads the data set into an oracle database and into four shards. */
export async function createFixture(dialect: 'postgres' | 'sqlite'): Promise<Fixture> {
  const rows = generate()
  const resolver = hashShardResolver(SHARDS)
  const split = new Map<string, EventRow[]>(SHARDS.map((s) => [s, []]))
  for (const r of rows) split.get(resolver.resolve(r.user_id))?.push(r)
  if (dialect === 'postgres') {
    const dbs: TestDatabase[] = await Promise.all(
      ['oracle', ...SHARDS].map((name) => createPgDatabase(`trib_shard_${name}`)),
    )
    const [oracle, ...shardDbs] = dbs as [TestDatabase, ...TestDatabase[]]
    await Promise.all([
      load(oracle.db, dialect, rows),
      ...shardDbs.map((d, i) => load(d.db, dialect, split.get(SHARDS[i] as string) ?? [])),
    ])
    return {
      oracle: oracle.db,
      shards: Object.fromEntries(shardDbs.map((d, i) => [SHARDS[i] as string, d.db])),
      rows,
      drop: async () => void (await Promise.all(dbs.map((d) => d.drop()))),
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'trib-shards-'))
  const oracle = sqliteKysely(join(dir, 'oracle.sqlite'))
  const shards = Object.fromEntries(SHARDS.map((s) => [s, sqliteKysely(join(dir, `${s}.sqlite`))]))
  await Promise.all([
    load(oracle, dialect, rows),
    ...SHARDS.map((s) => load(shards[s] as Kysely<any>, dialect, split.get(s) ?? [])),
  ])
  return {
    oracle,
    shards,
    rows,
    drop: async () => {
      await Promise.all([oracle, ...Object.values(shards)].map((db) => db.destroy()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
