/**
 * Shards on PostgreSQL (four databases on the local server, one pool each):
 * 1. `User.acrossShards()` helpers against a hand-written `Promise.all` over the same four
 *    queries built with raw Kysely (the merge done by hand), per fan-out. Goal: <= 1.10x.
 * 2. with every shard's query taking 50 ms (`pg_sleep(0.05)` behind a view), the wall time of
 *    one fan-out over the four shards against one shard's query alone, and against 50 ms.
 *    Goal: under 1.3x the single-shard latency.
 * 3. the client's work alone: the same fan-outs over four PostgreSQL-dialect databases whose
 *    driver answers at once with canned rows (no socket, no server), client CPU per fan-out
 *    against the hand-written `Promise.all` on the same drivers — the steady figure on a
 *    shared machine.
 * Skipped, with a printed line, when PostgreSQL is not reachable.
 */
import 'reflect-metadata'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Client, Pool } from 'pg'
import { Column, Model, ShardManager, Table } from '../src'
import { compare, cpuPerOp, measure, report, type ComparisonResult } from './support/harness'
import { instantPostgres as cannedPostgres } from './support/instant-postgres'

const PG_URL = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SHARDS = ['s0', 's1', 's2', 's3']
const ROWS_PER_SHARD = 2_500
const OPS = 200

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() active!: boolean
  @Column() score!: number
}

@Table('slow_users')
class SlowUser extends Model {
  @Column({ primary: true }) id!: number
}

type Db = Kysely<any>

function pool(url: string): Pool {
  const p = new Pool({ connectionString: url, max: 10 })
  p.on('error', () => undefined)
  return p
}

async function seed(db: Db, shard: number): Promise<void> {
  await sql`create table users (id integer primary key, active boolean not null, score integer not null)`.execute(
    db,
  )
  await sql`insert into users select g, g % 3 <> 0, (g * 7919) % 1000
    from generate_series(${shard * ROWS_PER_SHARD + 1}::int, ${(shard + 1) * ROWS_PER_SHARD}::int) g`.execute(
    db,
  )
  await sql`analyze users`.execute(db)
  await sql`create function slow_ids() returns setof int language sql as $$ select pg_sleep(0.05); select 1 $$`.execute(
    db,
  )
  await sql`create view slow_users as select id from slow_ids() as id`.execute(db)
}

/** [case, tributary fan-out, hand-written Promise.all over raw Kysely]. */
function cases(dbs: Db[]): Array<[string, () => PromiseLike<unknown>, () => Promise<unknown>]> {
  return [
    [
      'where().asyncCount',
      () => User.acrossShards().where({ active: true }).asyncCount(),
      async () => {
        const rows = await Promise.all(
          dbs.map((db) =>
            db
              .selectFrom('users')
              .where('active', '=', true)
              .select(sql`count(*)`.as('n'))
              .executeTakeFirstOrThrow(),
          ),
        )
        return rows.reduce((total, r) => total + Number(r.n), 0)
      },
    ],
    [
      'asyncAvg (Σsum/Σcount)',
      () => User.acrossShards().asyncAvg('score'),
      async () => {
        const rows = await Promise.all(
          dbs.map((db) =>
            db
              .selectFrom('users')
              .select([sql`sum(score)`.as('s'), sql`count(score)`.as('n')])
              .executeTakeFirstOrThrow(),
          ),
        )
        const n = rows.reduce((total, r) => total + Number(r.n), 0)
        return n === 0 ? null : rows.reduce((total, r) => total + Number(r.s ?? 0), 0) / n
      },
    ],
    [
      'orderBy().limit(20).asyncPluck',
      () => User.acrossShards().orderBy('score', 'desc').orderBy('id').limit(20).asyncPluck('id'),
      async () => {
        const lists = await Promise.all(
          dbs.map((db) =>
            db
              .selectFrom('users')
              .select(['id', 'score'])
              .orderBy('score', 'desc')
              .orderBy('id')
              .limit(20)
              .execute(),
          ),
        )
        return lists
          .flat()
          .sort((a, b) => b.score - a.score || a.id - b.id)
          .slice(0, 20)
          .map((r) => r.id)
      },
    ],
  ]
}

/** A PostgreSQL Kysely whose driver answers every query at once with canned rows. */
function instantPostgres(): Db {
  const rows = Array.from({ length: 20 }, (_, i) => ({
    id: i + 1,
    score: 1_000 - i,
    o0: 1_000 - i,
    o1: i + 1,
  }))
  return cannedPostgres((sql) => {
    if (sql.includes('count(')) return [{ n: '2500', s: '1250000' }]
    return rows.map((r) => ({ ...r, v: r.id }))
  })
}

