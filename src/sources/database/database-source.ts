/**
 * `databaseSource(db)`: components read with SQL through a Kysely instance.
 */
import { redactSecrets } from '../../core/redact'
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import type { Kysely } from 'kysely'
import { raceAbort, throwIfAborted } from '../../core/abort'
import { requireOptional } from '../../core/optional'
import {
  NETWORK_UNAVAILABLE_CODES,
  SourceError,
  SourceNotFoundError,
  SourceUnavailableError,
  selectField,
  selectJsonField,
  type ComponentRequest,
  type SourceContext,
} from '../source'
import type { WatchableSource } from '../watch'
import { createChannelListener, type ChannelListener, type ListenConnection } from './database-listener'
import { watchDatabase } from './database-watcher'

/** What `databaseSource(db, options)` may hold. */
const DATABASE_OPTIONS: OptionSpec = {
  table: checks.name,
  keyColumn: checks.name,
  valueColumn: checks.name,
  name: checks.name,
  notify: checks.nested({
    channel: checks.name,
    connection: true,
    safetyPollInterval: checks.duration({ positive: true }),
  }),
}

/**
 * PostgreSQL `LISTEN`/`NOTIFY` for a {@link databaseSource}'s watchers: one connection of the
 * source's own listens on `channel`, and every notification re-runs the watched queries at once.
 * Install a trigger that notifies with {@link installChangeNotifier}, or send `NOTIFY` yourself.
 */
export interface DatabaseNotifyOptions {
  /** The channel to `LISTEN` on (any payload; a notification means "re-read"). */
  readonly channel: string
  /**
   * How the `LISTEN` connection is opened: a connection string or a `pg` client config (the
   * optional peer `pg` is loaded then), or a function returning a new, unconnected `pg.Client`.
   * Kysely's pool cannot be used: a listening connection must stay out of it.
   */
  readonly connection: ListenConnection
  /**
   * While listening, the query still runs every this many ms, for a change no notification
   * announced. Defaults to 30_000. (While not listening, the component's `pollInterval` applies,
   * defaulting to 5_000.)
   */
  readonly safetyPollInterval?: number
}

/** Options of {@link databaseSource}. */
export interface DatabaseSourceOptions {
  /** The key/value table `key` reads from. Defaults to `'config'`. */
  readonly table?: string
  /** The column holding keys. Defaults to `'key'`. */
  readonly keyColumn?: string
  /** The column holding values. Defaults to `'value'`. */
  readonly valueColumn?: string
  /** The name `fetchFrom` refers to. Defaults to `'database'`. */
  readonly name?: string
  /**
   * PostgreSQL only: watch with `LISTEN`/`NOTIFY` instead of polling alone (see
   * {@link DatabaseNotifyOptions}). Defaults to none: the watchers poll at `pollInterval`.
   */
  readonly notify?: DatabaseNotifyOptions
}

/**
 * Opens the database a {@link databaseSource} reads, from the values the component
 * `dependsOn` (for example a URL resolved from Vault). Called on the first fetch; its answer is
 * kept until `close()`, which destroys it.
 */
export type DatabaseFactory<DB> = (
  resolved: Readonly<Record<string, unknown>>,
) => Kysely<DB> | Promise<Kysely<DB>>

/** The part of `kysely` this source loads lazily (kysely is an optional peer dependency). */
interface KyselyModule {
  sql: { raw<R>(sql: string): { execute(db: Kysely<never>): Promise<{ rows: R[] }> } }
}

/**
 * A source reading SQL through Kysely (PostgreSQL, SQLite, MySQL…). A component's `query`
 * runs as written and gives the first column of the first row; a `key` reads `valueColumn`
 * from the key/value `table` with the key as a bound parameter. No row is a
 * `SourceNotFoundError`; `field` picks a dotted path from a JSON value. Kysely cannot cancel a
 * running query: an aborted signal rejects at once and the query's result is ignored. `watch`
 * re-runs the query at `pollInterval`, or on PostgreSQL with `notify` when a `NOTIFY` arrives
 * (see `watchDatabase`).
 *
 * @example
 * ```ts
 * import { Component, databaseSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'database', key: 'db_url' }) databaseUrl!: string
 *   @Component({ fetchFrom: 'database', query: 'SELECT max(version) FROM migrations' }) schema!: number
 * }
 * const config = await resolve(AppConfig, { sources: [databaseSource(db, { table: 'settings' })] })
 * ```
 *
 * Pass a {@link DatabaseFactory} instead of a Kysely instance to open the connection from
 * values resolved first — the database URL kept in Vault:
 *
 * ```ts
 * class AppConfig {
 *   @Component({ fetchFrom: 'vault', key: 'secret/data/db', field: 'url', secret: true }) databaseUrl!: string
 *   @Component({ fetchFrom: 'database', key: 'max_connections', dependsOn: 'databaseUrl' }) maxConnections!: number
 * }
 * const database = databaseSource(({ databaseUrl }) =>
 *   new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: String(databaseUrl) }) }) }))
 * const config = await resolve(AppConfig, { sources: [vaultSource(), database] })
 * await database.close?.() // destroys the Kysely the factory opened
 * ```
 */
