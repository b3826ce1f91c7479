/**
 * Which Kysely a model runs on, and how many of its helpers run at once.
 *
 * `resolveDatabase(model)` is the one place that decides: an override installed for the
 * current async context (`withDatabase`, or a shard manager through `runWithDatabaseResolver`),
 * then the model's own binding (`User.use(db)`), then a parent class's, then `Model.use(db)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { DatabaseConnection, Kysely, QueryResult } from 'kysely'
import { CompiledQuery, loadKysely } from './kysely'
import { abortError } from '../core/abort'
import { checkOptions, checks, type OptionSpec } from '../core/option-checks'
import { type AsyncResult } from '../core/async-result'
import { ModelWithoutDatabaseError } from './errors'
import { createLimiter } from './limiter'

/** Kysely with tables known only at run time, as models use it. */
export type AnyKysely = Kysely<Record<string, Record<string, unknown>>>

/** Options for {@link configureDatabase} and `Model.use(db, options)`. */
export interface DatabaseOptions {
  /**
   * How many helpers run at once on this database; the rest queue (in order) without taking
   * a pool connection. Keep it at or below the pool's `max` (mysql2's `connectionLimit`).
   * Defaults to 10 (the default pool size of pg and mysql2) for PostgreSQL, MySQL and other
   * dialects, and 1 for SQLite, whose single connection runs
   * queries one after another anyway.
   */
  concurrency?: number
}

/** What {@link DatabaseOptions} may hold. */
const DATABASE_OPTIONS: OptionSpec = { concurrency: checks.integer(1) }

/** Picks the database for a model in the current async context, or `undefined` to fall through. */
export type DatabaseResolver = (model: abstract new (...args: never[]) => object) => AnyKysely | undefined

/**
 * The SQL dialects whose rules tributary follows (NULL order, paging, `returning`, collations,
 * how drivers return numbers), from the Kysely adapter: `'other'` for any other adapter.
 */
export type SqlDialect = 'postgres' | 'sqlite' | 'mysql' | 'other'

/** The dialect of a Kysely adapter's class name (`PostgresAdapter`, `SqliteAdapter`, `MysqlAdapter`). */
function dialectOf(adapter: string): SqlDialect {
  if (/postgres/i.test(adapter)) return 'postgres'
  if (/sqlite/i.test(adapter)) return 'sqlite'
  if (/mysql|maria/i.test(adapter)) return 'mysql'
  return 'other'
}

interface DatabaseState {
  readonly dialect: SqlDialect
  readonly sqlite: boolean
  readonly postgres: boolean
  /** MySQL or MariaDB (Kysely's `MysqlDialect`). */
  readonly mysql: boolean
  readonly transaction: boolean
  run: <T>(fn: () => Promise<T>) => Promise<T>
  readonly pids: WeakMap<DatabaseConnection, number>
}

const states = new WeakMap<object, DatabaseState>()
const bindings = new Map<object, AnyKysely>()
const overrides = new AsyncLocalStorage<DatabaseResolver>()
const direct = <T>(fn: () => Promise<T>): Promise<T> => fn()

function limiter(concurrency: number): DatabaseState['run'] {
  return createLimiter(concurrency)
}

/** What tributary knows about `db`: its dialect and its concurrency limit. */
export function databaseState(db: AnyKysely): DatabaseState {
  let state = states.get(db)
  if (state) return state
  const dialect = dialectOf(db.getExecutor().adapter.constructor.name)
  const sqlite = dialect === 'sqlite'
  const transaction = db.isTransaction
  state = {
    dialect,
    sqlite,
    postgres: dialect === 'postgres',
    mysql: dialect === 'mysql',
    transaction,
    // SQLite's driver and a transaction's single connection already run queries one at a time.
    run: sqlite || transaction ? direct : limiter(10),
    pids: new WeakMap(),
  }
  states.set(db, state)
  return state
}

/**
 * Sets how many helpers run at once on `db` (see {@link DatabaseOptions}).
 *
 * @example
 * ```ts
 * import { configureDatabase } from 'tributary'
 * configureDatabase(db, { concurrency: 20 }) // with new pg.Pool({ max: 20 })
 * ```
 */
export function configureDatabase<DB>(db: Kysely<DB>, options: DatabaseOptions): void {
  checkOptions('configureDatabase(db, options)', options ?? null, DATABASE_OPTIONS)
  const state = databaseState(db as unknown as AnyKysely)
  if (options.concurrency !== undefined) state.run = limiter(options.concurrency)
}

/** Binds `db` to `model` (`null` unbinds). Used by `Model.use`. */
export function bindDatabase(model: object, db: AnyKysely | null): void {
  if (db === null) bindings.delete(model)
  else bindings.set(model, db)
}

/**
 * Something `Model.use` accepts instead of a Kysely: an object that routes models itself, such
 * as a `ShardManager` (`User.use(shards)` is `shards.attach(User)`).
 */
export interface ModelRouter {
  /** Starts routing `model` (and its subclasses). */
  attach(model: abstract new (...args: never[]) => object): unknown
  /** Stops routing `model`. */
  detach(model: abstract new (...args: never[]) => object): unknown
}

