/**
 * `acrossShards(Model)` / `Model.acrossShards()`: a scope whose helpers run on every shard at
 * once and return one exactly merged answer (see `merge.ts` for the rules).
 */
import { sql, type CompiledQuery, type QueryResult } from 'kysely'
import { AsyncResult } from '../core/async-result'
import { invalidateTable } from '../model/cache'
import { readValue, toSqlNumber, type SqlNumber } from '../model/coerce'
import { columnOf, orderTerm, rowCount, touchColumn, whereConditions } from '../model/conditions'
import { databaseState, executeCompiled, type AnyKysely } from '../model/connection'
import { getModelMeta, type ColumnMeta, type ModelMeta } from '../model/decorators'
import { InvalidQueryError } from '../model/errors'
import {
  type Attributes,
  type ColumnKey,
  type ComparisonOperator,
  type ModelClass,
  type WhereAttributes,
} from '../model/scope'
import { ShardError, type ShardFailure } from './errors'
import { settleAcrossShards } from './settle-across-shards'
import {
  concatPage,
  DEFAULT_MAX_DISTINCT,
  mergeAvg,
  mergeCount,
  mergeDistinct,
  mergeExists,
  mergeExtreme,
  mergeGroups,
  mergePage,
  mergeSum,
  rowComparator,
  type AvgPart,
  type SortKey,
  type ValueComparator,
} from './merge'
import { shardManagerOf, type ShardManager } from './shard-manager'
import {
  aliased,
  baseSelect,
  CompileOnce,
  compileWrite,
  orderedSelect,
  shapeOf,
  ShardQuery,
  type ShardQueryState,
  type ShardShape,
} from './shard-query'

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
   * Compares two non-null values when merging `min`, `max` and ordered rows. Defaults to
   * code-unit order for strings (PostgreSQL's `C` collation, SQLite's `BINARY`); pass
   * `new Intl.Collator(...).compare` to match a locale collation.
   */
  compare?: ValueComparator
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
 * One aggregate of `groupBy(...).asyncAggregate({...})`.
 *
 * @example
 * ```ts
 * await User.acrossShards().groupBy('region').asyncAggregate({ n: 'count', scored: { count: 'score' }, top: { max: 'score' } })
 * ```
 */
export type ShardAggregate<M> =
  | 'count'
  | { readonly count: ColumnKey<M> }
  | { readonly sum: ColumnKey<M> }
  | { readonly avg: ColumnKey<M> }
  | { readonly min: ColumnKey<M> }
  | { readonly max: ColumnKey<M> }

/**
 * The value type of a {@link ShardAggregate}.
 *
 * @example
 * ```ts
 * const [row] = await User.acrossShards().groupBy('region').asyncAggregate({ mean: { avg: 'score' } })
 * row?.mean // number | null
 * ```
 */
export type ShardAggregateValue<M, A> = A extends 'count'
  ? number
  : A extends { count: string }
    ? number
    : A extends { sum: string }
      ? SqlNumber | null
      : A extends { avg: string }
        ? number | null
        : A extends { min: infer K extends keyof M }
          ? M[K] | null
          : A extends { max: infer K extends keyof M }
            ? M[K] | null
            : never

/**
 * One merged group: the group columns and the named aggregates.
 *
 * @example
 * ```ts
 * const rows = await User.acrossShards().groupBy('region').asyncAggregate({ n: 'count' })
 * rows[0]?.region; rows[0]?.n
 * ```
 */
export type ShardGroupRow<M, G extends keyof M, S> = { [K in G]: M[K] } & {
  [K in keyof S]: ShardAggregateValue<M, S[K]>
}

/**
 * A cross-shard scope grouped by columns.
 *
 * @example
 * ```ts
 * const grouped = User.acrossShards().where({ active: true }).groupBy('region')
 * await grouped.asyncAggregate({ n: 'count', total: { sum: 'score' } })
 * ```
 */
