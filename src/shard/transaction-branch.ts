/**
 * One shard's part (a "branch") of a cross-shard transaction, in its dialect's two-phase
 * commit: PostgreSQL `PREPARE TRANSACTION` / `COMMIT PREPARED` / `ROLLBACK PREPARED`, MySQL and
 * MariaDB `XA START` / `XA END` / `XA PREPARE` / `XA COMMIT` / `XA ROLLBACK`; and what recovery
 * does with the prepared branches a dead coordinator left (`pg_prepared_xacts`, `XA RECOVER`).
 * Internal: not exported from the package.
 */
import type { Kysely } from 'kysely'
import { createHash } from 'node:crypto'
import { sql } from '../model/kysely'
import { databaseState, type AnyKysely } from '../model/connection'
import { PreparedTransactionsDisabledError } from './errors'

/** @internal The dialects that can prepare. */
export type BranchDialect = 'postgres' | 'mysql'

/** @internal One shard's transaction, as the coordinator drives it. */
export interface Branch {
  /** The Kysely the callback's queries run on (one connection, inside the transaction). */
  readonly db: Kysely<unknown>
  /** Phase 1. Rejects when the part cannot commit (an aborted transaction, a deferred constraint). */
  prepare(): Promise<void>
  /** Phase 2 of a prepared part; resolves when it is gone already (a recovery finished it). */
  commitPrepared(): Promise<void>
  /** Rolls back a prepared part; resolves when it is gone already. */
  rollbackPrepared(): Promise<void>
  /** Commits a part that was never prepared (the only shard touched, or the log's own shard). */
  commitOnePhase(): Promise<void>
  /** Checks deferred constraints now (PostgreSQL `SET CONSTRAINTS ALL IMMEDIATE`), so that the one-phase commit hardly fails. */
  checkConstraints(): Promise<void>
  /** Rolls back a part that was never prepared. */
  rollback(): Promise<void>
  /** Gives the connection back to its pool (after any of the above, or to leave a prepared part behind). */
  release(): Promise<void>
}

/** @internal The dialect of `db` if it can prepare, else undefined. */
export function branchDialect(db: Kysely<unknown>): BranchDialect | undefined {
  const state = databaseState(db as unknown as AnyKysely)
  return state.postgres ? 'postgres' : state.mysql ? 'mysql' : undefined
}

const checked = new WeakMap<object, number>()

/**
 * @internal Throws a `PreparedTransactionsDisabledError` when shard `name` (pool `db`) cannot
 * prepare: a dialect without two-phase commit, or PostgreSQL with `max_prepared_transactions =
 * 0` (asked once per database, on `session`: the part's own connection, so that no second
 * connection of the pool is needed).
 */
export async function checkPrepare(
  name: string,
  db: Kysely<unknown>,
  session: Kysely<unknown>,
): Promise<void> {
  const dialect = branchDialect(db)
  if (dialect === undefined) {
    throw new PreparedTransactionsDisabledError(
      name,
      'dialect',
      'two-phase commit needs PostgreSQL or MySQL/MariaDB (XA); one shard alone commits on any dialect',
    )
  }
  if (dialect !== 'postgres') return
  let max = checked.get(db)
  if (max === undefined) {
    const { rows } = await sql<{ max_prepared_transactions: string }>`show max_prepared_transactions`.execute(
      session,
    )
    max = Number(rows[0]?.max_prepared_transactions ?? 0)
    checked.set(db, max)
  }
  if (max === 0) {
    throw new PreparedTransactionsDisabledError(
      name,
      'max_prepared_transactions',
      'max_prepared_transactions is 0 (the default); set it to at least the number of concurrent cross-shard ' +
        'transactions (e.g. `max_prepared_transactions = 100` in postgresql.conf, or `postgres -c max_prepared_transactions=100`) and restart PostgreSQL',
    )
  }
}

/**
 * @internal The last part of a shard's gids (`<transaction id>_<tag>`): 8 hex digits of the
 * shard's name, so recovery knows each prepared branch's shard without the log (MySQL's XA
 * RECOVER lists every database's branches on every shard of a server).
 */