const routers = new Map<object, ModelRouter>()

/** True when `target` is a {@link ModelRouter} rather than a Kysely instance. */
export function isModelRouter(target: unknown): target is ModelRouter {
  const t = target as Partial<ModelRouter> & { selectFrom?: unknown }
  return (
    typeof target === 'object' &&
    target !== null &&
    typeof t.attach === 'function' &&
    typeof t.detach === 'function' &&
    typeof t.selectFrom !== 'function'
  )
}

/**
 * Records that `router` now routes `model`, detaching it from the router that routed it before
 * (a router calls this from its `attach`).
 */
export function routeModel(model: object, router: ModelRouter): void {
  const previous = routers.get(model)
  routers.set(model, router)
  if (previous && previous !== router) previous.detach(model as abstract new (...args: never[]) => object)
}

/** Forgets that `router` routes `model` (a router calls this from its `detach`). */
export function releaseModelRouter(model: object, router: ModelRouter): void {
  if (routers.get(model) === router) routers.delete(model)
}

/**
 * What `Model.use(target)` does: binds a Kysely, hands the model to a {@link ModelRouter}
 * (replacing the model's own binding), or (`null`) unbinds. A router that routed the model
 * before is detached first.
 */
export function useDatabase(
  model: abstract new (...args: never[]) => object,
  target: AnyKysely | ModelRouter | null,
): void {
  if (target !== null && isModelRouter(target)) {
    bindings.delete(model)
    target.attach(model)
    return
  }
  const previous = routers.get(model)
  if (previous) {
    routers.delete(model)
    previous.detach(model)
  }
  bindDatabase(model, target)
}

/**
 * The Kysely that `model` runs on now. Throws a {@link ModelWithoutDatabaseError} naming the
 * model when none is bound (a `MissingDependencyError` when kysely is not even installed).
 * A shard manager overrides it with {@link runWithDatabaseResolver}. @internal
 */
export function resolveDatabase(model: abstract new (...args: never[]) => object): AnyKysely {
  const override = overrides.getStore()
  if (override) {
    const db = override(model)
    if (db) return db
  }
  for (let c: unknown = model; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    const db = bindings.get(c)
    if (db) return db
    if (routers.has(c)) {
      throw new ModelWithoutDatabaseError(
        model.name,
        `${model.name} is routed by a ${routers.get(c)?.constructor.name ?? 'router'} with no default ` +
          `shard: run it inside withShard(name, …), use ${model.name}.acrossShards(), or give the ` +
          `manager a defaultShard`,
      )
    }
  }
  // Without kysely no database can have been made: say what to install, not what to bind.
  loadKysely()
  throw new ModelWithoutDatabaseError(model.name)
}

/**
 * Runs `fn` with `resolver` consulted first by every model (a shard manager uses this).
 * The override follows the async context, so helpers started inside `fn` see it. @internal
 */
export function runWithDatabaseResolver<T>(resolver: DatabaseResolver, fn: () => T): T {
  return overrides.run(resolver, fn)
}

/**
 * Runs `fn` with every model on `db` — typically a Kysely transaction, so that helpers run on
 * the transaction's connection, one after another in the order they were started.
 *
 * @example
 * ```ts
 * import { withDatabase } from 'tributary'
 * await db.transaction().execute((trx) =>
 *   withDatabase(trx, async () => {
 *     await User.asyncInsert({ email: 'a@example.com' })
 *     return User.asyncCount()
 *   }),
 * )
 * ```
 */
export function withDatabase<DB, T>(db: Kysely<DB>, fn: () => T): T {
  const target = db as unknown as AnyKysely
  return overrides.run(() => target, fn)
}

let pidQuery: CompiledQuery | undefined
/** `select pg_backend_pid()`, built on first use (kysely loads lazily). */
const PID = (): CompiledQuery => (pidQuery ??= CompiledQuery.raw('select pg_backend_pid() as pid'))

/** PostgreSQL errors after which the backend closes the connection (SQLSTATE 57P01–57P03). */
function isFatal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('57P')
}

/**
 * What can cancel a running helper: a caller's `AbortSignal` (see {@link fromSignal}), or a
 * {@link CancelToken}, which costs no `AbortController` (creating one takes microseconds on
 * Node 20, as much as the rest of a helper's client work). @internal
 */
export interface Cancellation {
  readonly aborted: boolean
  /** Why it was cancelled (only read once `aborted`). */
  readonly reason: unknown
  /** Calls `listener` once when cancelled; returns a function that removes it. */
  listen(listener: () => void): () => void
}

/** A {@link Cancellation} set off by {@link CancelToken.cancel}. @internal */
export class CancelToken implements Cancellation {
  aborted = false
  reason: unknown = undefined
  private listeners: Array<() => void> | undefined

  cancel(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners) for (const listener of listeners) listener()
  }

  listen(listener: () => void): () => void {
    ;(this.listeners ??= []).push(listener)
    return () => {
      const i = this.listeners?.indexOf(listener) ?? -1
      if (i >= 0) this.listeners?.splice(i, 1)
    }
  }
}

