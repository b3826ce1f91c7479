/**
 * Shard databases on a PostgreSQL server of the test's own (see own-postgres.ts), each with an
 * `accounts` table whose `id` is unique only at commit (deferred), so a duplicate fails at
 * PREPARE TRANSACTION.
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Client, Pool } from 'pg'
import { ShardManager } from '../../src/shard/shard-manager'
import { type OwnPostgres } from './own-postgres'

/** Creates databases `names` on `server` with the `accounts` table. */
export async function createShardDatabases(server: OwnPostgres, names: readonly string[]): Promise<void> {
  const admin = new Client({ connectionString: server.url() })
  await admin.connect()
  try {
    for (const name of names) await admin.query(`create database "${name}"`)
  } finally {
    await admin.end()
  }
  for (const name of names) {
    const client = new Client({ connectionString: server.url(name) })
    await client.connect()
    await client.query(
      'create table accounts (id integer not null, constraint accounts_id unique (id) deferrable initially deferred)',
    )
    await client.end()
  }
}

/** A manager over databases `names` of `server`. */
export function shardManager(server: OwnPostgres, names: readonly string[]): ShardManager<any> {
  return new ShardManager(
    Object.fromEntries(
      names.map((name) => {
        const pool = new Pool({ connectionString: server.url(name), max: 4 })
        pool.on('error', () => undefined)
        return [name, new Kysely<any>({ dialect: new PostgresDialect({ pool }) })]
      }),
    ),
  )
}

/** Every shard's account ids, sorted. */
export async function ids(manager: ShardManager<any>): Promise<{ [shard: string]: number[] }> {
  const out: Record<string, number[]> = {}
  for (const name of manager.names) {
    const { rows } = await sql<{ id: number }>`select id from accounts order by id`.execute(
      manager.database(name),
    )
    out[name] = rows.map((r) => r.id)
  }
  return out
}

/** Prepared transactions left on every shard's database. */
export async function preparedCount(manager: ShardManager<any>): Promise<number> {
  let n = 0
  for (const name of manager.names) {
    const { rows } = await sql<{
      n: string
    }>`select count(*) as n from pg_prepared_xacts where database = current_database()`.execute(
      manager.database(name),
    )
    n += Number(rows[0]?.n)
  }
  return n
}