export function shardTag(shard: string): string {
  return createHash('sha256').update(shard).digest('hex').slice(0, 8)
}

/** A gid as a SQL string literal (gids are made of `[a-z0-9_]` only). */
function literal(gid: string): string {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(gid)) throw new RangeError(`invalid transaction id ${gid}`)
  return `'${gid}'`
}

/** PostgreSQL's "prepared transaction … does not exist". */
const pgGone = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === '42704'
/** MySQL's XAER_NOTA ("Unknown XID"): no such branch, or one still attached to another session. */
const xaUnknown = (error: unknown): boolean => (error as { errno?: unknown } | null)?.errno === 1397

/** On PostgreSQL, PREPARE/COMMIT of an aborted transaction silently rolls back: probe first. */
const probe = (db: Kysely<unknown>): Promise<unknown> => sql`select 1`.execute(db)

/**
 * @internal Begins shard `db`'s part with global id `gid`; on a dialect that cannot prepare, a
 * plain transaction (it can commit only as the one shard touched).
 */
export async function openBranch(
  db: Kysely<unknown>,
  gid: string,
  dialect: BranchDialect | undefined,
): Promise<Branch> {
  const id = literal(gid)
  if (dialect === undefined) {
    const trx = await db.startTransaction().execute()
    let ended = false
    const end = async (how: 'commit' | 'rollback'): Promise<void> => {
      if (ended) return
      ended = true
      await (how === 'commit' ? trx.commit() : trx.rollback()).execute()
    }
    const unable = (): Promise<never> =>
      Promise.reject(new Error(`shard transaction ${gid}: this dialect has no prepared transactions`))
    return {
      db: trx,
      prepare: unable,
      commitPrepared: unable,
      rollbackPrepared: unable,
      commitOnePhase: () => end('commit'),
      checkConstraints: () => Promise.resolve(),
      rollback: () => end('rollback'),
      release: () => end('rollback').catch(() => undefined),
    }
  }
  if (dialect === 'postgres') {
    const trx = await db.startTransaction().execute()
    let released = false
    const end = async (how: 'commit' | 'rollback'): Promise<void> => {
      if (released) return
      released = true
      // After PREPARE or COMMIT PREPARED the session has no transaction: this only frees the connection.
      await (how === 'commit' ? trx.commit() : trx.rollback()).execute()
    }
    return {
      db: trx,
      async prepare() {
        await probe(trx)
        await sql.raw(`prepare transaction ${id}`).execute(trx)
      },
      async commitPrepared() {
        await sql
          .raw(`commit prepared ${id}`)
          .execute(trx)
          .catch((error: unknown) => {
            if (!pgGone(error)) throw error
          })
      },
      async rollbackPrepared() {
        await sql
          .raw(`rollback prepared ${id}`)
          .execute(trx)
          .catch((error: unknown) => {
            if (!pgGone(error)) throw error
          })
      },
      async commitOnePhase() {
        await probe(trx)
        await end('commit')
      },
      async checkConstraints() {
        await sql`set constraints all immediate`.execute(trx)
      },
      rollback: () => end('rollback'),
      release: () => end('rollback').catch(() => undefined),
    }
  }

  // MySQL/MariaDB: XA needs the same session from XA START to XA PREPARE (and, while that
  // session lives, to XA COMMIT): one connection held until release().
  let conn!: Kysely<unknown>
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  let opened!: () => void
  const ready = new Promise<void>((resolve, reject) => {
    opened = resolve
    const held = db.connection().execute(async (c) => {
      conn = c
      opened()
      await done
    })
    held.catch(reject)
  })
  await ready
  try {
    await sql.raw(`xa start ${id}`).execute(conn)
  } catch (error) {
    finish()
    throw error
  }
  // Models on this connection behave as inside a transaction (no shared read cache, no queue).
  const inside = transactionView(conn)
  let state: 'active' | 'idle' | 'prepared' | 'ended' = 'active'
  const xaEnd = async (): Promise<void> => {
    if (state !== 'active') return
    state = 'idle'
    await sql.raw(`xa end ${id}`).execute(conn)
  }
  const ignoreUnknown = (error: unknown): void => {
    if (!xaUnknown(error)) throw error
  }
  return {
    db: inside,
    async prepare() {
      await xaEnd()
      await sql.raw(`xa prepare ${id}`).execute(conn)
      state = 'prepared'
    },
    async commitPrepared() {
      await sql.raw(`xa commit ${id}`).execute(conn).catch(ignoreUnknown)
      state = 'ended'
    },
    async rollbackPrepared() {
      await sql.raw(`xa rollback ${id}`).execute(conn).catch(ignoreUnknown)
      state = 'ended'
    },
    async commitOnePhase() {
      await xaEnd()
      await sql.raw(`xa commit ${id} one phase`).execute(conn)
      state = 'ended'
    },
    checkConstraints: () => Promise.resolve(), // MySQL checks every constraint at once

    async rollback() {
      // XA END fails on a branch the server already rolled back (XA_RB*): roll back anyway.
      await xaEnd().catch(() => undefined)
      await sql.raw(`xa rollback ${id}`).execute(conn).catch(ignoreUnknown)
      state = 'ended'
    },
    async release() {
      if (state !== 'ended') {
        // A branch left prepared (or not ended) would make the pooled session refuse every
        // other statement: end the session, which detaches a prepared branch for recovery.
        try {
          const { rows } = await sql<{ id: number | string }>`select connection_id() as id`.execute(conn)
          await sql.raw(`kill ${Number(rows[0]?.id)}`).execute(conn)
        } catch {
          // The session is gone, as wanted.
        }
      }
      finish()
    },
  }
}