/**
 * `result` with `cancel()` (also through `onError`'s result) setting off `token` with the
 * reason it aborted its own signal with, so that a helper created without a caller's signal
 * is still cancelled on the server. @internal
 */
export function cancelledBy<T>(result: AsyncResult<T>, token: CancelToken): AsyncResult<T> {
  const hook = <R>(target: AsyncResult<R>): AsyncResult<R> => {
    const cancel = target.cancel
    target.cancel = function (this: AsyncResult<R>, reason?: unknown): void {
      cancel.call(this, reason)
      token.cancel(this.signal.reason)
    }
    const onError = target.onError
    target.onError = function <E>(this: AsyncResult<R>, handler: (error: unknown) => E | PromiseLike<E>) {
      return hook(onError.call(this, handler) as AsyncResult<R | E>)
    } as AsyncResult<R>['onError']
    return target
  }
  return hook(result)
}

/** An `AbortSignal` as a {@link Cancellation}. @internal */
export function fromSignal(signal: AbortSignal): Cancellation {
  return {
    get aborted() {
      return signal.aborted
    },
    get reason() {
      return abortError(signal)
    },
    listen(listener) {
      signal.addEventListener('abort', listener, { once: true })
      return () => signal.removeEventListener('abort', listener)
    },
  }
}

/**
 * Runs a compiled query on `db` within its concurrency limit. With a `signal`, aborting
 * rejects at once with the signal's reason (a queued query then never starts); on PostgreSQL
 * (outside a transaction) it also sends `pg_cancel_backend` for the backend running the query,
 * and the connection is not released before the cancel has been answered. @internal
 */
export function executeCompiled<R>(
  db: AnyKysely,
  compiled: CompiledQuery<R>,
  signal?: AbortSignal,
): Promise<QueryResult<R>> {
  return executeWith(db, compiled, signal && fromSignal(signal))
}

/** {@link executeCompiled} cancelled by a {@link Cancellation}. @internal */
export function executeWith<R>(
  db: AnyKysely,
  compiled: CompiledQuery<R>,
  cancellation?: Cancellation,
): Promise<QueryResult<R>> {
  const state = databaseState(db)
  if (!cancellation) return state.run(() => db.executeQuery(compiled))
  if (cancellation.aborted) return Promise.reject(cancellation.reason)
  return new Promise<QueryResult<R>>((resolve, reject) => {
    // One listener does both: reject now, and (once the query runs) cancel it on the server.
    const run: Running = { cancel: undefined, aborted: false }
    const stop = cancellation.listen(() => {
      run.aborted = true
      reject(cancellation.reason)
      run.cancel?.()
    })
    state
      .run(() => {
        if (run.aborted) return Promise.reject(cancellation.reason)
        if (!state.postgres || state.transaction) return db.executeQuery(compiled)
        return cancellable(db, state, compiled, run)
      })
      .then(
        (result) => {
          stop()
          resolve(result)
        },
        (error: unknown) => {
          stop()
          reject(error)
        },
      )
  })
}

/** A query in flight: whether its caller gave up, and how to cancel it on the server. */
interface Running {
  cancel: (() => void) | undefined
  aborted: boolean
}

function cancellable<R>(
  db: AnyKysely,
  state: DatabaseState,
  compiled: CompiledQuery<R>,
  run: Running,
): Promise<QueryResult<R>> {
  const executor = db.getExecutor()
  return executor.provideConnection(async (connection) => {
    let pid = state.pids.get(connection)
    if (pid === undefined) {
      const { rows } = await connection.executeQuery<{ pid: number }>(PID())
      pid = Number(rows[0]?.pid)
      state.pids.set(connection, pid)
    }
    if (run.aborted) throw new Error('aborted') // the caller has its reason already
    let cancelling: Promise<unknown> | undefined
    run.cancel = () => {
      cancelling = db
        .executeQuery(CompiledQuery.raw('select pg_cancel_backend($1)', [pid]))
        .catch(() => undefined)
    }
    try {
      // On this connection, without a second executor: plugins' result transforms by hand.
      const result = await connection.executeQuery<R>(compiled)
      return executor.plugins.length === 0 ? result : await transformed(executor, compiled, result)
    } catch (error) {
      // A terminated backend reports FATAL 57P01 before its socket closes: probe the connection
      // so that pg marks it dead before it returns to the pool, and the next helper gets a
      // live one.
      if (isFatal(error)) await connection.executeQuery(CompiledQuery.raw('select 1')).catch(() => undefined)
      throw error
    } finally {
      run.cancel = undefined
      // Keep the connection until the cancel is answered, so it can never hit a later query.
      if (cancelling) await cancelling
    }
  })
}

/** `result` through the plugins' `transformResult`, as Kysely's executor does. @internal */
export async function transformed<R>(
  executor: ReturnType<AnyKysely['getExecutor']>,
  compiled: CompiledQuery<R>,
  result: QueryResult<R>,
): Promise<QueryResult<R>> {
  let out = result as QueryResult<unknown>
  for (const plugin of executor.plugins) {
    out = await plugin.transformResult({ queryId: compiled.queryId, result: out as QueryResult<never> })
  }
  return out as QueryResult<R>
}
