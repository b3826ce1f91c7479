/**
 * `shardTransaction(manager, fn)`: the writes `fn` makes on any number of shards commit on all
 * of them or on none, by two-phase commit (PostgreSQL `PREPARE TRANSACTION` / `COMMIT
 * PREPARED`, as Citus does; MySQL/MariaDB XA — see `transaction-branch.ts`) with the decision
 * kept in a small log table (`transaction-log.ts`).
 */
import { checkOptions, checks } from '../core/option-checks'
import type { Kysely } from 'kysely'
import { randomBytes } from 'node:crypto'
import { invalidateTable } from '../model/cache'
import { runWithDatabaseResolver, type AnyKysely } from '../model/connection'
import { getModelMeta } from '../model/decorators'
import { ShardTransactionError, type ShardTransactionOutcome } from './errors'
import { branchDialect, checkPrepare, openBranch, shardTag, type Branch } from './transaction-branch'
import {
  forgetLog,
  logDecide,
  logLock,
  logPrepare,
  transactionLog,
  type ShardTransactionLogOptions,
} from './transaction-log'
import { shardManagerOf, type ShardManager } from './shard-manager'

/**
 * What `shardTransaction` reports as it goes (for logs, metrics and crash tests): each shard
 * prepared, the decision logged, each shard committed. An exception thrown here before the
 * decision rolls the transaction back.
 *
 * @example
 * ```ts
 * await shardTransaction(shards, work, { onProgress: (e) => console.log(e.phase, e.shard ?? '') })
 * ```
 */
export interface ShardTransactionProgress {
  /**
   * `'prepared'` and `'committed'` name a shard; `'decided'` is the commit point (the log's
   * shard, when it takes part, is not prepared: it commits with the decision, and its
   * `'committed'` follows `'decided'`).
   */
  readonly phase: 'prepared' | 'decided' | 'committed'
  /** The shard, for `'prepared'` and `'committed'`. */
  readonly shard?: string
  /** The coordinator transaction's id. */
  readonly id: string
}

/**
 * Options of {@link shardTransaction}.
 *
 * @example
 * ```ts
 * await shardTransaction(shards, work, { log: { shard: 'us_east' }, tables: ['users'] })
 * ```
 */
export interface ShardTransactionOptions {
  /** Where the decision log lives (the same place `recoverShardTransactions` reads). Defaults to table `tributary_transactions` on the manager's default (else first) shard. */
  log?: ShardTransactionLogOptions
  /**
   * Called at each step (awaited); see {@link ShardTransactionProgress}. An exception thrown
   * at `'prepared'` rolls the transaction back; one thrown after the commit point is ignored
   * (every shard commits). Defaults to none.
   */
  onProgress?: (progress: ShardTransactionProgress) => void | Promise<void>
  /**
   * Aborts the transaction until its commit point: an abort seen after the callback, before
   * the log row or before the decision rolls every shard back and rejects with a
   * `ShardTransactionError` whose `cause` is the signal's reason. Once the decision is logged
   * the signal is ignored: every shard commits. The callback's own queries are not
   * interrupted (pass the signal to them). Defaults to none.
   */
  signal?: AbortSignal
  /** Tables whose cached model reads are marked stale after the transaction ends (models written through `withShard` are added on their own). Defaults to none. */
  tables?: readonly string[]
}

/**
 * The handle `fn` receives: each shard's transaction, begun the first time the shard is used.
 *
 * @example
 * ```ts
 * await shardTransaction(shards, async (tx) => {
 *   const us = await tx.database('us')
 *   await us.updateTable('accounts').set({ balance: sql`balance - 10` }).where('id', '=', 1).execute()
 *   await tx.withShard('eu', () => Account.where({ id: 2 }).asyncUpdate({ frozen: false }))
 * })
 * ```
 */
