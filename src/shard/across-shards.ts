/**
 * `acrossShards(Model)` / `Model.acrossShards()`: a scope whose helpers run on every shard at
 * once and return one exactly merged answer (see `merge.ts` for the rules).
 */
import type { CompiledQuery, QueryResult, RawBuilder } from 'kysely'
import { loadKysely, sql } from '../model/kysely'
import { AsyncResult } from '../core/async-result'
import { invalidateTable } from '../model/cache'
import { readValue, type SqlNumber } from '../model/coerce'
import { columnOf, orderTerm, rowCount, touchColumn, whereConditions } from '../model/conditions'
import {
  cancelledBy,
  CancelToken,
  databaseState,
  executeWith,
  fromSignal,
  type AnyKysely,
  type Cancellation,
} from '../model/connection'
import { getModelMeta, type ColumnMeta, type ModelMeta } from '../model/decorators'
import { InvalidQueryError } from '../model/errors'
import { checks, formatOptionProblem, specProblem, type OptionSpec } from '../core/option-checks'
import { rowReader } from '../model/row-reader'
import {
  GroupedBuilder,
  groupingState,
  groupTerms,
  parseAggregates,
  type Aggregate,
  type AggregateValue,
  type GroupingState,
  type GroupRow,
  type HavingOperator,
} from '../model/grouping'
import type {
  Attributes,
  ColumnKey,
  ComparisonOperator,
  ModelClass,
  WhereAttributes,
} from '../model/query-types'
import { checkCollations } from './collation'
import { isUnsupportedCollationError, ShardError, ShardMergeLimitError, type ShardFailure } from './errors'
import { mergeGroupedRows, type GroupMergePlan } from './grouped-merge'
import {
  concatPage,
  DEFAULT_MAX_DISTINCT,
  mergeCount,
  mergeExists,
  mergePage,
  rowComparator,
  type SortKey,
  type ValueComparator,
} from './merge'
import {
  avgParts,
  customCodec,
  keyCodec,
  needsEpochKey,
  exactTimeSql,
  sumParts,
  type KeyCodec,
  nullsSortLargest,
  type MergeDialect,
} from './merge-keys'
import { type ShardKey, type ShardResolver } from './resolvers'
import { settleAcrossShards } from './fan-out'
import { batcherFor } from '../model/batch-loader'
import { AsyncMetrics } from '../core/metrics'
import { streamAcrossShards, type KeyedRow } from './shard-stream'
import { batchSizeOf, keysetAfter, keysetTerms, type StreamOptions } from '../model/row-stream'
import { shardManagerOf, type ShardManager } from './shard-manager'
import { shardTransaction, type ShardTransaction, type ShardTransactionOptions } from './transaction'
import {
  aliased,
  CompileOnce,
  compileWrite,
  shardQueries,
  type ShardQuery,
  type ShardQueryState,
} from './shard-query'
import { selectParts, selectWhere, type HoledParts, type PreparedQueries } from '../model/prepared-query'

/**
 * What a fan-out does when a shard fails: reject (`'fail'`) or answer from the healthy shards (`'partial'`).
 *
 * @example
 * ```ts
 * import { acrossShards } from 'tributary'
 * acrossShards(User, { onShardError: 'partial' })
 * ```
 */
export type ShardErrorMode = 'fail' | 'partial'

/**
 * A merged answer from the healthy shards (`onShardError: 'partial'`).
 *
 * @example
 * ```ts
 * const { value, failedShards, complete } = await User.acrossShards({ onShardError: 'partial' }).asyncCount()
 * ```
 */
export interface PartialShardAnswer<T> {
  /** The answer merged from the shards that succeeded. */
  readonly value: T
  /** The shards that failed, and why (empty when every shard answered). */
  readonly failedShards: readonly ShardFailure[]
  /** True when every shard answered. */
  readonly complete: boolean
}

/**
 * `T` with `onShardError: 'fail'`, a {@link PartialShardAnswer} of `T` with `'partial'`.
 *
 * @example
 * ```ts
 * const strict: number = await User.acrossShards().asyncCount()
 * const lenient = await User.acrossShards({ onShardError: 'partial' }).asyncCount() // PartialShardAnswer<number>
 * ```
 */
export type ShardAnswer<Mode extends ShardErrorMode, T> = Mode extends 'partial' ? PartialShardAnswer<T> : T

/**
 * Options of `acrossShards`.
 *
 * @example
 * ```ts
 * User.acrossShards({ shards: ['us', 'eu'], onShardError: 'partial', timeout: 500, maxDistinct: 100_000 })
 * User.acrossShards({ failFast: true }) // the first failed shard cancels the others
 * ```
 */
export interface AcrossShardsOptions<Mode extends ShardErrorMode = 'fail'> {
  /** The shards to query. Defaults to every shard of the manager. */
  shards?: readonly string[]
  /** The manager holding the shards. Defaults to the one the model is attached to. */
  manager?: ShardManager<unknown>
  /**
   * `'fail'`: reject with a `ShardError` listing every failed shard and its cause, once every
   * other shard has settled (or, with `failFast`, been cancelled). `'partial'`: resolve with the
   * merged answer of the healthy shards and `failedShards` (still a `ShardError` when every
   * shard failed). Defaults to `'fail'`.
   */
  onShardError?: Mode
  /**
   * With `onShardError: 'fail'`, whether the first failure cancels the shards still running
   * (their PostgreSQL queries on the server) instead of waiting for them: the error comes
   * sooner, and those shards are listed in the `ShardError`'s `cancelled`, without the errors
   * they might have had. Defaults to `false`: every shard settles, so every failure is reported
   * with its cause.
   */
  failFast?: boolean
  /** Milliseconds each shard's query may run; PostgreSQL queries are cancelled on the server. Defaults to none. */
  timeout?: number
  /** How many shards run at once. Defaults to the manager's `concurrency`. */
  concurrency?: number
  /** The most distinct values `asyncCountDistinct` holds in memory. Defaults to 1 000 000. */
  maxDistinct?: number
  /**
   * Compares two non-null values (as read) when merging `min`, `max`, ordered rows and the
   * order of groups. Defaults to the database's order: strings by code point (PostgreSQL's
   * `C`, `POSIX` and `C.UTF-8` collations, SQLite's `BINARY`), numbers, decimals and
   * timestamps exactly. On PostgreSQL a text column of any other collation makes those
   * helpers reject with an `UnsupportedCollationError` unless `compare` is given (e.g.
   * `new Intl.Collator('en').compare`); on MySQL/MariaDB so does any collation but a binary
   * NO PAD one (`utf8mb4_nopad_bin`, `utf8mb4_0900_bin`) — the defaults ignore case and
   * accents; on another dialect, whose collations are not known here, so does any text column.
   */
  compare?: ValueComparator
  /**
   * Where rows live: the column a resolver places rows by (`hashShardResolver`,
   * `rangeShardResolver`). A read whose conditions pin that column (`where({ userId: 7 })`,
   * `asyncFindBy({ userId: 7 })`, `in` lists; `asyncFind(id)` when it is the primary key)
   * runs only on the shards the resolver names. Defaults to none: every read asks every shard.
   */
  shardKey?: { readonly column: string; readonly resolver: ShardResolver<ShardKey> }
}