export interface GroupedShardScope<M extends object, G extends ColumnKey<M>, Mode extends ShardErrorMode> {
  /**
   * Each group's aggregates, merged across shards with the same rules as the helpers (avg as
   * Σsum/Σcount). Groups come back ordered by the group columns, ascending.
   */
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
  /** Σ of each shard's `sum(column)`; `null` only when no shard has a non-null value. */
  asyncSum(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, SqlNumber | null>>
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
  /**
   * The exact number of distinct non-null values: each shard sends its distinct values and
   * they are deduplicated in a `Set` of at most `maxDistinct` entries (past it the helper
   * rejects with a `ShardMergeLimitError`).
   */
  asyncCountDistinct(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, number>>
  /** Sets `attributes` on matching rows of every shard; per-shard counts, no cross-shard atomicity. */
  asyncUpdate(attributes: Partial<Attributes<M>>, options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
  /** Deletes matching rows on every shard; per-shard counts, no cross-shard atomicity. */
  asyncDelete(options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
  /** Sets `columns` (default `updatedAt`/`updated_at`) to one shared "now" on every shard. */
  asyncTouchAll(columns?: readonly ColumnKey<M>[], options?: ShardQueryOptions): AsyncResult<ShardWriteResult>
}

interface Context {
  readonly model: ModelClass
  readonly meta: ModelMeta
  readonly manager: ShardManager<unknown>
  readonly shards: readonly string[]
  readonly mode: ShardErrorMode
  readonly options: AcrossShardsOptions<ShardErrorMode>
}

const EMPTY: ShardQueryState = { conditions: [], order: [], limit: undefined, offset: undefined }

type Row = Record<string, unknown>

class ShardScopeImpl<M extends object, Mode extends ShardErrorMode> implements ShardScope<M, Mode> {
  private readonly compiled = new Map<string, ShardQuery<Row>>()
  private shaped: ShardShape | undefined

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
    if (columns.length === 0)
      throw new InvalidQueryError(this.ctx.meta.model, 'groupBy', 'groupBy needs a column')
    const groups = columns.map((c) => columnOf(this.ctx.meta, c))
    return {
      asyncAggregate: (aggregates, options) =>
        this.grouped(groups, aggregates as Record<string, ShardAggregate<M>>, options) as never,
    }
  }

  // ---- running ------------------------------------------------------------------------------

  /** The query `key` of this scope; `build` gets the scope's state with holes for its values. */
  private query(
    key: string,
    build: (db: AnyKysely, state: ShardQueryState) => CompiledQuery<Row>,
  ): ShardQuery<Row> {
    let query = this.compiled.get(key)
    if (!query) {
      this.shaped ??= shapeOf(this.state)
      this.compiled.set(key, (query = new ShardQuery(this.ctx.meta, key, this.shaped, build)))
    }
    return query
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

  /** Runs `query` on every shard, reads each result, merges the healthy ones. */
  private read<P, T>(
    helper: string,
    query: ShardQuery<Row>,
    readPart: (result: QueryResult<Row>) => P,
    merge: (parts: P[], sqlite: boolean) => T,
    options: ShardQueryOptions | undefined,
  ): AsyncResult<ShardAnswer<Mode, T>> {
    const operation = this.operation(helper)
    const { manager, shards, mode } = this.ctx
    const sqlite = databaseState(manager.database(shards[0] as string) as unknown as AnyKysely).sqlite
    return AsyncResult.from(
      async (signal) => {
        const settled = await settleAcrossShards(
          manager,
          shards,
          ({ db, signal: shardSignal }) =>
            executeCompiled(db as AnyKysely, query.for(db as AnyKysely), shardSignal).then(readPart),
          {
            operation,
            signal,
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
          else failures.push({ shard: s.shard, cause: s.reason })
        }
        if (signal.aborted) throw signal.reason
        if ((mode === 'fail' && failures.length + cancelled.length > 0) || parts.length === 0) {
          throw new ShardError(operation, failures, cancelled, values)
        }
        const value = merge(parts, sqlite)
        return (
          mode === 'partial' ? { value, failedShards: failures, complete: failures.length === 0 } : value
        ) as ShardAnswer<Mode, T>
      },
      { operation, signal: options?.signal },
    )
  }

  asyncCount(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number>> {
    this.noPaging('asyncCount')
    const query = this.query('count', (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions)
        .select(sql`count(*)`.as('n'))
        .compile(),
    )
    return this.read('asyncCount', query, (r) => Number(r.rows[0]?.n ?? 0), mergeCount, options)
  }

  asyncSum(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, SqlNumber | null>> {
    this.noPaging('asyncSum')
    const col = columnOf(this.ctx.meta, column)
    const query = this.query(`sum:${col.name}`, (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions)
        .select(sql`sum(${sql.id(col.name)})`.as('s'))
        .compile(),
    )
    return this.read('asyncSum', query, (r) => readSum(r.rows[0]?.s), mergeSum, options)
  }

  asyncAvg(column: ColumnKey<M>, options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, number | null>> {
    this.noPaging('asyncAvg')
    const col = columnOf(this.ctx.meta, column)
    const query = this.query(`avg:${col.name}`, (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions)
        .select([sql`sum(${sql.id(col.name)})`.as('s'), sql`count(${sql.id(col.name)})`.as('n')])
        .compile(),
    )
    return this.read(
      'asyncAvg',
      query,
      (r): AvgPart => ({ sum: readSum(r.rows[0]?.s), count: Number(r.rows[0]?.n ?? 0) }),
      mergeAvg,
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
    const query = this.query(`${fn}:${col.name}`, (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions)
        .select(sql`${sql.raw(fn)}(${sql.id(col.name)})`.as('m'))
        .compile(),
    )
    return this.read(
      helper,
      query,
      (r) => readValue(col.kind, r.rows[0]?.m),
      (parts) => mergeExtreme(fn, parts, this.ctx.options.compare),
      options,
    )
  }

  asyncExists(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, boolean>> {
    this.noPaging('asyncExists')
    const query = this.query('exists', (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions).select(sql.lit(1).as('v')).limit(1).compile(),
    )
    return this.read('asyncExists', query, (r) => r.rows.length > 0, mergeExists, options)
  }

  asyncCountDistinct(
    column: ColumnKey<M>,
    options?: ShardQueryOptions,
  ): AsyncResult<ShardAnswer<Mode, number>> {
    this.noPaging('asyncCountDistinct')
    const col = columnOf(this.ctx.meta, column)
    const query = this.query(`distinct:${col.name}`, (db, state) =>
      baseSelect(db, this.ctx.meta, state.conditions)
        .where(sql.id(col.name), 'is not', null)
        .select(aliased(col.name, 'v'))
        .distinct()
        .compile(),
    )
    const operation = this.operation('asyncCountDistinct')
    return this.read(
      'asyncCountDistinct',
      query,
      (r) => r.rows.map((row) => readValue(col.kind, row.v)),
      (parts) => mergeDistinct(parts, this.ctx.options.maxDistinct ?? DEFAULT_MAX_DISTINCT, operation),
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
    const orderSelection = order.map((o, i) => aliased(o.column.name, `o${i}`))
    const query = this.query(key, (db, state) =>
      orderedSelect(db, this.ctx.meta, state, [...selection(), ...orderSelection]),
    )
    const page = { limit: this.state.limit, offset: this.state.offset }
    return this.read(
      helper,
      query,
      (r) => r.rows,
      (lists, sqlite) => {
        if (order.length === 0) return finish(concatPage(lists, page))
        // Read each order value once, not at every comparison of the merge.
        const keyed = lists.map((rows) =>
          rows.map((row) => ({ row, key: order.map((o, i) => readValue(o.column.kind, row[`o${i}`])) })),
        )
        const keys: SortKey<{ key: unknown[] }>[] = order.map((o, i) => ({
          get: (entry) => entry.key[i],
          direction: o.direction,
          nullsLargest: !sqlite,
          compare: this.ctx.options.compare,
        }))
        return finish(mergePage(keyed, rowComparator(keys), page).map((entry) => entry.row))
      },
      options,
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

  asyncAll(options?: ShardQueryOptions): AsyncResult<ShardAnswer<Mode, M[]>> {
    const { meta, model } = this.ctx
    return this.rows(
      'asyncAll',
      'all',
      () => meta.columns.map((c) => aliased(c.name, `c_${c.property}`)),
      (rows) =>
        rows.map((row) => {
          const instance = new model() as Record<string, unknown>
          for (const c of meta.columns) instance[c.property] = readValue(c.kind, row[`c_${c.property}`])
          return instance as M
        }),
      options,
    )
  }

  private grouped(
    groups: ColumnMeta[],
    aggregates: Record<string, ShardAggregate<M>>,
    options?: ShardQueryOptions,
  ): AsyncResult<unknown> {
    this.noPaging('asyncAggregate')
    const meta = this.ctx.meta
    const specs = Object.entries(aggregates).map(([name, spec], i) => {
      if (spec === 'count') return { name, fn: 'count' as const, col: undefined, i }
      const entries = typeof spec === 'object' && spec !== null ? Object.entries(spec) : []
      const [fn, column] = entries[0] ?? []
      if (entries.length !== 1 || !['count', 'sum', 'avg', 'min', 'max'].includes(fn as string)) {
        throw new InvalidQueryError(
          meta.model,
          name,
          `aggregate ${name} must be 'count' or { count|sum|avg|min|max: column }`,
        )
      }
      return { name, fn: fn as 'count' | 'sum' | 'avg' | 'min' | 'max', col: columnOf(meta, column), i }
    })
    const key = `group:${groups.map((g) => g.name).join(',')}:${specs.map((s) => `${s.name}=${s.fn}(${s.col?.name ?? '*'})`).join(',')}`
    const query = this.query(key, (db, state) => {
      const selection: unknown[] = groups.map((g, i) => aliased(g.name, `g${i}`))
      for (const s of specs) {
        const ref = s.col ? sql.id(s.col.name) : sql`*`
        if (s.fn === 'count') selection.push(sql`count(${ref})`.as(`a${s.i}n`))
        if (s.fn === 'sum' || s.fn === 'avg') selection.push(sql`sum(${ref})`.as(`a${s.i}s`))
        if (s.fn === 'avg') selection.push(sql`count(${ref})`.as(`a${s.i}n`))
        if (s.fn === 'min' || s.fn === 'max') selection.push(sql`${sql.raw(s.fn)}(${ref})`.as(`a${s.i}m`))
      }
      return baseSelect(db, meta, state.conditions)
        .select(selection as never)
        .groupBy(groups.map((g) => sql.id(g.name)) as never)
        .compile() as CompiledQuery<Row>
    })
    return this.read(
      'asyncAggregate',
      query,
      (r) => r.rows,
      (lists, sqlite) => {
        const merged = mergeGroups(
          lists,
          (row) => groups.map((g, i) => readValue(g.kind, row[`g${i}`])),
          (groupKey, rows) => {
            const out: Row = {}
            groups.forEach((g, i) => (out[g.property] = groupKey[i]))
            for (const s of specs) {
              const n = (row: Row): number => Number(row[`a${s.i}n`] ?? 0)
              const sum = (row: Row): SqlNumber | null => readSum(row[`a${s.i}s`])
              const m = (row: Row): unknown => readValue((s.col as ColumnMeta).kind, row[`a${s.i}m`])
              out[s.name] =
                s.fn === 'count'
                  ? mergeCount(rows.map(n))
                  : s.fn === 'sum'
                    ? mergeSum(rows.map(sum))
                    : s.fn === 'avg'
                      ? mergeAvg(rows.map((row) => ({ sum: sum(row), count: n(row) })))
                      : mergeExtreme(s.fn, rows.map(m), this.ctx.options.compare)
            }
            return out
          },
        )
        const compare = rowComparator<Row>(
          groups.map((g) => ({
            get: (row) => row[g.property],
            nullsLargest: !sqlite,
            compare: this.ctx.options.compare,
          })),
        )
        return merged.sort(compare)
      },
      options,
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
    const operation = this.operation(helper)
    const { manager, shards, mode, meta } = this.ctx
    const query = new CompileOnce(
      (db) => compileWrite(db, meta, this.state.conditions, values) as CompiledQuery<Row>,
    )
    return AsyncResult.from(
      async (signal) => {
        const settled = await settleAcrossShards(
          manager,
          shards,
          ({ db, signal: shardSignal }) =>
            executeCompiled(db as AnyKysely, query.for(db as AnyKysely), shardSignal).then((r) =>
              Number(r.numAffectedRows ?? 0),
            ),
          {
            operation,
            signal,
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
      },
      { operation, signal: options?.signal },
    )
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
}

function readSum(value: unknown): SqlNumber | null {
  return value === null || value === undefined ? null : toSqlNumber(value)
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
  const manager = options.manager ?? shardManagerOf(model)
  if (!manager) {
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
  return new ShardScopeImpl<M, Mode>(
    { model: model as ModelClass, meta, manager, shards, mode, options },
    EMPTY,
  )
}
