/**
 * A Kysely on MySQL or MariaDB through `mysql2` (an optional peer dependency, loaded on first
 * use), with the driver options that keep models and cross-shard merges exact: `BIGINT` and
 * `DECIMAL` as text (read back as numbers, or `bigint`s past 2^53, like pg's), and every
 * connection in UTC (`timezone: 'Z'` for the values mysql2 binds and parses, `time_zone =
 * '+00:00'` for `TIMESTAMP` columns on the server).
 */
import type { Kysely, MysqlPool } from 'kysely'
import { CompiledQuery, loadKysely } from './kysely'
import { checkOptions, checks } from '../core/option-checks'
import { requireOptional } from '../core/optional'
import { configureDatabase, type DatabaseOptions } from './connection'

/**
 * mysql2 pool options (see mysql2's `PoolOptions`), as plain data: `uri` or `host`/`port`/
 * `user`/`password`/`database`, `connectionLimit`, and any other mysql2 option.
 */
export interface MysqlPoolOptions {
  /** A connection URL, e.g. `mysql://root@127.0.0.1:3306/app`. */
  uri?: string
  host?: string
  port?: number
  user?: string
  password?: string
  database?: string
  /** Connections in the pool. Defaults to mysql2's 10. */
  connectionLimit?: number
  /** Any other mysql2 pool option. */
  [option: string]: unknown
}

/** Options of {@link createMysqlDatabase}. */
export interface MysqlDatabaseOptions extends DatabaseOptions {
  /**
   * Whether to run `set time_zone = '+00:00'` on each new connection, so that `TIMESTAMP`
   * columns read and write UTC as mysql2's `timezone: 'Z'` assumes. Defaults to `true`.
   */
  utc?: boolean
}

/** What tributary sets on a pool it creates (a caller's own options cannot turn them off). */
const EXACT = {
  supportBigNumbers: true,
  bigNumberStrings: true,
  decimalNumbers: false,
  timezone: 'Z',
} as const

interface Mysql2 {
  createPool(options: Record<string, unknown>): MysqlPool
}

function isPool(target: unknown): target is MysqlPool {
  return typeof (target as Partial<MysqlPool> | null)?.getConnection === 'function'
}

/**
 * A Kysely on MySQL/MariaDB. `target` is a URL, mysql2 pool options, or a mysql2 pool (from
 * `mysql2`'s `createPool`, not `mysql2/promise`). A pool tributary creates returns `BIGINT`,
 * `DECIMAL` and sums as exact text and works in UTC; a pool you pass keeps its own options:
 * give it `supportBigNumbers: true, bigNumberStrings: true` or `BIGINT`s past 2^53 arrive
 * rounded. `db.destroy()` ends the pool. Throws a `MissingDependencyError` without mysql2.
 *
 * @example
 * ```ts
 * import { createMysqlDatabase } from 'tributary'
 * const db = createMysqlDatabase('mysql://root@127.0.0.1:3306/app')
 * User.use(db)
 * console.log(await User.where({ active: true }).asyncCount())
 * await db.destroy()
 * ```
 */
export function createMysqlDatabase<DB = unknown>(
  target: string | MysqlPoolOptions | MysqlPool,
  options: MysqlDatabaseOptions = {},
): Kysely<DB> {
  checkOptions('createMysqlDatabase(target, options)', options, {
    concurrency: checks.integer(1),
    utc: checks.boolean,
  })
  const { Kysely, MysqlDialect } = loadKysely()
  let pool: MysqlPool
  if (isPool(target)) pool = target
  else {
    const mysql = requireOptional<Mysql2>('mysql2', 'createMysqlDatabase')
    const config = typeof target === 'string' ? { uri: target } : target
    pool = mysql.createPool({ ...config, ...EXACT })
  }
  const utc = options.utc ?? true
  const db = new Kysely<DB>({
    dialect: new MysqlDialect({
      pool,
      onCreateConnection: utc
        ? async (connection) =>
            void (await connection.executeQuery(CompiledQuery.raw("set time_zone = '+00:00'")))
        : undefined,
    }),
  })
  if (options.concurrency !== undefined) configureDatabase(db, { concurrency: options.concurrency })
  return db
}