export interface ShardTransaction<DB = unknown> {
  /** The coordinator transaction's id (each shard's gid is `<id>_<n>`). */
  readonly id: string
  /** The shards touched so far, in the order touched. */
  readonly shards: readonly string[]
  /** Shard `name`'s transaction (a Kysely on one connection), begun on first use. */
  database(name: string): Promise<Kysely<DB>>
  /** Runs `fn` with the models attached to the manager on shard `name`'s transaction. */
  withShard<T>(name: string, fn: () => T | PromiseLike<T>): Promise<T>
}

/** Whether `error` came from the server (a SQLSTATE or MySQL error number), not a broken connection. */
const hasServerCode = (error: unknown): boolean => {
  const e = error as { code?: unknown; errno?: unknown; sqlState?: unknown } | null
  // SQLSTATEs are five characters; no class starts with E (Node's EPIPE, EBUSY… do).
  return (
    (typeof e?.code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(e.code)) ||
    typeof e?.sqlState === 'string'
  )
}

/** One shard's part. */
interface Participant {
  readonly shard: string
  readonly gid: string
  readonly branch: Branch
  state: 'active' | 'prepared' | 'committed' | 'rolled back'
  cause?: unknown
}

/**
 * Runs `fn` and commits what it wrote on every shard it touched, or on none. Each shard used
 * through `tx.database(name)` or `tx.withShard(name, …)` gets one transaction, begun then. When
 * `fn` resolves: one shard touched commits plainly; with several, each but the log's shard is
 * prepared (PostgreSQL `PREPARE TRANSACTION`; MySQL/MariaDB, whose parts run as XA branches,
 * `XA END` + `XA PREPARE`), the decision is written to the log — inside the log shard's own
 * transaction when it takes part, which then commits in one phase: the commit point — and each
 * prepared part is committed (`COMMIT PREPARED`, `XA COMMIT`). No transaction ever waits for a
 * second connection of a pool it holds one of; but it holds one connection per shard touched
 * until it ends, so give each shard's pool more connections than the cross-shard transactions
 * that run at once. When `fn` throws, or a
 * shard fails before the decision, every shard is rolled back and the promise rejects with a
 * `ShardTransactionError` listing each shard's outcome (`decision: 'rolled back'`). A crash of
 * this process between prepare and commit leaves prepared transactions that
 * `recoverShardTransactions` finishes from the log. PostgreSQL needs
 * `max_prepared_transactions > 0` on every shard (else a `PreparedTransactionsDisabledError`,
 * before anything is prepared; so does a shard on a dialect without two-phase commit, such as
 * SQLite). The log can live on a PostgreSQL or MySQL/MariaDB shard. Cached model reads of the
 * written tables are marked stale after.
 *
 * @example
 * ```ts
 * import { shardTransaction } from 'tributary'
 * await shardTransaction(shards, async (tx) => {
 *   await tx.withShard('us', () => Account.where({ id: 1 }).asyncUpdate({ balance: 90 }))
 *   await tx.withShard('eu', () => Account.where({ id: 2 }).asyncUpdate({ balance: 110 }))
 * })
 * ```
 */
