/**
 * `createPostgresDatabase`: a Kysely on PostgreSQL whose pg pool cannot crash the process. pg
 * emits `error` on a pooled client whose backend dies (on the pool for an idle client, on the
 * client itself for a checked-out one, after the running query has already been rejected); an
 * `error` event nobody listens for is an uncaught exception. The pools tributary creates or is
 * given here always have a listener, and the interrupted query fails as any other does (an
 * `AsyncExecutionError` naming the model's helper, a `ShardError` naming the shard).
 */
import type { Kysely, PostgresPool } from 'kysely'
import { checkOptions, checks } from '../core/option-checks'
import { requireOptional } from '../core/optional'
import { configureDatabase, type DatabaseOptions } from './connection'
import { loadKysely } from './kysely'

/** pg `Pool` options (`connectionString`, `host`, `max`, …), passed to `new pg.Pool(options)`. */
export type PostgresPoolOptions = Readonly<Record<string, unknown>>

/** A pooled client as far as the guard needs it: something that emits `error`. */
export interface PostgresErrorEmitter {
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** A pg `Pool` (or one that behaves as it does): what Kysely needs, plus its events. */
export interface PostgresPoolLike extends PostgresPool {
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'connect', listener: (client: PostgresErrorEmitter) => void): unknown
}

/** Options of {@link createPostgresDatabase}. */
export interface PostgresDatabaseOptions extends DatabaseOptions {
  /**
   * Called with every error pg emits on the pool or a pooled client (a backend terminated, a
   * socket reset). The query such an error interrupted has been rejected already; the client
   * is removed from the pool. A throw is ignored. Defaults to ignoring them.
   */
  onPoolError?: (error: Error) => void
}

interface PgModule {
  Pool: new (options: PostgresPoolOptions) => PostgresPoolLike
}

const guarded = new WeakSet<object>()

function isPool(target: unknown): target is PostgresPoolLike {
  const pool = target as Partial<PostgresPoolLike> | null
  return typeof pool?.connect === 'function' && typeof pool.on === 'function'
}

/**
 * Listens for `error` on `pool` and on every client it connects from now on, so that a
 * connection dying mid-query fails that query instead of crashing the process. Listening twice
 * on one pool is a no-op. A pool's clients connected before the call are not reached: guard a
 * pool before its first query. @internal
 */
export function guardPostgresPool(pool: PostgresPoolLike, onPoolError?: (error: Error) => void): void {
  if (guarded.has(pool)) return
  guarded.add(pool)
  const report = (error: Error): void => {
    try {
      onPoolError?.(error)
    } catch {
      // A failing report must not become the uncaught exception the listener is there to stop.
    }
  }
  pool.on('error', report)
  pool.on('connect', (client) => client.on('error', report))
}

/**
 * A Kysely on PostgreSQL. `target` is a connection string, pg `Pool` options, or a pg `Pool`
 * (created and not used yet). tributary listens for `error` on the pool and on each client it
 * connects (pg requires a listener: an idle or checked-out client whose backend dies emits
 * one, and without a listener the process crashes); the query that was running fails with the
 * library's usual typed error (`AsyncExecutionError` naming the helper, `ShardError` naming
 * the shard). `onPoolError` sees those errors. `db.destroy()` ends the pool. Throws a
 * `MissingDependencyError` without `pg` when given options or a string.
 *
 * @example
 * ```ts
 * import { createPostgresDatabase, ShardManager } from 'tributary'
 * const db = createPostgresDatabase('postgres://postgres@127.0.0.1:5432/app', { concurrency: 10 })
 * User.use(db)
 * const shards = new ShardManager({
 *   eu: createPostgresDatabase({ connectionString: process.env.EU_URL, max: 10 }),
 *   us: createPostgresDatabase({ connectionString: process.env.US_URL, max: 10 }),
 * })
 * ```
 */
export function createPostgresDatabase<DB = unknown>(
  target: string | PostgresPoolOptions | PostgresPoolLike,
  options: PostgresDatabaseOptions = {},
): Kysely<DB> {
  checkOptions('createPostgresDatabase(target, options)', options, {
    concurrency: checks.integer(1),
    onPoolError: checks.function,
  })
  const { Kysely, PostgresDialect } = loadKysely()
  let pool: PostgresPoolLike
  if (isPool(target)) pool = target
  else {
    if (typeof target !== 'string' && (typeof target !== 'object' || target === null)) {
      throw new TypeError(
        `createPostgresDatabase(target): target must be a connection string, pg Pool options or a pg Pool, got ${
          target === null ? 'null' : typeof target
        }`,
      )
    }
    const { Pool } = requireOptional<PgModule>('pg', 'createPostgresDatabase')
    pool = new Pool(typeof target === 'string' ? { connectionString: target } : target)
  }
  guardPostgresPool(pool, options.onPoolError)
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  if (options.concurrency !== undefined) configureDatabase(db, { concurrency: options.concurrency })
  return db
}