/** `conn` seen as a transaction (`isTransaction`), so models skip the shared read cache on it. */
function transactionView(conn: Kysely<unknown>): Kysely<unknown> {
  return new Proxy(conn, {
    get(target, property) {
      if (property === 'isTransaction') return true
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** @internal The gids with `prefix` prepared where `db` can finish them (its database on PostgreSQL, its server on MySQL). */
export async function listPrepared(
  db: Kysely<unknown>,
  dialect: BranchDialect,
  prefix: string,
): Promise<string[]> {
  if (dialect === 'postgres') {
    const { rows } = await sql<{ gid: string }>`select gid from pg_prepared_xacts
      where database = current_database() and gid like ${`${prefix}%`}`.execute(db)
    return rows.map((r) => r.gid)
  }
  const { rows } = await sql<{
    formatID: number | string
    gtrid_length: number | string
    bqual_length: number | string
    data: string | Uint8Array
  }>`xa recover`.execute(db)
  return rows
    .map((r) => {
      const data = typeof r.data === 'string' ? r.data : Buffer.from(r.data).toString('latin1')
      return Number(r.bqual_length) === 0 ? data.slice(0, Number(r.gtrid_length)) : ''
    })
    .filter((gid) => gid.startsWith(prefix))
}

/**
 * @internal Commits or rolls back the prepared branch `gid` from a pool connection of `db`:
 * `'done'`, `'gone'` (nothing prepared under that gid any more), or `'held'` (MySQL: a live
 * session still owns it — its coordinator — so only that session can finish it for now).
 */
export async function finishPrepared(
  db: Kysely<unknown>,
  dialect: BranchDialect,
  gid: string,
  decision: 'commit' | 'abort',
): Promise<'done' | 'gone' | 'held'> {
  const id = literal(gid)
  if (dialect === 'postgres') {
    try {
      await sql.raw(`${decision === 'commit' ? 'commit' : 'rollback'} prepared ${id}`).execute(db)
      return 'done'
    } catch (error) {
      if (pgGone(error)) return 'gone'
      throw error
    }
  }
  try {
    await sql.raw(`xa ${decision === 'commit' ? 'commit' : 'rollback'} ${id}`).execute(db)
    return 'done'
  } catch (error) {
    if (!xaUnknown(error)) throw error
    // Unknown to this session: gone, or attached to a session still alive (listed still).
    return (await listPrepared(db, dialect, gid)).includes(gid) ? 'held' : 'gone'
  }
}