export async function shardTransaction<T, DB = unknown>(
  manager: ShardManager<DB>,
  fn: (tx: ShardTransaction<DB>) => Promise<T>,
  options: ShardTransactionOptions = {},
): Promise<T> {
  checkOptions('shardTransaction(manager, fn, options)', options, {
    log: checks.object,
    onProgress: checks.function,
    signal: checks.signal,
    tables: checks.strings,
  })
  const any = manager as unknown as ShardManager<unknown>
  const log = transactionLog(any, options.log)
  const id = `${log.prefix}${randomBytes(10).toString('hex')}`
  // By first use (the log lists the shards in this order); a part's gid is `<id>_<shard tag>`.
  const slots: Array<Participant | undefined> = []
  const opening = new Map<string, Promise<Participant>>()
  const tables = new Set(options.tables ?? [])
  let closed = false
  const parts = (): Participant[] => slots.filter((p): p is Participant => p !== undefined)
  // The log row: written just before the log's shard joins (so that no transaction holding a
  // connection of that shard's pool ever waits for another) and locked by its transaction, or,
  // when the log's shard takes no part, just before phase 1.
  let row: Promise<void> | undefined

  const participant = (name: string): Promise<Participant> => {
    if (closed) return Promise.reject(new Error(`cross-shard transaction ${id} has ended`))
    let open = opening.get(name)
    if (!open) {
      const db = any.database(name)
      const index = opening.size
      const gid = `${id}_${shardTag(name)}`
      slots.push(undefined)
      const own = name === log.shard
      if (own && row === undefined) row = logPrepare(log, id, [...opening.keys(), name])
      open = (own ? (row as Promise<void>) : Promise.resolve())
        .then(() => openBranch(db, gid, branchDialect(db)))
        .then(async (branch) => {
          const p: Participant = { shard: name, gid, branch, state: 'active' }
          slots[index] = p
          // Locked for the whole transaction: recovery leaves a row it cannot lock alone.
          if (own) await logLock(log, id, branch.db)
          return p
        })
      opening.set(name, open)
    }
    return open
  }
  const tx: ShardTransaction<DB> = {
    id,
    get shards() {
      return parts().map((p) => p.shard)
    },
    database: (name) => participant(name).then((p) => p.branch.db as unknown as Kysely<DB>),
    withShard: async (name, work) => {
      const db = (await participant(name)).branch.db as unknown as AnyKysely
      return runWithDatabaseResolver(
        (model) => {
          if (shardManagerOf(model) !== any) return undefined
          tables.add(getModelMeta(model as never).table)
          return db
        },
        () => Promise.resolve(work()),
      )
    },
  }

  const outcomes = (): ShardTransactionOutcome[] =>
    parts().map((p) => ({
      shard: p.shard,
      state: p.state === 'active' ? 'rolled back' : p.state,
      ...(p.cause === undefined ? {} : { cause: p.cause }),
    }))
  const rollbackAll = async (): Promise<void> => {
    await Promise.all(
      parts().map(async (p) => {
        if (p.state === 'committed' || p.state === 'rolled back') return
        try {
          // A prepared part already gone was rolled back by recovery (which commits only what the log decided).
          await (p.state === 'prepared' ? p.branch.rollbackPrepared() : p.branch.rollback())
          p.state = 'rolled back'
        } catch (error) {
          p.cause ??= error
          // A prepared part whose rollback failed stays for recovery (no row or 'abort' decides it).
          if (p.state === 'active') p.state = 'rolled back'
        }
        await p.branch.release()
      }),
    )
  }
  /** Forgets the row (after every connection went back): no row means abort to recovery. */
  const forget = async (): Promise<void> => {
    if (row === undefined) return
    const written = await row.then(
      () => true,
      () => false,
    )
    if (written) await forgetLog(log, id).catch(() => undefined)
  }
  const fail = async (cause: unknown): Promise<never> => {
    await rollbackAll()
    await forget()
    throw new ShardTransactionError(id, 'rolled back', outcomes(), cause)
  }
  const finish = (): void => {
    closed = true
    for (const table of tables) invalidateTable(table)
  }

  const signal = options.signal
  const checkSignal = (): void => {
    if (signal?.aborted) throw signal.reason
  }
  const progress = async (event: ShardTransactionProgress): Promise<void> => {
    await options.onProgress?.(event)
  }
  // After the commit point nothing may stop the commits.
  const report = (event: ShardTransactionProgress): Promise<void> => progress(event).catch(() => undefined)

  try {
    let value: T
    try {
      checkSignal()
      value = await fn(tx)
      await Promise.all(opening.values()) // a shard still opening is part of the transaction
      checkSignal()
    } catch (error) {
      closed = true
      await Promise.allSettled(opening.values())
      return await fail(error)
    }
    closed = true
    const participants = parts()
    if (participants.length === 0) return value
    if (participants.length === 1) {
      const p = participants[0] as Participant
      try {
        await p.branch.commitOnePhase()
        p.state = 'committed'
      } catch (error) {
        p.cause = error
        return await fail(error)
      }
      await p.branch.release()
      await forget()
      return value
    }

    // Phase 1: every shard must be able to prepare (asked on its own connection), and the log
    // row exists. The log's own shard, when it takes part, is not prepared: the decision is
    // written inside its transaction, which then commits in one phase — the commit point — so
    // no second connection of it is ever needed.
    const checks = await Promise.allSettled(
      participants.map((p) => checkPrepare(p.shard, any.database(p.shard), p.branch.db)),
    )
    const unable = checks.find((c): c is PromiseRejectedResult => c.status === 'rejected')
    if (unable) {
      await rollbackAll()
      await forget()
      throw unable.reason // the first shard, in the order touched, that cannot prepare
    }
    if (row === undefined) {
      row = logPrepare(
        log,
        id,
        participants.map((p) => p.shard),
      )
    }
    try {
      checkSignal()
      await row
    } catch (error) {
      return await fail(error)
    }
    const own = participants.find((p) => p.shard === log.shard)
    const others = participants.filter((p) => p !== own)
    const prepared = await Promise.allSettled([
      ...others.map(async (p) => {
        try {
          checkSignal()
          await p.branch.prepare()
          p.state = 'prepared'
          await progress({ phase: 'prepared', shard: p.shard, id })
        } catch (error) {
          p.cause ??= error
          throw error
        }
      }),
      // The log's shard checks its deferred constraints now, so its one-phase commit hardly fails.
      ...(own
        ? [own.branch.checkConstraints().catch((error: unknown) => Promise.reject((own.cause = error)))]
        : []),
    ])
    let failed: { reason: unknown } | undefined = prepared.find(
      (s): s is PromiseRejectedResult => s.status === 'rejected',
    )
    if (!failed && signal?.aborted) failed = { reason: signal.reason }
    if (failed) return await fail(failed.reason)

    // The commit point: the row moves from 'prepare' to 'commit' (unless recovery aborted it).
    const shards = participants.map((p) => p.shard)
    let decided: boolean
    if (own) {
      try {
        decided = await logDecide(log, id, 'commit', { shards, on: own.branch.db })
      } catch (error) {
        own.cause = error
        return await fail(error)
      }
      if (!decided) return await fail(new Error(`transaction ${id} was aborted by recoverShardTransactions`))
      try {
        await own.branch.commitOnePhase()
        own.state = 'committed'
      } catch (error) {
        own.cause = error
        // The server answered (an error code): it rolled back, so did the decision.
        if (hasServerCode(error)) return await fail(error)
        // The connection broke during COMMIT: it may or may not have happened.
        await Promise.all(participants.map((p) => p.branch.release()))
        throw new ShardTransactionError(id, 'unknown', outcomes(), error)
      }
      await own.branch.release()
    } else {
      try {
        decided = await logDecide(log, id, 'commit', { shards })
      } catch (error) {
        // The update may or may not have happened: leave every shard prepared for recovery.
        await Promise.all(participants.map((p) => p.branch.release()))
        throw new ShardTransactionError(id, 'unknown', outcomes(), error)
      }
      if (!decided) return await fail(new Error(`transaction ${id} was aborted by recoverShardTransactions`))
    }
    await report({ phase: 'decided', id })
    if (own) await report({ phase: 'committed', shard: own.shard, id })

    // Phase 2: commit everywhere; a shard that fails now stays prepared and recovery commits it.
    await Promise.all(
      others.map(async (p) => {
        try {
          await p.branch.commitPrepared() // a part already gone was committed by recovery
          p.state = 'committed'
        } catch (error) {
          p.cause ??= error
        }
        await p.branch.release()
        if (p.state === 'committed') await report({ phase: 'committed', shard: p.shard, id })
      }),
    )
    if (participants.some((p) => p.state !== 'committed')) {
      throw new ShardTransactionError(id, 'committed', outcomes(), participants.find((p) => p.cause)?.cause)
    }
    await forgetLog(log, id).catch(() => undefined) // recovery forgets it otherwise
    return value
  } finally {
    finish()
  }
}
