/**
 * `recoverShardTransactions(manager)`: finishes the prepared transactions a crashed coordinator
 * left on the shards, from the decision log (`transaction-log.ts`), as Citus's
 * `recover_prepared_transactions()` does from `pg_dist_transaction`; MySQL/MariaDB branches are
 * found with `XA RECOVER`.
 */
import { checkOptions, checks } from '../core/option-checks'
import {
  branchDialect,
  finishPrepared,
  listPrepared,
  shardTag,
  type BranchDialect,
} from './transaction-branch'
import { type ShardFailure } from './errors'
import {
  forgetLog,
  logAbort,
  readLog,
  transactionLog,
  type LogRow,
  type ShardTransactionLogOptions,
} from './transaction-log'
import { type ShardManager } from './shard-manager'

/**
 * Options of {@link recoverShardTransactions}.
 *
 * @example
 * ```ts
 * await recoverShardTransactions(shards, { log: { shard: 'us' }, minAge: 120_000 })
 * ```
 */
export interface RecoverShardTransactionsOptions {
  /** The decision log the transactions used. Defaults to `shardTransaction`'s default. */
  log?: ShardTransactionLogOptions
  /**
   * How old (ms, by the log server's clock) an undecided transaction must be before recovery
   * aborts it: a younger one may belong to a coordinator still preparing. Correctness does not
   * depend on it (a coordinator whose transaction recovery aborted finds that out at its commit
   * point and rolls back); it only spares live transactions. The age counts from the log row,
   * written just before phase 1 — or, when the log's shard takes part, when that shard joins;
   * such a row is locked by the coordinator's transaction and never aborted while it lives,
   * whatever its age. Defaults to 60 000.
   */
  minAge?: number
  /**
   * Stops recovery between steps (what is finished stays finished; the rest waits for the
   * next run) and rejects with the signal's reason. Defaults to none.
   */
  signal?: AbortSignal
}

/**
 * What recovery did.
 *
 * @example
 * ```ts
 * const report = await recoverShardTransactions(shards)
 * console.log(report.committed, report.rolledBack, report.skipped, report.failures)
 * ```
 */
export interface ShardRecoveryReport {
  /** Prepared transactions committed (their decision was `commit`), as `{ shard, gid }`. */
  readonly committed: ReadonlyArray<{ readonly shard: string; readonly gid: string }>
  /** Prepared transactions rolled back (decision `abort`, no log row, or undecided and older than `minAge`). */
  readonly rolledBack: ReadonlyArray<{ readonly shard: string; readonly gid: string }>
  /**
   * Prepared transactions left alone: undecided and younger than `minAge`, or (MySQL/MariaDB)
   * still attached to the session of a live coordinator, which finishes them itself.
   */
  readonly skipped: ReadonlyArray<{ readonly shard: string; readonly gid: string }>
  /** Log rows removed because every shard of theirs is finished. */
  readonly forgotten: readonly string[]
  /** Shards that could not be listed or finished, and why (their transactions stay for the next run). */
  readonly failures: readonly ShardFailure[]
}

/**
 * Finishes the prepared transactions of `shardTransaction` left on the shards by a crashed
 * coordinator. For each prepared transaction whose gid carries the log's prefix (PostgreSQL:
 * `pg_prepared_xacts` of the shard's own database; MySQL/MariaDB: `XA RECOVER`, each branch
 * finished from the shard the log names for it): decision `commit` in the log → `COMMIT
 * PREPARED` / `XA COMMIT`; `abort`, or no row (the row is written before any shard prepares and
 * removed only once every shard is finished, so a prepared transaction without one is an
 * orphan) → `ROLLBACK PREPARED` / `XA ROLLBACK`; still undecided and older than `minAge` → the
 * row is moved to `abort` first (the coordinator's own commit point then fails), then rolled
 * back. An undecided row older than `minAge` with nothing prepared (a coordinator that died
 * before preparing) is aborted and removed. Safe to run at any time and concurrently with live
 * transactions and other recoveries. Never rejects for a shard (failures are reported); rejects
 * only when `signal` aborts it.
 *
 * @example
 * ```ts
 * import { recoverShardTransactions } from 'tributary'
 * const report = await recoverShardTransactions(shards, { log: { shard: 'us' } })
 * console.log(`${report.committed.length} committed, ${report.rolledBack.length} rolled back`)
 * ```
 */