export function databaseSource<DB>(
  dbOrFactory: Kysely<DB> | DatabaseFactory<DB>,
  options: DatabaseSourceOptions = {},
): WatchableSource {
  checkOptions('databaseSource(db, options)', options, DATABASE_OPTIONS)
  const name = options.name ?? 'database'
  const listener = options.notify ? notifyListener(name, options.notify) : undefined
  let opened: Promise<Kysely<DB>> | undefined
  const open = (
    factory: DatabaseFactory<DB>,
    resolved: Readonly<Record<string, unknown>>,
  ): Promise<Kysely<DB>> => {
    opened ??= Promise.resolve()
      .then(() => factory(resolved))
      .catch((error: unknown) => {
        opened = undefined
        // The factory's message may quote what it was given (a URL with a password): mask it.
        const reason = redactSecrets(
          error instanceof Error ? error.message : String(error),
          Object.values(resolved).filter((value) => typeof value === 'string'),
          4,
        )
        throw new SourceUnavailableError(
          { source: name, cause: new Error(reason) },
          `${name}: opening the database failed: ${reason}`,
        )
      })
    return opened
  }
  const table = options.table ?? 'config'
  const keyColumn = options.keyColumn ?? 'key'
  const valueColumn = options.valueColumn ?? 'value'
  const source: WatchableSource = {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const label = request.query ?? request.key ?? request.property
      const details = { source: name, key: label }
      let row: Record<string, unknown> | undefined
      const db = typeof dbOrFactory === 'function' ? await open(dbOrFactory, context.resolved) : dbOrFactory
      const untyped = db as unknown as Kysely<Record<string, Record<string, unknown>>>
      // Loaded outside the try, so a missing kysely is not reported as a failed query.
      const sql = request.query !== undefined ? loadKysely().sql : undefined
      try {
        if (request.query !== undefined && sql !== undefined) {
          const result = await raceAbort(
            sql.raw<Record<string, unknown>>(request.query).execute(db as unknown as Kysely<never>),
            context.signal,
          )
          row = result.rows[0]
        } else {
          const key = request.key ?? request.property
          row = (await raceAbort(
            untyped
              .selectFrom(table)
              .select(valueColumn)
              .where(keyColumn, '=', key)
              .limit(1)
              .executeTakeFirst(),
            context.signal,
          )) as Record<string, unknown> | undefined
        }
      } catch (error) {
        if (context.signal.aborted) throw error
        throw queryError(error, name, label, request.query === undefined ? table : undefined)
      }
      if (row === undefined) {
        throw new SourceNotFoundError(
          details,
          request.query === undefined
            ? `${name}: key ${JSON.stringify(label)} not found in table ${table}`
            : `${name}: query returned no row: ${label}`,
        )
      }
      const value = request.query === undefined ? row[valueColumn] : Object.values(row)[0]
      if (request.field === undefined) return value
      return typeof value === 'string'
        ? selectJsonField(value, request.field, details)
        : selectField(value, request.field, details)
    },
    watch: (request, watchOptions) =>
      watchDatabase(
        source,
        request,
        watchOptions,
        listener && {
          listener: listener(watchOptions.backoff),
          ...(options.notify?.safetyPollInterval === undefined
            ? {}
            : { safetyPollInterval: options.notify.safetyPollInterval }),
        },
      ),
    async close(): Promise<void> {
      const pending = opened
      opened = undefined
      if (pending) await pending.then((db) => db.destroy()).catch(() => undefined)
    },
  }
  return source
}

/** Checks `notify`; the listener is created on the first watch (with that watch's backoff). */
function notifyListener(
  name: string,
  notify: DatabaseNotifyOptions,
): (backoff: Parameters<typeof createChannelListener>[3]) => ChannelListener {
  const bad = (message: string): SourceError =>
    new SourceError(`${name}: notify.${message}`, { source: name })
  if (typeof notify.channel !== 'string' || notify.channel.length === 0 || notify.channel.length > 63) {
    throw bad('channel must be a PostgreSQL identifier of 1 to 63 characters')
  }
  const { connection } = notify
  if (!(
    typeof connection === 'string' ||
    typeof connection === 'function' ||
    (typeof connection === 'object' && connection !== null)
  )) {
    throw bad(
      'connection must be a connection string, a pg client config or a function returning a pg.Client',
    )
  }
  const safety = notify.safetyPollInterval
  if (safety !== undefined && !(typeof safety === 'number' && safety >= 0)) {
    throw bad('safetyPollInterval must be a number of ms, 0 or more')
  }
  let listener: ChannelListener | undefined
  return (backoff) => (listener ??= createChannelListener(name, notify.channel, connection, backoff))
}

function loadKysely(): KyselyModule {
  return requireOptional<KyselyModule>('kysely', 'databaseSource')
}

/** PostgreSQL SQLSTATEs for a server that cannot serve now: starting up, too many connections. */
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(['57P03', '53300'])

function queryError(error: unknown, name: string, label: string, table: string | undefined): SourceError {
  const code = (error as { code?: unknown }).code
  const reason = error instanceof Error ? error.message : String(error)
  const details = { source: name, key: label, cause: error }
  if (typeof code === 'string' && (NETWORK_UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code))) {
    return new SourceUnavailableError(
      details,
      `${name}: database unavailable (${code}) while reading ${label}`,
    )
  }
  const what =
    table === undefined ? `query ${JSON.stringify(label)}` : `key ${JSON.stringify(label)} from ${table}`
  return new SourceError(`${name}: reading ${what} failed: ${reason}`, details)
}
