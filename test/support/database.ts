/**
 * Per-test-file databases, so suites run in parallel and twice in a row without colliding.
 *
 * PostgreSQL: each call creates a fresh database with a unique name and `drop()` removes it
 * (`WITH (FORCE)` ends stray connections). SQLite: a fresh file in a temporary directory.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import { createConnection } from 'mysql2/promise'
import { Client, Pool, type PoolConfig } from 'pg'
import { createMysqlDatabase, type MysqlPoolOptions } from 'tributary'
import { mysqlUrl, pgUrl, type TestDialect } from './services'

/** A throwaway database and a Kysely instance bound to it. */
export interface TestDatabase<DB = any> {
  readonly dialect: TestDialect
  /** The database's name (PostgreSQL, MySQL) or file path (SQLite). */
  readonly name: string
  /** A connection URL (PostgreSQL, MySQL) or file path (SQLite). */
  readonly url: string
  readonly db: Kysely<DB>
  /** Destroys the Kysely instance and removes the database. */
  drop(): Promise<void>
}

/** A URL for database `name` on the server of `pgUrl`. */
export function pgUrlFor(name: string): string {
  const url = new URL(pgUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: pgUrl })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A unique, valid identifier: `<prefix>_<pid>_<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Creates a fresh PostgreSQL database. */
export async function createPgDatabase<DB = any>(
  prefix = 'tributary_test',
  pool: Omit<PoolConfig, 'connectionString'> = {},
): Promise<TestDatabase<DB>> {
  const name = uniqueName(prefix)
  await admin((client) => client.query(`CREATE DATABASE "${name}"`))
  const url = pgUrlFor(name)
  const pg = new Pool({ connectionString: url, max: 10, ...pool })
  // An idle client whose backend is terminated (a fault test, or DROP ... WITH (FORCE) racing the
  // pool's own shutdown) emits 'error' on the pool; pg's docs require a listener, or it crashes.
  pg.on('error', () => undefined)
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: pg }) })
  let dropped = false
  return {
    dialect: 'postgres',
    name,
    url,
    db,
    async drop() {
      if (dropped) return
      dropped = true
      await db.destroy()
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    },
  }
}

/** Creates a fresh SQLite database file in a temporary directory. */
export function createSqliteDatabase<DB = any>(prefix = 'tributary-test'): TestDatabase<DB> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  const file = join(dir, 'db.sqlite')
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) })
  let dropped = false
  return {
    dialect: 'sqlite',
    name: file,
    url: file,
    db,
    async drop() {
      if (dropped) return
      dropped = true
      await db.destroy()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A URL for database `name` on the server of `mysqlUrl`. */
export function mysqlUrlFor(name: string): string {
  const url = new URL(mysqlUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Runs `statement` on an administrative MySQL/MariaDB connection. */
export async function mysqlAdmin(statement: string): Promise<void> {
  const connection = await createConnection({ uri: mysqlUrl })
  try {
    await connection.query(statement)
  } finally {
    await connection.end()
  }
}

/**
 * Creates a fresh MySQL/MariaDB database (`<prefix>_<pid>_<random>`, so parallel runs never
 * share one) with a Kysely from tributary's `createMysqlDatabase`.
 */
export async function createMysqlTestDatabase<DB = any>(
  prefix = 'tributary_test',
  pool: Omit<MysqlPoolOptions, 'uri'> = {},
): Promise<TestDatabase<DB>> {
  const name = uniqueName(prefix)
  await mysqlAdmin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`)
  const url = mysqlUrlFor(name)
  const db = createMysqlDatabase<DB>({ uri: url, connectionLimit: 10, ...pool })
  let dropped = false
  return {
    dialect: 'mysql',
    name,
    url,
    db,
    async drop() {
      if (dropped) return
      dropped = true
      await db.destroy()
      await mysqlAdmin(`DROP DATABASE IF EXISTS \`${name}\``)
    },
  }
}

/** Creates a fresh database of the given dialect. */
export function createTestDatabase<DB = any>(
  dialect: TestDialect,
  prefix?: string,
): Promise<TestDatabase<DB>> {
  if (dialect === 'mysql') return createMysqlTestDatabase<DB>(prefix)
  return dialect === 'postgres'
    ? createPgDatabase<DB>(prefix)
    : Promise.resolve(createSqliteDatabase<DB>(prefix))
}