export async function recoverShardTransactions<DB>(
  manager: ShardManager<DB>,
  options: RecoverShardTransactionsOptions = {},
): Promise<ShardRecoveryReport> {
  checkOptions('recoverShardTransactions(manager, options)', options, {
    log: checks.object,
    minAge: checks.duration(),
    signal: checks.signal,
  })
  const any = manager as unknown as ShardManager<unknown>
  const log = transactionLog(any, options.log)
  const minAge = options.minAge ?? 60_000
  const committed: Array<{ shard: string; gid: string }> = []
  const rolledBack: Array<{ shard: string; gid: string }> = []
  const skipped: Array<{ shard: string; gid: string }> = []
  const failures: ShardFailure[] = []
  const signal = options.signal
  const checkSignal = (): void => {
    if (signal?.aborted) throw signal.reason
  }
  checkSignal()

  // Rows final before the listing: all their shards had prepared by then.
  const before = await readLog(log)
  const listed = new Map<string, string[]>()
  await Promise.all(
    any.names.map(async (shard) => {
      const db = any.database(shard)
      const dialect = branchDialect(db)
      if (dialect === undefined) return listed.set(shard, [])
      try {
        listed.set(shard, await listPrepared(db, dialect, log.prefix))
      } catch (error) {
        failures.push({ shard, cause: error })
      }
    }),
  )
  checkSignal()
  const idOf = (gid: string): string => gid.slice(0, gid.lastIndexOf('_'))
  const wanted = [...new Set([...listed.values()].flat().map(idOf))].filter((id) => !before.has(id))
  const rows = new Map<string, LogRow>([...before, ...(await readLog(log, wanted))])

  /** The final decision of `id`: aborts an undecided row older than minAge; undefined when too young. */
  const decisions = new Map<string, Promise<'commit' | 'abort' | undefined>>()
  const decide = (id: string): Promise<'commit' | 'abort' | undefined> => {
    let d = decisions.get(id)
    if (!d) {
      d = (async () => {
        const row = rows.get(id)
        if (!row) return 'abort'
        if (row.state !== 'prepare') return row.state
        if (row.ageMs < minAge) return undefined
        const abort = await logAbort(log, id)
        if (abort === 'aborted') return 'abort'
        if (abort === 'locked') return undefined // its coordinator is alive and holds it
        return (await readLog(log, [id])).get(id)?.state === 'commit' ? 'commit' : 'abort'
      })()
      decisions.set(id, d)
    }
    return d
  }
  // Each gid once, from its own shard, named by the gid's tag (MySQL lists a server's branches
  // on every shard of that server), else from the first shard that lists it.
  const tags = new Map(any.names.map((name) => [shardTag(name), name]))
  const listers = new Map<string, string[]>()
  for (const shard of any.names) {
    for (const gid of listed.get(shard) ?? []) listers.set(gid, [...(listers.get(gid) ?? []), shard])
  }
  const finished = new Set<string>() // ids with a shard that failed or was skipped are not
  const unfinished = new Set<string>()
  await Promise.all(
    [...listers].map(async ([gid, on]) => {
      const id = idOf(gid)
      const named = tags.get(gid.slice(gid.lastIndexOf('_') + 1))
      const shard = named !== undefined && on.includes(named) ? named : (on[0] as string)
      try {
        const decision = await decide(id)
        checkSignal()
        if (decision === undefined) {
          skipped.push({ shard, gid })
          unfinished.add(id)
          return
        }
        const db = any.database(shard)
        const done = await finishPrepared(db, branchDialect(db) as BranchDialect, gid, decision)
        if (done === 'held') {
          // MySQL: still attached to its live coordinator's session, which finishes it (or dies).
          skipped.push({ shard, gid })
          unfinished.add(id)
          return
        }
        // 'gone': finished meanwhile (by its coordinator or another recovery).
        ;(decision === 'commit' ? committed : rolledBack).push({ shard, gid })
        finished.add(id)
      } catch (error) {
        failures.push({ shard, cause: error })
        unfinished.add(id)
      }
    }),
  )

  // A row is forgotten once decided and no shard of its still holds a prepared part. An
  // undecided row from before the listing with no prepared part anywhere is a coordinator that
  // died before (or while) preparing: decided 'abort' like the others once older than minAge.
  checkSignal()
  const forgotten: string[] = []
  for (const [id, row] of rows) {
    if (unfinished.has(id)) continue
    let decidedNow: 'commit' | 'abort' | undefined
    try {
      decidedNow =
        decisions.has(id) || (row.state === 'prepare' && before.has(id))
          ? await decide(id)
          : row.state === 'prepare'
            ? undefined
            : row.state
    } catch (error) {
      failures.push({ shard: log.shard, cause: error })
      continue
    }
    if (decidedNow === undefined) continue
    if (!before.has(id) && !finished.has(id)) continue
    if (!row.shards.every((s) => listed.has(s))) continue
    try {
      await forgetLog(log, id)
      forgotten.push(id)
    } catch (error) {
      failures.push({ shard: log.shard, cause: error })
    }
  }
  return { committed, rolledBack, skipped, forgotten, failures }
}