/**
 * Options of each cross-shard helper.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * await User.acrossShards().asyncCount({ signal: controller.signal, timeout: 2_000 })
 * ```
 */
export interface ShardQueryOptions {
  /** Cancels every shard's query (on the server, for PostgreSQL). Defaults to none. */
  signal?: AbortSignal
  /** Overrides the scope's per-shard `timeout` (ms). Defaults to the scope's (none unless set). */
  timeout?: number
  /**
   * For `asyncFind(id)` on an unfiltered scope with `onShardError: 'fail'`, no `timeout` and
   * no `signal`: whether calls made in the same tick are sent together, one
   * `where id in (…)` per shard (routed by `shardKey` when the primary key is the shard
   * key). Defaults to `true`.
   */
  batch?: boolean
}

/**
 * What a cross-shard write did. There is no cross-shard atomicity: shards that succeeded stay written.
 *
 * @example
 * ```ts
 * const { total, byShard, failedShards } = await User.acrossShards().where({ active: false }).asyncDelete()
 * ```
 */
export interface ShardWriteResult {
  /** Rows changed on every shard that succeeded. */
  readonly total: number
  /** Rows changed per shard that succeeded. */
  readonly byShard: ReadonlyMap<string, number>
  /** Shards whose write failed (with `'partial'`; with `'fail'` the write rejects with a `ShardError`). */
  readonly failedShards: readonly ShardFailure[]
}

/**
 * One aggregate of `groupBy(...).asyncAggregate({...})` (the same as a model's {@link Aggregate}).
 *
 * @example
 * ```ts
 * await User.acrossShards().groupBy('region').asyncAggregate({ n: 'count', scored: { count: 'score' }, top: { max: 'score' } })
 * ```
 */
export type ShardAggregate<M> = Aggregate<M>

/**
 * The value type of a {@link ShardAggregate} (a sum over no value is `0`, as a model's).
 *
 * @example
 * ```ts
 * const [row] = await User.acrossShards().groupBy('region').asyncAggregate({ mean: { avg: 'score' } })
 * row?.mean // number | null
 * ```
 */
export type ShardAggregateValue<M, A> = AggregateValue<M, A>

/**
 * One merged group: the group columns and the named aggregates.
 *
 * @example
 * ```ts
 * const rows = await User.acrossShards().groupBy('region').asyncAggregate({ n: 'count' })
 * rows[0]?.region; rows[0]?.n
 * ```
 */
export type ShardGroupRow<M, G extends keyof M, S> = GroupRow<M, G, S>

/**
 * A cross-shard scope grouped by columns, with the API of a model's `GroupedScope`.
 * Each shard sends its groups with partial aggregates; groups of equal keys are merged
 * exactly (avg as Σsum/Σcount), then `having`, the order (ties by the group columns
 * ascending) and `offset`/`limit` apply to the merged groups — every shard's groups are
 * merged first, as Vitess does.
 *
 * @example
 * ```ts
 * const grouped = User.acrossShards().where({ active: true }).groupBy('region')
 * await grouped.having('n', '>', 10).orderBy('total', 'desc').limit(3).asyncAggregate({ n: 'count', total: { sum: 'score' } })
 * ```
 */
export interface GroupedShardScope<M extends object, G extends ColumnKey<M>, Mode extends ShardErrorMode> {
  /** Keeps the groups whose aggregate (or group column) `name` compares true with `value`. */
  having(name: string, operator: HavingOperator, value: unknown): GroupedShardScope<M, G, Mode>
  /** Orders groups by a group column or an aggregate. `direction` defaults to `'asc'`. */
  orderBy(name: string, direction?: 'asc' | 'desc'): GroupedShardScope<M, G, Mode>
  /** At most `count` groups. */
  limit(count: number): GroupedShardScope<M, G, Mode>
  /** Skips `count` groups. */
  offset(count: number): GroupedShardScope<M, G, Mode>
  /** Each merged group's aggregates. */
  asyncAggregate<S extends Record<string, ShardAggregate<M>>>(
    aggregates: S,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, Array<ShardGroupRow<M, G, S>>>>
}

/**
 * A query run on every shard at once, with one merged answer per helper. Immutable: each
 * method returns a new scope.
 *
 * @example
 * ```ts
 * import { acrossShards } from 'tributary'
 * const total = await User.acrossShards().where({ active: true }).asyncCount() // Σ counts
 * const avg = await acrossShards(User).asyncAvg('score')                       // Σsum / Σcount
 * const top = await User.acrossShards().orderBy('score', 'desc').limit(10).asyncAll()
 * const partial = await User.acrossShards({ onShardError: 'partial', timeout: 500 }).asyncCount()
 * console.log(partial.value, partial.failedShards)
 * ```
 */
export interface ShardScope<M extends object, Mode extends ShardErrorMode = 'fail'> {
  /** Adds conditions compared with `=` (`in` for arrays, `is null` for `null`). */
  where(attributes: WhereAttributes<M>): ShardScope<M, Mode>
  /** Adds `column operator value`. */
  where<K extends ColumnKey<M>>(column: K, operator: ComparisonOperator, value: unknown): ShardScope<M, Mode>
  /** Orders rows (after any earlier `orderBy`); the shards' ordered rows are merged in order. `direction` defaults to `'asc'`. */
  orderBy(column: ColumnKey<M>, direction?: 'asc' | 'desc'): ShardScope<M, Mode>
  /** At most `count` rows overall (each shard is asked for `offset + count`). */
  limit(count: number): ShardScope<M, Mode>
  /** Skips `count` rows of the merged order. */
  offset(count: number): ShardScope<M, Mode>
  /** Groups rows for `asyncAggregate`. */
  groupBy<G extends ColumnKey<M>>(...columns: G[]): GroupedShardScope<M, G, Mode>

