/**
 * Run by test/integration/shard/stream-load.test.ts in a child process with --expose-gc:
 * streams 1,000,000 rows ordered by a microsecond timestamp from 4 PostgreSQL shards (four
 * databases made here, filled by generate_series) and, in lockstep, from one database holding
 * every row, compared through an order-sensitive hash (md5 of the ids in order, computed by
 * that database and by the client as rows arrive: no arrays); samples the heap during the
 * iteration. Prints one JSON line: rows, mismatches, peak heap growth (bytes over the post-GC
 * baseline, garbage included) and live growth (after forced GCs).
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Client, Pool } from 'pg'
import { Column, Model, ShardManager, Table } from '../../src'
import { createHash, randomBytes } from 'node:crypto'

// services.ts and database.ts need jest's globals: their two lines, here.
const pgUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const pgUrlFor = (name: string): string => Object.assign(new URL(pgUrl), { pathname: `/${name}` }).toString()
const uniqueName = (prefix: string): string => `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`

const ROWS = Number(process.env.STREAM_ROWS ?? 1_000_000)
const SHARDS = 4
const BATCH = 1_000

@Table('events')
class Event extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ name: 'created_at', type: Date }) createdAt!: Date
  @Column({ type: String }) label!: string
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

async function admin(text: string): Promise<void> {
  const client = new Client({ connectionString: pgUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

function kysely(name: string): Kysely<any> {
  const pool = new Pool({ connectionString: pgUrlFor(name), max: 2 })
  pool.on('error', () => undefined)
  return new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
}

/** Rows `g` of 1..ROWS where `g % of = part` (all with `of` 1): unique microsecond timestamps. */
async function fill(db: Kysely<any>, part: number, of: number): Promise<void> {
  await sql`create table events (id bigint primary key, created_at timestamptz not null, label text not null)`.execute(
    db,
  )
  // (g * 7919) mod 1000003 is a permutation of g < 1000003: every timestamp differs, many
  // share a millisecond (pg's Date drops the microseconds the merge must order by).
  await sql`insert into events
    select g, timestamptz '2025-01-01 00:00:00+00' + ((g::bigint * 7919) % 1000003) * interval '1 microsecond' * 3,
      'label-' || g
    from generate_series(1, ${ROWS}::int) g where g % ${of}::int = ${part}::int`.execute(db)
  await sql`create index on events (created_at)`.execute(db)
  await sql`analyze events`.execute(db)
}

async function main(): Promise<void> {
  const names = Array.from({ length: SHARDS + 1 }, (_, i) =>
    uniqueName(i === SHARDS ? 'trib_stream_all' : `trib_stream_s${i}`),
  )
  for (const name of names) await admin(`create database "${name}"`)
  const dbs = names.map(kysely)
  const oracle = dbs[SHARDS] as Kysely<any>
  const shardDbs = dbs.slice(0, SHARDS)
  const manager = new ShardManager(Object.fromEntries(shardDbs.map((db, i) => [`s${i}`, db])), {
    ownsDatabases: false,
  })
  try {
    await Promise.all([...shardDbs.map((db, i) => fill(db, i, SHARDS)), fill(oracle, 0, 1)])
    // The order one database holding every row gives, as a hash the server computes.
    const { rows: expected } = await sql<{
      hash: string
      n: string
    }>`select md5(string_agg(id::text, ',' order by created_at)) as hash,
      count(*) as n from events`.execute(oracle)
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      gc?.()
    }
    const baseline = process.memoryUsage().heapUsed
    let peak = baseline
    let live = baseline
    const hash = createHash('md5')
    let rows = 0
    let previous = Number.NEGATIVE_INFINITY
    let misordered = 0
    const started = Date.now()
    for await (const event of Event.acrossShards({ manager })
      .orderBy('createdAt')
      .stream({ batchSize: BATCH })) {
      hash.update(rows === 0 ? String(event.id) : `,${event.id}`)
      const at = event.createdAt.getTime()
      if (at < previous) misordered++
      previous = at
      if (++rows % 5_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
      if (rows % 100_000 === 0) {
        // What the iteration keeps alive (the O(shards × batchSize) claim), garbage collected.
        gc?.()
        live = Math.max(live, process.memoryUsage().heapUsed)
      }
    }
    const mismatches =
      (hash.digest('hex') === expected[0]?.hash ? 0 : 1) +
      (rows === Number(expected[0]?.n) ? 0 : 1) +
      misordered
    const ms = Date.now() - started
    process.stdout.write(
      `${JSON.stringify({ rows, mismatches, peakGrowth: peak - baseline, liveGrowth: live - baseline, ms })}\n`,
    )
  } finally {
    await manager.close()
    await Promise.all(dbs.map((db) => db.destroy()))
    for (const name of names) await admin(`drop database if exists "${name}" with (force)`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`)
  process.exitCode = 1
})
