/**
 * The decision log of cross-shard transactions: one table on a shard the caller names, one row
 * per coordinator transaction (`id`, `state`, the touched shards, when it was written). The
 * coordinator writes the row in state `'prepare'` before any shard prepares (and before it
 * holds a connection of the log shard), and flips it to `'commit'` with `UPDATE … WHERE state
 * = 'prepare'`: that update is the commit point — run inside the log shard's own part when
 * that shard takes part, which then commits in one phase with it. Recovery flips abandoned
 * rows to `'abort'` the same way, so the two can never both win.
 * Internal: not exported from the package.
 */
import { checkOptions, checks, type OptionSpec } from '../core/option-checks'
import type { Kysely } from 'kysely'
import { createHash } from 'node:crypto'
import { databaseState, type AnyKysely } from '../model/connection'
import { sql } from '../model/kysely'
import { type ShardManager } from './shard-manager'

/**
 * Where the decision log lives.
 *
 * @example
 * ```ts
 * import { shardTransaction } from 'tributary'
 * await shardTransaction(shards, work, { log: { shard: 'us_east', table: 'billing_transactions' } })
 * ```
 */
export interface ShardTransactionLogOptions {
  /** The shard holding the log table. Defaults to the manager's `defaultShard`, else its first shard. */
  shard?: string
  /**
   * The log table, created when missing. Its name is also part of every prepared transaction's
   * gid, so applications that share shards but keep separate logs must use separate tables.
   * Defaults to `'tributary_transactions'`.
   */
  table?: string
}

/** The log options' checks: `table` keeps its own identifier check. @internal */
export const LOG_OPTIONS: OptionSpec = { shard: checks.name, table: checks.name }

/** @internal A row of the log. */
export interface LogRow {
  readonly id: string
  readonly state: 'prepare' | 'commit' | 'abort'
  readonly shards: readonly string[]
  /** Milliseconds since the row was written, by the log server's clock. */
  readonly ageMs: number
}

/** @internal The log of one manager. */
export interface TransactionLog {
  readonly shard: string
  readonly table: string
  /** The prefix of every gid this log decides (`tributary_<8 hex of the table name>_`). */
  readonly prefix: string
  readonly db: Kysely<unknown>
}

const ensured = new WeakMap<object, Map<string, Promise<void>>>()

/** @internal The log named by `options` (table name checked). */
export function transactionLog(
  manager: ShardManager<unknown>,
  options: ShardTransactionLogOptions = {},
): TransactionLog {
  checkOptions('shardTransaction: log', options, LOG_OPTIONS)
  const shard = options.shard ?? manager.defaultShard ?? (manager.names[0] as string)
  const table = options.table ?? 'tributary_transactions'
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new RangeError(
      `shardTransaction: log.table must be a plain SQL identifier, got ${JSON.stringify(table)}`,
    )
  }
  const tag = createHash('sha256').update(table).digest('hex').slice(0, 8)
  return { shard, table, prefix: `tributary_${tag}_`, db: manager.database(shard) }
}

/** Whether the log lives on MySQL/MariaDB (else PostgreSQL). */
const mysqlLog = (log: TransactionLog): boolean => databaseState(log.db as unknown as AnyKysely).mysql

/** @internal Creates the log table if missing (once per database and table per process; concurrent callers share it). */
export function ensureLog(log: TransactionLog): Promise<void> {
  const byTable = ensured.get(log.db) ?? new Map<string, Promise<void>>()
  ensured.set(log.db, byTable)
  let done = byTable.get(log.table)
  if (done) return done
  const created = mysqlLog(log)
    ? sql`timestamp(3) not null default current_timestamp(3)`
    : sql`timestamptz not null default now()`
  done = sql`create table if not exists ${sql.id(log.table)} (
    id varchar(64) primary key,
    state varchar(8) not null,
    shards text not null,
    created_at ${created}
  )`
    .execute(log.db)
    .then(
      () => undefined,
      (error: unknown) => {
        // Another process created it at the same moment (PostgreSQL's IF NOT EXISTS races).
        const code = (error as { code?: unknown } | null)?.code
        if (code === '23505' || code === '42P07' || code === 'ER_TABLE_EXISTS_ERROR') return
        byTable.delete(log.table)
        throw error
      },
    )
  byTable.set(log.table, done)
  return done
}