  /** Σ of each shard's `count(*)`. */
  asyncCount(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number>>
  /**
   * Σ of each shard's `sum(column)`, exact for integers and decimals; `0` when no row has a
   * value, as a model's `asyncSum` (and Rails' `sum`).
   */
  asyncSum(column: ColumnKey<M>, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, SqlNumber>>
  /** Σsum / Σcount of the non-null values (never the mean of means); `null` when there are none. */
  asyncAvg(column: ColumnKey<M>, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number | null>>
  /** The least of the shards' `min(column)`. */
  asyncMin<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>>
  /** The greatest of the shards' `max(column)`. */
  asyncMax<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>>
  /** Whether any shard has a matching row. */
  asyncExists(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, boolean>>
  /** The column's values: merged in order with `orderBy`, else in shard order. */
  asyncPluck<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, Array<M[K]>>>
  /** The rows as model instances: merged in order with `orderBy`, else in shard order. */
  asyncAll(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, M[]>>
  /** The first row's value of the column (in the merged order), or `null` when there is no row. */
  asyncPick<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>>
  /**
   * The row with this primary key, or `undefined`: from the shard the `shardKey` resolver
   * names when the primary key is the shard key, else from every shard (the first found, in
   * shard order).
   */
  asyncFind(id: unknown, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, M | undefined>>
  /** The first row matching `attributes` (in the merged order), or `undefined`; routed by `shardKey`. */
  asyncFindBy(
    attributes: WhereAttributes<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M | undefined>>
  /**
   * The exact number of distinct non-null values: each shard sends its distinct values and
   * they are deduplicated in a `Set` of at most `maxDistinct` entries (past it the helper
   * rejects with a `ShardMergeLimitError`).
   */
  asyncCountDistinct(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, number>>
  /**
   * The rows as model instances, one at a time, in the merged order (with `orderBy`; else
   * every shard in turn): each shard is read `batchSize` rows at a time (a server-side cursor
   * on PostgreSQL, keyset pages on the order columns and the primary key elsewhere) and the
   * rows are merged as they arrive, with the same order rules as `asyncAll`. Memory stays
   * O(shards × batchSize) whatever the row count. Breaking out of the loop or aborting
   * `signal` closes every shard's reader; a failing shard rejects the iteration with a
   * `ShardError` naming it (always, whatever `onShardError`) and closes the others.
   *
   * @example
   * ```ts
   * for await (const user of User.acrossShards().where({ active: true }).orderBy('createdAt').stream({ batchSize: 1_000 })) {
   *   process(user)
   * }
   * ```
   */
  stream(options?: StreamOptions): AsyncGenerator<M, void, undefined>
  /** Sets `attributes` on matching rows of every shard; per-shard counts, no cross-shard atomicity. */
  asyncUpdate(attributes: Partial<Attributes<M>>, options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
  /** Deletes matching rows on every shard; per-shard counts, no cross-shard atomicity. */
  asyncDelete(options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
  /** Sets `columns` (default `updatedAt`/`updated_at`) to one shared "now" on every shard. */
  asyncTouchAll(columns?: readonly ColumnKey<M>[], options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
  /**
   * Runs `fn` in one transaction per shard and commits its writes on every shard it touched,
   * or on none: several shards by two-phase commit (PostgreSQL `PREPARE TRANSACTION` /
   * `COMMIT PREPARED`, MySQL/MariaDB `XA`), with the decision kept in a log table on the shard
   * `options.log` names; one shard by a plain commit. `tx` has the scope's writes (`asyncUpdate`,
   * `asyncDelete`, `asyncTouchAll` on the scope's shards, routed by `shardKey`), `eachShard`,
   * and `withShard` / `database` for any shard of the manager. Rejects with a
   * `ShardTransactionError` when anything fails (every shard rolled back, unless the failure
   * came after the commit point: then `recoverShardTransactions` finishes the commit), and with
   * a `PreparedTransactionsDisabledError` when a PostgreSQL shard has
   * `max_prepared_transactions = 0`. `cancel()` (or `options.signal`) rolls back until the
   * commit point. `onShardError: 'partial'` does not apply: a transaction is all or nothing.
   * See {@link shardTransaction}.
   *
   * @example
   * ```ts
   * const moved = await Account.acrossShards().where({ plan: 'trial' }).transaction(async (tx) => {
   *   const { total } = await tx.asyncUpdate({ plan: 'free' })  // every shard, one transaction each
   *   await tx.withShard('us', () => Audit.asyncInsert({ note: `moved ${total}` }))
   *   return total
   * })
   * ```
   */
  transaction<T, DB = unknown>(
    fn: (tx: ShardScopeTransaction<M, DB>) => Promise<T>,
    options?: ShardTransactionOptions,
  ): AsyncResult<T>
}

/**
 * The handle `acrossShards().transaction(fn)` gives `fn`: a {@link ShardTransaction} (each
 * shard's transaction begun on first use) with the scope's writes run inside it. A write that
 * fails on a shard rejects with a `ShardError` (after every shard settled); unless `fn` catches
 * it, the whole transaction then rolls back.
 *
 * @example
 * ```ts
 * await User.acrossShards().where({ banned: true }).transaction(async (tx) => {
 *   await tx.asyncDelete()
 *   await tx.eachShard(() => AuditLog.asyncInsert({ action: 'purge banned' }))
 * })
 * ```
 */
export interface ShardScopeTransaction<M extends object, DB = unknown> extends ShardTransaction<DB> {
  /** The scope's shards (routed by `shardKey` when the conditions pin it): where its writes run. */
  readonly scopeShards: readonly string[]
  /** Sets `attributes` on the scope's matching rows of each of its shards, inside the transaction. */
  asyncUpdate(attributes: Partial<Attributes<M>>): Promise<ShardWriteResult>
  /** Deletes the scope's matching rows on each of its shards, inside the transaction. */
  asyncDelete(): Promise<ShardWriteResult>
  /** Sets `columns` (default `updatedAt`/`updated_at`) to one shared "now" on the scope's rows, inside the transaction. */
  asyncTouchAll(columns?: readonly ColumnKey<M>[]): Promise<ShardWriteResult>
  /**
   * Runs `fn` on each of the scope's shards at once, with the manager's models on that shard's
   * transaction (as `withShard`); resolves with each shard's answer, in shard order, or rejects
   * with a `ShardError` naming every shard whose `fn` failed.
   */
  eachShard<T>(fn: (shard: string) => T | PromiseLike<T>): Promise<ReadonlyMap<string, T>>
}

interface Context {
  readonly model: ModelClass
  readonly meta: ModelMeta
  readonly manager: ShardManager<unknown>
  readonly shards: readonly string[]
  readonly mode: ShardErrorMode
  readonly options: AcrossShardsOptions<ShardErrorMode>
  readonly dialect: MergeDialect
  readonly shardKey: { readonly column: ColumnMeta; readonly resolver: ShardResolver<ShardKey> } | undefined
}

const EMPTY: ShardQueryState = { conditions: [], order: [], limit: undefined, offset: undefined }

type Row = Record<string, unknown>

class ShardScopeImpl<M extends object, Mode extends ShardErrorMode> implements ShardScope<M, Mode> {
  private prepared: PreparedQueries | undefined
  private routed: readonly string[] | undefined
  private firstRow: ShardScopeImpl<M, Mode> | undefined

  constructor(
    private readonly ctx: Context,
    private readonly state: ShardQueryState,
  ) {}

  private with(change: Partial<ShardQueryState>): ShardScopeImpl<M, Mode> {
    return new ShardScopeImpl(this.ctx, { ...this.state, ...change })
  }

  where(
    attributesOrColumn: WhereAttributes<M> | string,
    operator?: ComparisonOperator,
    value?: unknown,
  ): ShardScope<M, Mode> {
    const added = whereConditions(this.ctx.meta, attributesOrColumn, operator, value)
    return this.with({ conditions: [...this.state.conditions, ...added] })
  }

  orderBy(column: ColumnKey<M>, direction: 'asc' | 'desc' = 'asc'): ShardScope<M, Mode> {
    return this.with({ order: [...this.state.order, orderTerm(this.ctx.meta, column, direction)] })
  }

  limit(count: number): ShardScope<M, Mode> {
    return this.with({ limit: rowCount(this.ctx.meta, 'limit', count) })
  }

  offset(count: number): ShardScope<M, Mode> {
    return this.with({ offset: rowCount(this.ctx.meta, 'offset', count) })
  }

  groupBy<G extends ColumnKey<M>>(...columns: G[]): GroupedShardScope<M, G, Mode> {
    const state = groupingState(this.ctx.meta, columns, this.state.order, this.state.limit, this.state.offset)
    return new GroupedBuilder(this.ctx.meta, state, (grouping, aggregates, options) =>
      this.grouped(grouping, aggregates, options as ShardQueryOptions | undefined),
    ) as unknown as GroupedShardScope<M, G, Mode>
  }

  // ---- merge keys ---------------------------------------------------------------------------

  /** Whether merge keys are the database's own values (not the caller's `compare` on read values). */
  private get exact(): boolean {
    return this.ctx.options.compare === undefined
  }

  /**
   * How the merge compares and deduplicates `col`'s raw values: merge keys (selected with
   * {@link keySql}), or with `values` the column's own values (what `min`/`max` return).
   */
  private codec(col: ColumnMeta, values = false): KeyCodec {
    const compare = this.ctx.options.compare
    return compare
      ? customCodec((raw) => readValue(col.kind, raw), compare)
      : keyCodec(col.kind, this.ctx.dialect, !values && this.epoch(col))
  }

  /** Whether `col`'s merge key is selected as an exact number of its time (PostgreSQL and MySQL timestamps). */
  private epoch(col: ColumnMeta): boolean {
    return this.exact && needsEpochKey(col.kind, this.ctx.dialect)
  }

  /** The SQL of `col`'s merge key. */
  private keySql(col: ColumnMeta): RawBuilder<unknown> {
    return this.epoch(col) ? exactTimeSql(sql.id(col.name), this.ctx.dialect) : sql.id(col.name)
  }

  /** The columns whose collation a merge relies on (text, except on SQLite; none with `compare`). */
  private collated(cols: readonly ColumnMeta[]): ColumnMeta[] | undefined {
    if (this.ctx.dialect === 'sqlite' || !this.exact) return undefined
    const text = cols.filter((c) => c.kind === 'string' || c.kind === 'unknown' || c.kind === 'json')
    return text.length > 0 ? text : undefined
  }

  // ---- running ------------------------------------------------------------------------------

  /** The query `key` of this scope; `build` gets the scope's state with holes for its values. */
  private query(
    key: string,
    build: (db: AnyKysely, holed: HoledParts) => CompiledQuery<Row>,
  ): ShardQuery<Row> {
    const prepared = (this.prepared ??= shardQueries(this.ctx.meta, this.state))
    return { for: (db) => prepared.query(key, db, (holed) => build(db, holed)) }
  }

  private operation(helper: string): string {
    return `${this.ctx.meta.model}.acrossShards.${helper}`
  }

  private noPaging(helper: string): void {
    if (this.state.limit !== undefined || this.state.offset !== undefined) {
      throw new InvalidQueryError(
        this.ctx.meta.model,
        'limit',
        `acrossShards().${helper} does not take limit/offset (they apply to rows: use asyncAll or asyncPluck)`,
      )
    }
  }

  /** The shards to ask: those the `shardKey` resolver names for the pinned keys, else all. */
  private targets(): readonly string[] {
    if (this.routed) return this.routed
    const key = this.ctx.shardKey
    let shards = this.ctx.shards
    if (key) {
      for (const c of this.state.conditions) {
        if (c.column !== key.column) continue
        const values =
          c.operator === '=' ? [c.value] : c.operator === 'in' ? (c.value as unknown[]) : undefined
        if (!values) continue
        const named = new Set(values.map((v) => key.resolver.resolve(v as ShardKey)))
        shards = shards.filter((s) => named.has(s))
      }
    }
    return (this.routed = shards)
  }

  /**
   * Runs `query` on every target shard (after the collation check of `collated`, once per
   * database), reads each result, merges the healthy ones.
   */
  private read<P, T>(
    helper: string,
    query: ShardQuery<Row>,
    readPart: (result: QueryResult<Row>) => P,
    merge: (parts: P[]) => T,
    options: ShardQueryOptions | undefined,
    collated?: readonly ColumnMeta[],
  ): AsyncResult<ShardAnswer<Mode, T>> {
    checkShardOptions(this.ctx.meta.model, `acrossShards().${helper}(options)`, options, SHARD_QUERY_OPTIONS)
    const operation = this.operation(helper)
    const { manager, mode, meta } = this.ctx
    return startCancellable(operation, options?.signal, async (cancellation) => {
      const settled = await settleAcrossShards(
        manager,
        this.targets(),
        ({ db, cancellation: shard }) => {
          const target = db as AnyKysely
          const run = (): Promise<P> => executeWith(target, query.for(target), shard).then(readPart)
          const check = collated && checkCollations(target, this.ctx.dialect, meta, collated)
          return check ? check.then(run) : run()
        },
        {
          operation,
          cancellation,
          failFast: mode === 'fail' && this.ctx.options.failFast === true,
          timeout: options?.timeout ?? this.ctx.options.timeout,
          concurrency: this.ctx.options.concurrency,
        },
      )
      const parts: P[] = []
      const values = new Map<string, P>()
      const failures: ShardFailure[] = []
      const cancelled: string[] = []
      for (const s of settled) {
        if (s.status === 'fulfilled') {
          parts.push(s.value)
          values.set(s.shard, s.value)
        } else if (s.cancelled) cancelled.push(s.shard)
        else {
          // A collation the merge cannot follow is the caller's to fix, not a shard's failure.
          if (isUnsupportedCollationError(s.reason)) throw s.reason
          failures.push({ shard: s.shard, cause: s.reason })
        }
      }
      if (cancellation.aborted) throw cancellation.reason
      if (
        (mode === 'fail' && failures.length + cancelled.length > 0) ||
        (parts.length === 0 && settled.length > 0)
      ) {
        throw new ShardError(operation, failures, cancelled, values)
      }
      const value = merge(parts)
      return (
        mode === 'partial' ? { value, failedShards: failures, complete: failures.length === 0 } : value
      ) as ShardAnswer<Mode, T>
    })
  }

  asyncCount(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number>> {
    this.noPaging('asyncCount')
    const query = this.query('count', (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions)
        .select(sql`count(*)`.as('n'))
        .compile(),
    )
    return this.read('asyncCount', query, (r) => Number(r.rows[0]?.n ?? 0), mergeCount, options)
  }

  asyncSum(column: ColumnKey<M>, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, SqlNumber>> {
    this.noPaging('asyncSum')
    const col = columnOf(this.ctx.meta, column)
    const query = this.query(`sum:${col.name}`, (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions)
        .select(sql`sum(${sql.id(col.name)})`.as('s'))
        .compile(),
    )
    return this.read(
      'asyncSum',
      query,
      (r) => r.rows[0]?.s,
      (parts) => sumParts(parts) ?? 0,
      options,
    )
  }

  asyncAvg(column: ColumnKey<M>, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number | null>> {
    this.noPaging('asyncAvg')
    const col = columnOf(this.ctx.meta, column)
    const query = this.query(`avg:${col.name}`, (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions)
        .select([sql`sum(${sql.id(col.name)})`.as('s'), sql`count(${sql.id(col.name)})`.as('n')])
        .compile(),
    )
    return this.read(
      'asyncAvg',
      query,
      (r) => r.rows[0],
      (parts) =>
        avgParts(
          parts.map((p) => p?.s),
          parts.map((p) => p?.n),
          this.ctx.dialect,
        ),
      options,
    )
  }

  asyncMin<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>> {
    return this.extreme('min', column, options) as AsyncResult<ShardAnswer<Mode, M[K] | null>>
  }

  asyncMax<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>> {
    return this.extreme('max', column, options) as AsyncResult<ShardAnswer<Mode, M[K] | null>>
  }

  private extreme(fn: 'min' | 'max', column: string, options?: ShardQueryOptions): AsyncResult<unknown> {
    const helper = fn === 'min' ? 'asyncMin' : 'asyncMax'
    this.noPaging(helper)
    const col = columnOf(this.ctx.meta, column)
    const codec = this.codec(col, true)
    const query = this.query(`${fn}:${col.name}`, (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions)
        .select(sql`${sql.raw(fn)}(${sql.id(col.name)})`.as('m'))
        .compile(),
    )
    return this.read(
      helper,
      query,
      (r) => r.rows[0]?.m,
      (parts) => {
        let best: unknown = null
        let bestKey: unknown
        for (const raw of parts) {
          if (raw === null || raw === undefined) continue
          const key = codec.key(raw)
          const c = best === null ? 0 : codec.compare(key, bestKey)
          if (best === null || (fn === 'min' ? c < 0 : c > 0)) {
            best = raw
            bestKey = key
          }
        }
        return readValue(col.kind, best)
      },
      options,
      this.collated([col]),
    )
  }

  asyncExists(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, boolean>> {
    this.noPaging('asyncExists')
    const query = this.query('exists', (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions).select(sql.lit(1).as('v')).limit(1).compile(),
    )
    return this.read('asyncExists', query, (r) => r.rows.length > 0, mergeExists, options)
  }

  asyncCountDistinct(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, number>> {
    this.noPaging('asyncCountDistinct')
    const col = columnOf(this.ctx.meta, column)
    const codec = this.codec(col)
    const key = this.keySql(col)
    const query = this.query(`distinct:${this.exact ? 'x' : 'c'}:${col.name}`, (db, state) =>
      selectWhere(db, this.ctx.meta, state.conditions)
        .where(sql.id(col.name), 'is not', null)
        .select(key.as('v'))
        .distinct()
        .compile(),
    )
    const operation = this.operation('asyncCountDistinct')
    const max = this.ctx.options.maxDistinct ?? DEFAULT_MAX_DISTINCT
    return this.read(
      'asyncCountDistinct',
      query,
      (r) => r.rows,
      (lists) => {
        const seen = new Set<unknown>()
        for (const rows of lists) {
          for (const row of rows) {
            if (row.v === null || row.v === undefined) continue
            seen.add(codec.identity(codec.key(row.v)))
            if (seen.size > max) throw new ShardMergeLimitError(operation, max, 'distinct values')
          }
        }
        return seen.size
      },
      options,
    )
  }

  /** Ordered (or shard-ordered) rows: each shard gives its first offset + limit, merged and sliced. */
  private rows<T>(
    helper: string,
    key: string,
    selection: () => ReturnType<typeof aliased>[],
    finish: (rows: Row[]) => T,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, T>> {
    const order = this.state.order
    const codecs = order.map((o) => this.codec(o.column))
    const query = this.query(
      `${key}:${this.exact ? 'x' : 'c'}`,
      (db, state) =>
        selectParts(db, this.ctx.meta, state)
          .select([...selection(), ...order.map((o, i) => this.keySql(o.column).as(`o${i}`))] as never)
          .compile() as CompiledQuery<Row>,
    )
    const page = { limit: this.state.limit, offset: this.state.offset }
    const nullsLargest = nullsSortLargest(this.ctx.dialect)
    return this.read(
      helper,
      query,
      (r) => r.rows,
      (lists) => {
        if (order.length === 0) return finish(concatPage(lists, page))
        // Read each order key once, not at every comparison of the merge.
        const keyed = lists.map((rows) =>
          rows.map((row) => ({
            row,
            key: codecs.map((codec, i) => {
              const raw = row[`o${i}`]
              return raw === null || raw === undefined ? null : codec.key(raw)
            }),
          })),
        )
        const keys: SortKey<{ key: unknown[] }>[] = order.map((o, i) => ({
          get: (entry) => entry.key[i],
          direction: o.direction,
          nullsLargest,
          compare: (codecs[i] as KeyCodec).compare,
        }))
        return finish(mergePage(keyed, rowComparator(keys), page).map((entry) => entry.row))
      },
      options,
      this.collated(order.map((o) => o.column)),
    )
  }

  asyncPluck<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, Array<M[K]>>> {
    const col = columnOf(this.ctx.meta, column)
    return this.rows(
      'asyncPluck',
      `pluck:${col.name}`,
      () => [aliased(col.name, 'v')],
      (rows) => rows.map((row) => readValue(col.kind, row.v) as M[K]),
      options,
    )
  }

  /** This scope limited to one row (kept, so its compiled queries are reused). */
  private first(): ShardScopeImpl<M, Mode> {
    if (this.state.limit !== undefined && this.state.limit <= 1) return this
    return (this.firstRow ??= this.with({ limit: 1 }))
  }

  asyncPick<K extends ColumnKey<M>>(
    column: K,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M[K] | null>> {
    const col = columnOf(this.ctx.meta, column)
    return this.first().rows(
      'asyncPick',
      `pluck:${col.name}`,
      () => [aliased(col.name, 'v')],
      (rows) => (rows[0] ? (readValue(col.kind, rows[0].v) as M[K]) : null),
      options,
    )
  }

  private instances(rows: readonly Row[]): M[] {
    const read = rowReader(this.ctx.model as ModelClass<M>, this.ctx.meta.columns, 'c_')
    return rows.map(read)
  }

  private selection(): ReturnType<typeof aliased>[] {
    return this.ctx.meta.columns.map((c) => aliased(c.name, `c_${c.property}`))
  }

  asyncAll(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, M[]>> {
    return this.rows(
      'asyncAll',
      'all',
      () => this.selection(),
      (rows) => this.instances(rows),
      options,
    )
  }

  asyncFind(id: unknown, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, M | undefined>> {
    const primary = this.ctx.meta.primary
    if (!primary) {
      throw new InvalidQueryError(
        this.ctx.meta.model,
        'primary',
        `${this.ctx.meta.model} has no @Column({ primary: true })`,
      )
    }
    const scope = this.where(primary.property, '=', id) as ShardScopeImpl<M, Mode>
    const batched = scope.batchedFind(primary, id, options)
    if (batched) return batched
    return scope.first().rows(
      'asyncFind',
      'all',
      () => scope.selection(),
      (rows) => scope.instances(rows)[0],
      options,
    )
  }

  /**
   * `asyncFind` joined to each target shard's batch of this tick (`model/batch-loader.ts`):
   * the first row found in shard order; a failed shard makes it a `ShardError` naming it.
   * `undefined` when the call is not batched. Called on the scope with the `id` condition.
   */
  private batchedFind(
    primary: ColumnMeta,
    id: unknown,
    options: ShardQueryOptions | undefined,
  ): AsyncResult<ShardAnswer<Mode, M | undefined>> | undefined {
    checkShardOptions(this.ctx.meta.model, 'acrossShards().asyncFind(options)', options, SHARD_QUERY_OPTIONS)
    const { mode, manager, meta, model } = this.ctx
    if (options?.batch === false || options?.signal || options?.timeout !== undefined) return undefined
    if (mode !== 'fail' || this.ctx.options.timeout !== undefined || this.state.conditions.length !== 1)
      return undefined
    if (this.state.order.length > 0 || this.state.limit !== undefined || this.state.offset !== undefined)
      return undefined
    if (id === null || id === undefined || Array.isArray(id)) return undefined
    const operation = this.operation('asyncFind')
    const shards = this.targets()
    const loads = shards.map((shard) => {
      const db = manager.database(shard) as unknown as AnyKysely
      const state = databaseState(db)
      // Each shard recorded as the fan-out records it: `<operation>@<shard>`.
      const counter = AsyncMetrics.default.operation(`${operation}@${shard}`)
      const started = counter.begin()
      const load = batcherFor(db, model, meta, primary, state.sqlite).load(id, operation)
      load.then(
        () => counter.end(started, false),
        () => counter.end(started, true),
      )
      return load
    })
    return AsyncResult.from(
      async () => {
        const settled = await Promise.allSettled(loads)
        const failures: ShardFailure[] = []
        let found: M | undefined
        settled.forEach((s, i) => {
          if (s.status === 'rejected') failures.push({ shard: shards[i] as string, cause: s.reason })
          else if (found === undefined && s.value !== undefined) found = s.value as M
        })
        if (failures.length > 0) throw new ShardError(operation, failures)
        return found as ShardAnswer<Mode, M | undefined>
      },
      { operation },
    )
  }

  asyncFindBy(
    attributes: WhereAttributes<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, M | undefined>> {
    const scope = (this.where(attributes) as ShardScopeImpl<M, Mode>).first()
    return scope.rows(
      'asyncFindBy',
      'all',
      () => scope.selection(),
      (rows) => scope.instances(rows)[0],
      options,
    )
  }

  stream(options?: StreamOptions): AsyncGenerator<M, void, undefined> {
    const { meta, manager, dialect } = this.ctx
    const batchSize = batchSizeOf(meta.model, options)
    const order = this.state.order
    const codecs = order.map((o) => this.codec(o.column))
    const nullsLargest = nullsSortLargest(dialect)
    const keys: SortKey<KeyedRow>[] = order.map((o, i) => ({
      get: (entry) => entry.key[i],
      direction: o.direction,
      nullsLargest,
      compare: (codecs[i] as KeyCodec).compare,
    }))
    const selection = [...this.selection(), ...order.map((o, i) => this.keySql(o.column).as(`o${i}`))]
    const shards = this.targets()
    const dbs = shards.map((s) => manager.database(s) as unknown as AnyKysely)
    const terms = keysetTerms(order, meta.primary)
    if (!terms && dbs.some((db) => !databaseState(db).postgres || databaseState(db).transaction)) {
      throw new InvalidQueryError(
        meta.model,
        'primary',
        `stream() pages by keyset outside PostgreSQL and needs @Column({ primary: true }) on ${meta.model}`,
      )
    }
    const collated = this.collated(order.map((o) => o.column))
    const conditions = this.state.conditions
    return streamAcrossShards({
      operation: this.operation('stream'),
      shards,
      dbs,
      batchSize,
      all: (db) =>
        selectParts(db, meta, { conditions, order, limit: undefined, offset: undefined })
          .select(selection as never)
          .compile() as CompiledQuery<Row>,
      page: (db, after, n) => {
        const by = terms as NonNullable<typeof terms>
        let qb = selectWhere(db, meta, conditions)
        if (after) qb = qb.where(keysetAfter(by, after, nullsLargest))
        let ordered = qb.select(selection as never)
        for (const t of by) ordered = ordered.orderBy(sql.id(t.column.name), t.direction)
        return ordered.limit(n).compile()
      },
      keysetOf: (row) => (terms ?? []).map((t) => row[`c_${t.column.property}`]),
      keyOf: (row) =>
        codecs.map((codec, i) => {
          const raw = row[`o${i}`]
          return raw === null || raw === undefined ? null : codec.key(raw)
        }),
      check: (db) => collated && checkCollations(db, dialect, meta, collated),
      compare: rowComparator(keys),
      read: rowReader(this.ctx.model as ModelClass<M>, meta.columns, 'c_'),
      limit: this.state.limit,
      offset: this.state.offset,
      signal: options?.signal,
    })
  }

  private grouped(
    grouping: GroupingState,
    aggregates: unknown,
    options: ShardQueryOptions | undefined,
  ): AsyncResult<unknown> {
    const meta = this.ctx.meta
    const specs = parseAggregates(meta, grouping, aggregates)
    const terms = groupTerms(meta, grouping, specs)
    const groups = grouping.groups
    const plan: GroupMergePlan = {
      state: grouping,
      specs,
      terms,
      groupKeys: groups.map((g, i) => ({ codec: this.codec(g), alias: this.epoch(g) ? `k${i}` : `g${i}` })),
      extremes: new Map(
        specs
          .filter((s) => s.fn === 'min' || s.fn === 'max')
          .map((s) => {
            const col = s.col as ColumnMeta
            const epoch = this.epoch(col)
            return [
              s.i,
              { codec: this.codec(col, !epoch), key: epoch ? ('k' as const) : ('m' as const) },
            ] as const
          }),
      ),
      dialect: this.ctx.dialect,
    }
    const key =
      `group:${this.exact ? 'x' : 'c'}:${groups.map((g) => g.name).join(',')}:` +
      specs.map((s) => `${s.fn}(${s.col?.name ?? '*'})`).join(',')
    const query = this.query(key, (db, state) => {
      const selection: unknown[] = []
      groups.forEach((g, i) => {
        selection.push(aliased(g.name, `g${i}`))
        if (this.epoch(g)) selection.push(this.keySql(g).as(`k${i}`))
      })
      for (const s of specs) {
        const ref = s.col ? sql.id(s.col.name) : sql`*`
        if (s.fn === 'count') selection.push(sql`count(${ref})`.as(`a${s.i}n`))
        if (s.fn === 'sum' || s.fn === 'avg') selection.push(sql`sum(${ref})`.as(`a${s.i}s`))
        if (s.fn === 'avg') selection.push(sql`count(${ref})`.as(`a${s.i}n`))
        if (s.fn === 'min' || s.fn === 'max') {
          selection.push(sql`${sql.raw(s.fn)}(${ref})`.as(`a${s.i}m`))
          if (this.epoch(s.col as ColumnMeta))
            selection.push(exactTimeSql(sql`${sql.raw(s.fn)}(${ref})`, this.ctx.dialect).as(`a${s.i}k`))
        }
      }
      return selectWhere(db, meta, state.conditions)
        .select(selection as never)
        .groupBy(groups.map((g) => sql.id(g.name)) as never)
        .compile() as CompiledQuery<Row>
    })
    const collated = this.collated([
      ...groups,
      ...specs.filter((s) => s.fn === 'min' || s.fn === 'max').map((s) => s.col as ColumnMeta),
    ])
    return this.read(
      'asyncAggregate',
      query,
      (r) => r.rows,
      (lists) => mergeGroupedRows(lists, plan),
      options,
      collated,
    )
  }

  // ---- writes -------------------------------------------------------------------------------

  private write(
    helper: string,
    values: Record<string, unknown> | undefined,
    options: ShardQueryOptions | undefined,
  ): AsyncResult<ShardWriteResult> {
    if (this.state.limit !== undefined || this.state.offset !== undefined) {
      throw new InvalidQueryError(
        this.ctx.meta.model,
        'limit',
        `acrossShards().${helper} does not take limit/offset`,
      )
    }
    checkShardOptions(this.ctx.meta.model, `acrossShards().${helper}(options)`, options, SHARD_QUERY_OPTIONS)
    const operation = this.operation(helper)
    const { manager, shards, mode, meta } = this.ctx
    const query = new CompileOnce(
      (db) => compileWrite(db, meta, this.state.conditions, values) as CompiledQuery<Row>,
    )
    return startCancellable(operation, options?.signal, async (cancellation) => {
      const settled = await settleAcrossShards(
        manager,
        shards,
        ({ db, cancellation: shard }) =>
          executeWith(db as AnyKysely, query.for(db as AnyKysely), shard).then((r) =>
            Number(r.numAffectedRows ?? 0),
          ),
        {
          operation,
          cancellation,
          timeout: options?.timeout ?? this.ctx.options.timeout,
          concurrency: this.ctx.options.concurrency,
        },
      )
      // Shards that succeeded stay written, even when others failed.
      invalidateTable(meta.table)
      const byShard = new Map<string, number>()
      const failedShards: ShardFailure[] = []
      for (const s of settled) {
        if (s.status === 'fulfilled') byShard.set(s.shard, s.value)
        else failedShards.push({ shard: s.shard, cause: s.reason })
      }
      if (failedShards.length > 0 && mode === 'fail')
        throw new ShardError(operation, failedShards, [], byShard)
      return { total: mergeCount(byShard.values()), byShard, failedShards }
    })
  }

  asyncUpdate(
    attributes: Partial<Attributes<M>>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardWriteResult> {
    const values = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined))
    if (Object.keys(values).length === 0) {
      throw new InvalidQueryError(
        this.ctx.meta.model,
        'attributes',
        'asyncUpdate needs at least one attribute',
      )
    }
    for (const key of Object.keys(values)) columnOf(this.ctx.meta, key)
    return this.write('asyncUpdate', values, options)
  }

  asyncDelete(options?: ShardQueryOptions): AsyncResult<ShardWriteResult> {
    return this.write('asyncDelete', undefined, options)
  }

  asyncTouchAll(
    columns?: readonly ColumnKey<M>[],
    options?: ShardQueryOptions,
  ): AsyncResult<ShardWriteResult> {
    const meta = this.ctx.meta
    const cols = columns && columns.length > 0 ? columns.map((c) => columnOf(meta, c)) : [touchColumn(meta)]
    const now = new Date()
    return this.write('asyncTouchAll', Object.fromEntries(cols.map((c) => [c.property, now])), options)
  }

  // ---- atomic writes ------------------------------------------------------------------------

  transaction<T, DB = unknown>(
    fn: (tx: ShardScopeTransaction<M, DB>) => Promise<T>,
    options: ShardTransactionOptions = {},
  ): AsyncResult<T> {
    if (this.state.limit !== undefined || this.state.offset !== undefined) {
      throw new InvalidQueryError(
        this.ctx.meta.model,
        'limit',
        'acrossShards().transaction does not take limit/offset',
      )
    }
    const { manager, meta } = this.ctx
    const operation = this.operation('transaction')
    const shards = this.targets()
    const conditions = this.state.conditions
    const inEach = async <R>(helper: string, run: (shard: string) => Promise<R>): Promise<Map<string, R>> => {
      const settled = await Promise.allSettled(shards.map(run))
      const values = new Map<string, R>()
      const failures: ShardFailure[] = []
      settled.forEach((s, i) => {
        const shard = shards[i] as string
        if (s.status === 'fulfilled') values.set(shard, s.value)
        else failures.push({ shard, cause: s.reason })
      })
      if (failures.length > 0) throw new ShardError(`${operation}.${helper}`, failures, [], values)
      return values
    }
    const write = (
      helper: string,
      base: ShardTransaction<DB>,
      values: Record<string, unknown> | undefined,
    ): Promise<ShardWriteResult> =>
      inEach(helper, async (shard) => {
        const trx = (await base.database(shard)) as unknown as AnyKysely
        const result = await executeWith(trx, compileWrite(trx, meta, conditions, values))
        return Number(result.numAffectedRows ?? 0)
      }).then((byShard) => ({ total: mergeCount(byShard.values()), byShard, failedShards: [] }))
    const scoped = (base: ShardTransaction<DB>): ShardScopeTransaction<M, DB> => ({
      get id() {
        return base.id
      },
      get shards() {
        return base.shards
      },
      scopeShards: shards,
      database: (name) => base.database(name),
      withShard: (name, work) => base.withShard(name, work),
      eachShard: (work) => inEach('eachShard', (shard) => base.withShard(shard, () => work(shard))),
      asyncUpdate: (attributes) => {
        const values = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined))
        if (Object.keys(values).length === 0) {
          return Promise.reject(
            new InvalidQueryError(meta.model, 'attributes', 'asyncUpdate needs at least one attribute'),
          )
        }
        try {
          for (const key of Object.keys(values)) columnOf(meta, key)
        } catch (error) {
          return Promise.reject(error)
        }
        return write('asyncUpdate', base, values)
      },
      asyncDelete: () => write('asyncDelete', base, undefined),
      asyncTouchAll: (columns) => {
        let values: Record<string, unknown>
        try {
          const cols =
            columns && columns.length > 0 ? columns.map((c) => columnOf(meta, c)) : [touchColumn(meta)]
          const now = new Date()
          values = Object.fromEntries(cols.map((c) => [c.property, now]))
        } catch (error) {
          return Promise.reject(error)
        }
        return write('asyncTouchAll', base, values)
      },
    })
    return AsyncResult.from(
      (signal) =>
        shardTransaction(manager, (base) => fn(scoped(base as unknown as ShardTransaction<DB>)), {
          ...options,
          signal,
          tables: [...(options.tables ?? []), meta.table],
        }),
      { operation, signal: options.signal },
    )
  }
}

/**
 * Starts `work` as an `AsyncResult`: with the caller's `signal`, on the signal the result
 * gives it; without one, on a `CancelToken` that `cancel()` sets off (no `AbortController`,
 * which costs microseconds on Node 20, unless someone can abort).
 */
function startCancellable<T>(
  operation: string,
  signal: AbortSignal | undefined,
  work: (cancellation: Cancellation) => Promise<T>,
): AsyncResult<T> {
  if (signal === undefined) {
    const token = new CancelToken()
    return cancelledBy(
      AsyncResult.from(() => work(token), { operation }),
      token,
    )
  }
  return AsyncResult.from((own) => work(fromSignal(own)), { operation, signal })
}

/**
 * A cross-shard scope of `model` (the same as `Model.acrossShards(...)`). The first argument
 * is the shard names or the options; the manager defaults to the one the model is attached
 * to (`shards.attach(User)`).
 *
 * @example
 * ```ts
 * import { acrossShards } from 'tributary'
 * const perRegion = await acrossShards(User, ['us_east', 'us_west']).groupBy('active').asyncAggregate({
 *   users: 'count',
 *   score: { avg: 'score' },
 * })
 * ```
 */
export function acrossShards<M extends object, Mode extends ShardErrorMode = 'fail'>(
  model: ModelClass<M>,
  shardsOrOptions?: readonly string[] | AcrossShardsOptions<Mode>,
): ShardScope<M, Mode> {
  const options: AcrossShardsOptions<ShardErrorMode> = Array.isArray(shardsOrOptions)
    ? { shards: shardsOrOptions as readonly string[] }
    : ((shardsOrOptions ?? {}) as AcrossShardsOptions<ShardErrorMode>)
  const meta = getModelMeta(model)
  if (Array.isArray(shardsOrOptions))
    checkShardOptions(meta.model, 'acrossShards(shards)', options, ACROSS_SHARDS_OPTIONS)
  else checkShardOptions(meta.model, 'acrossShards(options)', shardsOrOptions, ACROSS_SHARDS_OPTIONS)
  const manager = options.manager ?? shardManagerOf(model)
  if (!manager) {
    // Without kysely no shard manager can have been made: say what to install first.
    loadKysely()
    throw new InvalidQueryError(
      meta.model,
      'acrossShards',
      `${meta.model} is not attached to a ShardManager: call shards.attach(${meta.model}) or pass { manager }`,
    )
  }
  const shards = options.shards ?? manager.names
  for (const name of shards) manager.database(name)
  if (shards.length === 0)
    throw new InvalidQueryError(meta.model, 'acrossShards', 'acrossShards needs at least one shard')
  const mode = options.onShardError ?? 'fail'
  if (mode !== 'fail' && mode !== 'partial') {
    throw new InvalidQueryError(
      meta.model,
      'onShardError',
      `onShardError must be 'fail' or 'partial', got ${String(mode)}`,
    )
  }
  const first = databaseState(manager.database(shards[0] as string) as unknown as AnyKysely)
  const dialect: MergeDialect = first.postgres
    ? 'postgres'
    : first.sqlite
      ? 'sqlite'
      : first.mysql
        ? 'mysql'
        : 'other'
  let shardKey: Context['shardKey']
  if (options.shardKey !== undefined) {
    const resolver = (options.shardKey as Partial<NonNullable<AcrossShardsOptions['shardKey']>>).resolver
    if (typeof resolver?.resolve !== 'function') {
      throw new InvalidQueryError(
        meta.model,
        'shardKey',
        'shardKey needs { column, resolver } with resolve(key)',
      )
    }
    shardKey = { column: columnOf(meta, options.shardKey.column), resolver }
  }
  return new ShardScopeImpl<M, Mode>(
    { model: model as ModelClass, meta, manager, shards, mode, options, dialect, shardKey },
    EMPTY,
  )
}

/** What `acrossShards(options)` may hold (see {@link AcrossShardsOptions}). */
const ACROSS_SHARDS_OPTIONS: OptionSpec = {
  shards: checks.strings,
  manager: checks.object,
  onShardError: checks.oneOf(['fail', 'partial']),
  failFast: checks.boolean,
  timeout: checks.duration({ positive: true }),
  concurrency: checks.integer(1),
  maxDistinct: checks.integer(1),
  compare: checks.function,
  shardKey: checks.nested({ column: checks.string, resolver: checks.object }),
}

/** What each cross-shard helper's options may hold (see {@link ShardQueryOptions}). */
const SHARD_QUERY_OPTIONS: OptionSpec = {
  signal: checks.signal,
  timeout: checks.duration({ positive: true }),
  batch: checks.boolean,
}

/** Throws an `InvalidQueryError` naming the model and the option when `options` break `spec`. */
function checkShardOptions(model: string, where: string, options: unknown, spec: OptionSpec): void {
  if (options === undefined) return
  const problem = specProblem(options, spec)
  if (problem !== undefined) {
    throw new InvalidQueryError(model, problem.option ?? where, `${where}: ${formatOptionProblem(problem)}`)
  }
}