async function clientWorkAlone(extra: Record<string, unknown>): Promise<void> {
  const dbs = SHARDS.map(() => instantPostgres())
  const shards = new ShardManager(Object.fromEntries(SHARDS.map((s, i) => [s, dbs[i] as Db])))
  User.use(shards)
  for (const [name, subject, baseline] of cases(dbs)) {
    const [subjectCpu, baselineCpu] = await cpuPerOp(subject, baseline, 2_000)
    extra[
      `client work alone (instant pg drivers) 4 shards ${name}: CPU µs/op, acrossShards / Promise.all (goal <= 1.10x)`
    ] = `${subjectCpu.toFixed(1)} / ${baselineCpu.toFixed(1)} = ${(subjectCpu / baselineCpu).toFixed(2)}x`
  }
  User.use(null)
  await shards.close()
}

async function main(): Promise<void> {
  const instant: Record<string, unknown> = {}
  await clientWorkAlone(instant)
  const admin = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 })
  const reachable = await admin.connect().then(
    () => true,
    () => false,
  )
  if (!reachable) {
    console.log(`PostgreSQL not reachable at ${PG_URL}: skipping the shard benchmark`)
    report('shards', [], { skipped: `PostgreSQL not reachable at ${PG_URL}`, ...instant })
    return
  }
  const names = SHARDS.map((s) => `tributary_bench_${s}_${process.pid}`)
  const dbs: Db[] = []
  let shards: ShardManager<any> | undefined
  try {
    for (const name of names) {
      await admin.query(`create database "${name}"`)
      const url = new URL(PG_URL)
      url.pathname = `/${name}`
      dbs.push(new Kysely({ dialect: new PostgresDialect({ pool: pool(url.toString()) }) }))
    }
    await Promise.all(dbs.map((db, i) => seed(db, i)))
    shards = new ShardManager(Object.fromEntries(SHARDS.map((s, i) => [s, dbs[i] as Db])))
    User.use(shards)
    SlowUser.use(shards)

    const results: ComparisonResult[] = []
    const extra: Record<string, unknown> = { ...instant }
    for (const [name, subject, baseline] of cases(dbs)) {
      const [a, b] = await Promise.all([subject(), baseline()])
      // The merged avg is PostgreSQL's own numeric avg; the hand-merged one is a float division.
      const same =
        typeof a === 'number' && typeof b === 'number'
          ? Math.abs(a - b) <= Math.abs(b) * 1e-12
          : JSON.stringify(a) === JSON.stringify(b)
      if (!same) throw new Error(`${name}: ${String(a)} != ${String(b)}`)
      results.push(
        await compare(
          `4 shards ${name}`,
          {
            label: 'acrossShards',
            run: async () => {
              for (let i = 0; i < OPS; i++) await subject()
            },
          },
          {
            label: 'Promise.all raw Kysely',
            run: async () => {
              for (let i = 0; i < OPS; i++) await baseline()
            },
          },
          { operationsPerRun: OPS, runs: 15, goal: '<= 1.10x' },
        ),
      )
      // Wall time on a shared machine is noisy; the client's CPU time per fan-out is what
      // tributary adds, so it is reported beside it.
      const [subjectCpu, baselineCpu] = await cpuPerOp(subject, baseline, OPS)
      extra[`4 shards ${name}: client CPU µs/op, acrossShards / Promise.all (goal <= 1.10x)`] =
        `${subjectCpu.toFixed(0)} / ${baselineCpu.toFixed(0)} = ${(subjectCpu / baselineCpu).toFixed(2)}x`
    }

    const slowFanOut = {
      label: 'acrossShards (4 x 50 ms)',
      run: async () => {
        await SlowUser.acrossShards().asyncCount()
      },
    }
    const slowOne = {
      label: 'one shard (50 ms)',
      run: async () => {
        await shards?.withShard('s0', () => SlowUser.asyncCount())
      },
    }
    results.push(
      await compare('4 x pg_sleep(0.05) fan-out vs one shard', slowFanOut, slowOne, {
        runs: 15,
        goal: '< 1.3x',
      }),
    )
    const fanOutMs = await measure(slowFanOut, 15)
    extra['fan-out of 4 x 50 ms / 50 ms'] = fanOutMs / 50
    extra['fan-out of 4 x 50 ms (ms)'] = fanOutMs
    report('shards', results, extra)
  } finally {
    await shards?.close()
    await Promise.all(dbs.map((db) => db.destroy().catch(() => undefined)))
    for (const name of names) await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.end()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