/** @internal Writes the row of a transaction about to prepare. */
export async function logPrepare(log: TransactionLog, id: string, shards: readonly string[]): Promise<void> {
  await ensureLog(log)
  await sql`insert into ${sql.id(log.table)} (id, state, shards) values (${id}, 'prepare', ${JSON.stringify(shards)})`.execute(
    log.db,
  )
}

/**
 * @internal Moves a row from `'prepare'` to `state`; true when this call moved it (false when
 * the row is gone or someone else decided first).
 */
export async function logDecide(
  log: TransactionLog,
  id: string,
  state: 'commit' | 'abort',
  options: {
    /** The final list of shards (a row written early knows only the first ones). */
    readonly shards?: readonly string[]
    /** Where to run it: the log shard's own transaction, when that shard takes part. Defaults to the log's pool. */
    readonly on?: Kysely<unknown>
  } = {},
): Promise<boolean> {
  const shards = options.shards === undefined ? sql`` : sql`, shards = ${JSON.stringify(options.shards)}`
  const result = await sql`update ${sql.id(log.table)} set state = ${state}${shards}
    where id = ${id} and state = 'prepare'`.execute(options.on ?? log.db)
  return Number(result.numAffectedRows ?? 0) === 1
}

/** @internal Locks the row of `id` in the log shard's own transaction `on` (until it ends). */
export async function logLock(log: TransactionLog, id: string, on: Kysely<unknown>): Promise<void> {
  await sql`select id from ${sql.id(log.table)} where id = ${id} for update`.execute(on)
}

/**
 * @internal Recovery's abort of an undecided row: `'aborted'` when this call moved it from
 * `'prepare'` to `'abort'`, `'locked'` when a live coordinator's transaction holds the row (it
 * is left alone: `SKIP LOCKED`), `'decided'` when it is no longer `'prepare'` (or gone).
 */
export async function logAbort(log: TransactionLog, id: string): Promise<'aborted' | 'locked' | 'decided'> {
  return log.db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: string }>`select id from ${sql.id(log.table)}
      where id = ${id} and state = 'prepare' for update skip locked`.execute(trx)
    if (rows.length === 0) {
      const { rows: all } = await sql<{ state: string }>`select state from ${sql.id(log.table)}
        where id = ${id}`.execute(trx)
      return all[0]?.state === 'prepare' ? 'locked' : 'decided'
    }
    await sql`update ${sql.id(log.table)} set state = 'abort' where id = ${id}`.execute(trx)
    return 'aborted'
  })
}

/** @internal The rows with these ids (every row when `ids` is omitted). */
export async function readLog(log: TransactionLog, ids?: readonly string[]): Promise<Map<string, LogRow>> {
  await ensureLog(log)
  if (ids !== undefined && ids.length === 0) return new Map()
  const filter = ids === undefined ? sql`` : sql`where id in (${sql.join(ids.map((i) => sql`${i}`))})`
  const age = mysqlLog(log)
    ? sql`timestampdiff(microsecond, created_at, current_timestamp(3)) / 1000`
    : sql`extract(epoch from (now() - created_at)) * 1000`
  const { rows } = await sql<{ id: string; state: LogRow['state']; shards: string; age_ms: string | number }>`
    select id, state, shards, ${age} as age_ms
    from ${sql.id(log.table)} ${filter}`.execute(log.db)
  return new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, state: r.state, shards: JSON.parse(r.shards) as string[], ageMs: Number(r.age_ms) },
    ]),
  )
}

/** @internal Deletes the row of a finished transaction. */
export async function forgetLog(log: TransactionLog, id: string): Promise<void> {
  await sql`delete from ${sql.id(log.table)} where id = ${id}`.execute(log.db)
}
