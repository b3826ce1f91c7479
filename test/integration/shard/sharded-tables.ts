// A table loaded into one oracle database holding every row and into shards holding a split of
// the rows, on PostgreSQL or MySQL/MariaDB (a database each, test/support/database.ts) or SQLite
// (in memory, safeIntegers on: exact 64-bit integers).
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect } from 'kysely'
import { createMysqlTestDatabase, createPgDatabase, type TestDatabase } from '../../support/database'

export interface ShardedTables {
  readonly oracle: Kysely<any>
  readonly shards: Record<string, Kysely<any>>
  drop(): Promise<void>
}

function sqliteMemory(): Kysely<any> {
  const database = new BetterSqlite3(':memory:')
  database.defaultSafeIntegers(true)
  return new Kysely<any>({ dialect: new SqliteDialect({ database }) })
}

async function load(
  db: Kysely<any>,
  ddl: string,
  table: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  await sql.raw(ddl).execute(db)
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500)
    if (chunk.length > 0) await db.insertInto(table).values(chunk).execute()
  }
}

/** Creates the oracle and `names.length` shards; row `i` goes to shard `shardOf(row, i)`. */
export async function createShardedTables(
  dialect: 'postgres' | 'sqlite' | 'mysql',
  ddl: string,
  table: string,
  rows: Record<string, unknown>[],
  shardOf: (row: Record<string, unknown>, i: number) => number,
  names: readonly string[] = ['s0', 's1', 's2', 's3'],
): Promise<ShardedTables> {
  const split = names.map((): Record<string, unknown>[] => [])
  rows.forEach((row, i) => split[shardOf(row, i) % names.length]?.push(row))
  if (dialect === 'postgres' || dialect === 'mysql') {
    const dbs: TestDatabase[] = await Promise.all(
      ['oracle', ...names].map((n) =>
        dialect === 'postgres'
          ? createPgDatabase(`trib_exact_${n}`, { max: 4 })
          : createMysqlTestDatabase(`trib_exact_${n}`, { connectionLimit: 4 }),
      ),
    )
    const [oracle, ...shardDbs] = dbs as [TestDatabase, ...TestDatabase[]]
    await Promise.all([
      load(oracle.db, ddl, table, rows),
      ...shardDbs.map((d, i) => load(d.db, ddl, table, split[i] ?? [])),
    ])
    return {
      oracle: oracle.db,
      shards: Object.fromEntries(shardDbs.map((d, i) => [names[i] as string, d.db])),
      drop: async () => void (await Promise.all(dbs.map((d) => d.drop()))),
    }
  }
  const oracle = sqliteMemory()
  const shards = Object.fromEntries(names.map((n) => [n, sqliteMemory()]))
  await load(oracle, ddl, table, rows)
  await Promise.all(names.map((n, i) => load(shards[n] as Kysely<any>, ddl, table, split[i] ?? [])))
  return {
    oracle,
    shards,
    drop: async () => void (await Promise.all([oracle, ...Object.values(shards)].map((db) => db.destroy()))),
  }
}
