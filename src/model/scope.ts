/**
 * Scopes: immutable query descriptions (`where`, `orderBy`, `limit`, `offset`) with the async
 * helpers that run them. Each method returns a new scope; a scope can be reused, and the
 * queries it compiles are cached per database, so running the same scope again (or on many
 * databases of one dialect) compiles once.
 */
import type { CompiledQuery, Expression, QueryResult, SqlBool } from 'kysely'
import { sql } from './kysely'
import { AsyncResult } from '../core/async-result'
import { AsyncExecutionError, isTributaryError } from '../core/errors'
import { aggregateExpression, readAggregate, readCount, type AggregateFunction } from './aggregates'
import { readValue, writeValue, type ColumnKind, type SqlNumber } from './coerce'
import { invalidateTable, modelCache, readKey, type ModelCache, type ModelCacheOptions } from './cache'
import {
  checkSqlValue,
  columnOf,
  orderTerm,
  rowCount,
  touchColumn,
  whereConditions,
  whereExpression,
  type Condition,
  type Order,
} from './conditions'
import {
  cancelledBy,
  CancelToken,
  databaseState,
  executeCompiled,
  executeWith,
  fromSignal,
  resolveDatabase,
  type AnyKysely,
  type Cancellation,
} from './connection'
import { getModelMeta, type ColumnMeta, type ModelMeta } from './decorators'
import { InvalidQueryError, RecordNotFoundError } from './errors'
import {
  compileGrouped,
  groupedKey,
  GroupedBuilder,
  groupingState,
  groupTerms,
  parseAggregates,
  readGroupRows,
  type GroupedScope,
  type GroupingState,
  type GroupTarget,
} from './grouping'
import { insertAndReadBack } from './insert-read-back'
import { readerOf, rowReader } from './row-reader'
import { batcherFor } from './batch-loader'
import { abortError, raceAbort } from '../core/abort'
import { checks, formatOptionProblem, specProblem, type OptionSpec } from '../core/option-checks'
import type { Tracer } from '@opentelemetry/api'
import {
  activeTracer,
  databaseAttributes,
  endSpan,
  startSpan,
  traced,
  withSpan,
  type SpanSpec,
} from '../core/telemetry'
import {
  batchSizeOf,
  cursorBatches,
  keysetAfter,
  keysetBatches,
  keysetTerms,
  rowsOf,
  type StreamOptions,
} from './row-stream'
import { Hole } from './templates'
import { isPaged, PreparedQueries, selectParts } from './prepared-query'
import type {
  Attributes,
  ColumnKey,
  ComparisonOperator,
  ModelClass,
  QueryOptions,
  WhereAttributes,
} from './query-types'

const QUERY_OPTIONS: OptionSpec = { signal: checks.signal, batch: checks.boolean }

/** Refuses a misspelt or mistyped helper option, naming the model and the helper. */
function checkQueryOptions(model: ModelClass<object>, helper: string, options: QueryOptions): void {
  const problem = specProblem(options, QUERY_OPTIONS)
  if (problem === undefined) return
  throw new InvalidQueryError(
    model.name,
    problem.option ?? 'options',
    `${helper}(…, options): ${formatOptionProblem(problem)}`,
  )
}

/** `asyncTouchAll` arguments: column names, optionally followed by {@link QueryOptions}. */
export type TouchArguments<M> = ColumnKey<M>[] | [...ColumnKey<M>[], QueryOptions]

/**
 * An immutable query on a model. Every helper starts at once and returns an `AsyncResult`
 * recorded in `AsyncMetrics` as `<Model>.<helper>` (e.g. `User.asyncCount`).
 *
 * @example
 * ```ts
 * import { AsyncCoordinator } from 'tributary'
 * const active = User.where({ active: true })
 * const count = active.asyncCount()
 * const top = active.orderBy('score', 'desc').limit(10).asyncAll()
 * console.log(await count, (await top).map((u) => u.email))
 * ```
 */
export interface Scope<M extends object> {
  /** Adds conditions compared with `=` (`in` for arrays, `is null` for `null`). */
  where(attributes: WhereAttributes<M>): Scope<M>
  /** Adds `column operator value`; the column must be declared and the operator allowed. */
  where<K extends ColumnKey<M>>(column: K, operator: ComparisonOperator, value: unknown): Scope<M>
  /** Orders rows (after any earlier `orderBy`). `direction` defaults to `'asc'`. */
  orderBy(column: ColumnKey<M>, direction?: 'asc' | 'desc'): Scope<M>
  /** At most `count` rows (aggregates then run over those rows). */
  limit(count: number): Scope<M>
  /** Skips `count` rows. */
  offset(count: number): Scope<M>
  /**
   * This scope with its reads cached for `ttl` seconds in a `QueryStore` (the shared default
   * one, or `options.store`): an answer is reused while fresh, and identical reads in flight run
   * once. Writes through any model of the same table mark its cached reads stale; changes made
   * in other ways show after at most `ttl`. Reads inside `withDatabase(trx, …)` on a transaction
   * bypass the cache. Cached rows are shared between callers: treat them as read-only.
   *
   * @example
   * ```ts
   * const active = User.where({ active: true }).cached({ ttl: 60 })
   * await active.asyncCount() // queries
   * await active.asyncCount() // cached for 60 s
   * ```
   */
  cached(options: ModelCacheOptions): Scope<M>

  /** `count(*)`. */
  asyncCount(options?: QueryOptions): AsyncResult<number>
  /** `sum(column)`: `0` over no rows; a `bigint` past `Number.MAX_SAFE_INTEGER`. */
  asyncSum(column: ColumnKey<M>, options?: QueryOptions): AsyncResult<SqlNumber>
  /** `avg(column)`: `null` over no rows. */
  asyncAvg(column: ColumnKey<M>, options?: QueryOptions): AsyncResult<number | null>
  /** `min(column)`: `null` over no rows. */
  asyncMin<K extends ColumnKey<M>>(column: K, options?: QueryOptions): AsyncResult<M[K] | null>
  /** `max(column)`: `null` over no rows. */
  asyncMax<K extends ColumnKey<M>>(column: K, options?: QueryOptions): AsyncResult<M[K] | null>
  /** The column's values, in scope order. */
  asyncPluck<K extends ColumnKey<M>>(column: K, options?: QueryOptions): AsyncResult<Array<M[K]>>
  /** The first row's value of the column, or `null` when there is no row (as Rails' `pick` gives `nil`). */
  asyncPick<K extends ColumnKey<M>>(column: K, options?: QueryOptions): AsyncResult<M[K] | null>
  /** `count(distinct column)`: the number of distinct non-null values (over the limited rows, with `limit`). */
  asyncCountDistinct(column: ColumnKey<M>, options?: QueryOptions): AsyncResult<number>
  /**
   * Groups rows by `columns` for `asyncAggregate` (see {@link GroupedScope}); this scope's
   * `orderBy`, `limit` and `offset` apply to the groups, as in Rails' `group`.
   *
   * @example
   * ```ts
   * const perRegion = await User.where({ active: true }).groupBy('region').asyncAggregate({ n: 'count' })
   * ```
   */
  groupBy<G extends ColumnKey<M>>(...columns: G[]): GroupedScope<M, G>
  /** The row with this primary key, or `undefined`. */
  asyncFind(id: unknown, options?: QueryOptions): AsyncResult<M | undefined>
  /** The row with this primary key; rejects with a `RecordNotFoundError` when missing. */
  asyncFindOrFail(id: unknown, options?: QueryOptions): AsyncResult<M>
  /** The first row matching `attributes`, or `undefined`. */
  asyncFindBy(attributes: WhereAttributes<M>, options?: QueryOptions): AsyncResult<M | undefined>
  /** Every row, as model instances. */
  asyncAll(options?: QueryOptions): AsyncResult<M[]>
  /** Whether any row matches. */
  asyncExists(options?: QueryOptions): AsyncResult<boolean>
  /**
   * The rows as model instances, one at a time, read `batchSize` at a time: through a
   * server-side cursor on PostgreSQL (one pool connection held, in a read-only transaction,
   * for the iteration), through keyset pages on the order columns and the primary key
   * elsewhere (and inside a transaction). Memory stays O(batchSize) whatever the row count.
   * Breaking out of the loop or aborting `signal` closes the cursor; a failed fetch rejects
   * the iteration with an `AsyncExecutionError` naming `<Model>.stream`.
   *
   * @example
   * ```ts
   * for await (const user of User.where({ active: true }).orderBy('createdAt').stream({ batchSize: 500 })) {
   *   if (done(user)) break // closes the cursor
   * }
   * ```
   */
  stream(options?: StreamOptions): AsyncGenerator<M, void, undefined>
  /** Sets `attributes` on every matching row; returns the number of rows updated. */
  asyncUpdate(attributes: Partial<Attributes<M>>, options?: QueryOptions): AsyncResult<number>
  /** Deletes every matching row; returns the number of rows deleted. */
  asyncDelete(options?: QueryOptions): AsyncResult<number>
  /**
   * Sets the given columns (default: `updatedAt` or `updated_at`) to now on every matching
   * row; returns the number of rows touched.
   */
  asyncTouchAll(...columns: TouchArguments<M>): AsyncResult<number>
  /**
   * Inserts one row or many (attributes the rows leave out are taken from this scope's
   * `where(attributes)` equalities, as Rails' `where(...).create` does); returns the inserted
   * rows as model instances. Large arrays are sent in several statements: wrap them in a
   * transaction to make them atomic.
   */
  asyncInsert(
    rows: Partial<Attributes<M>> | ReadonlyArray<Partial<Attributes<M>>>,
    options?: QueryOptions,
  ): AsyncResult<M[]>

  /**
   * The compiled query of an aggregate on this scope, for `db` (defaults to the model's
   * database), and a function reading its value from the result. Its SQL is compiled once per
   * shape and dialect, and the query is reusable on any database of the same dialect (a shard
   * manager runs it on every shard).
   */
  compileAggregate(fn: AggregateFunction, column?: ColumnKey<M>, db?: AnyKysely): CompiledAggregate
}

/** A compiled aggregate and how to read its result. */
export interface CompiledAggregate {
  readonly query: CompiledQuery<{ v: unknown }>
  read(result: QueryResult<{ v: unknown }>): unknown
}

interface ScopeState {
  readonly conditions: readonly Condition[]
  readonly order: readonly Order[]
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly cache: ModelCache | undefined
}

const EMPTY: ScopeState = { conditions: [], order: [], limit: undefined, offset: undefined, cache: undefined }
// Stands for the value `asyncFind` looks up: its compiled query is a template reused per id.
const ID_HOLE = new Hole(-1)

const operationNames = new WeakMap<object, Map<string, string>>()
function operationName(model: ModelClass, helper: string): string {
  let names = operationNames.get(model)
  if (!names) operationNames.set(model, (names = new Map()))
  let name = names.get(helper)
  if (!name) names.set(helper, (name = `${model.name}.${helper}`))
  return name
}

class ModelScope<M extends object> implements Scope<M> {
  private firstRow: ModelScope<M> | undefined
  private preparedQueries: PreparedQueries | undefined

  constructor(
    private readonly model: ModelClass<M>,
    private readonly meta: ModelMeta,
    private readonly state: ScopeState,
  ) {}

  /** This scope limited to one row (kept, so its compiled queries are reused). */
  private first(): ModelScope<M> {
    if (this.state.limit !== undefined && this.state.limit <= 1) return this
    return (this.firstRow ??= this.with({ limit: 1 }))
  }

  private with(change: Partial<ScopeState>): ModelScope<M> {
    return new ModelScope(this.model, this.meta, { ...this.state, ...change })
  }

  where(
    attributesOrColumn: WhereAttributes<M> | string,
    operator?: ComparisonOperator,
    value?: unknown,
  ): Scope<M> {
    const added = whereConditions(this.meta, attributesOrColumn, operator, value)
    return this.with({ conditions: [...this.state.conditions, ...added] })
  }

  orderBy(name: ColumnKey<M>, direction: 'asc' | 'desc' = 'asc'): Scope<M> {
    return this.with({ order: [...this.state.order, orderTerm(this.meta, name, direction)] })
  }

  limit(n: number): Scope<M> {
    return this.with({ limit: rowCount(this.meta, 'limit', n) })
  }

  offset(n: number): Scope<M> {
    return this.with({ offset: rowCount(this.meta, 'offset', n) })
  }

  cached(options: ModelCacheOptions): Scope<M> {
    return this.with({ cache: modelCache(this.meta.model, options) })
  }

  // ---- SQL building ------------------------------------------------------------------------

  private selection() {
    return this.meta.columns.map((c) => sql.id(c.name).as(c.property))
  }

  /** This scope's prepared queries (its shape, built once per scope; see `prepared-query.ts`). */
  private get prepared(): PreparedQueries {
    return (this.preparedQueries ??= new PreparedQueries(this.meta, '', this.state))
  }

  compileAggregate(fn: AggregateFunction, name?: ColumnKey<M>, db?: AnyKysely): CompiledAggregate {
    const col = name === undefined ? undefined : columnOf(this.meta, name)
    if (fn !== 'count' && !col) throw new InvalidQueryError(this.meta.model, fn, `${fn} needs a column`)
    const target = db ?? resolveDatabase(this.model)
    const query = this.prepared.query(`${fn}:${col?.name ?? '*'}`, target, (holed) => {
      const paged = isPaged(holed)
      const inner = selectParts(target, this.meta, holed, { ordered: paged })
      if (!paged) {
        return inner.select(aggregateExpression(fn, col?.name).as('v')).compile() as CompiledQuery<{
          v: unknown
        }>
      }
      const sub = inner.select(col ? sql.id(col.name).as('c') : sql.lit(1).as('c')).as('t')
      return target
        .selectFrom(sub)
        .select(aggregateExpression(fn, col ? 'c' : undefined).as('v'))
        .compile() as CompiledQuery<{ v: unknown }>
    })
    return { query, read: (result) => readAggregate(fn, col, result.rows[0]?.v) }
  }

  private instance(row: Record<string, unknown>): M {
    return rowReader(this.model, this.meta.columns)(row)
  }

  // ---- running -----------------------------------------------------------------------------

  /**
   * Starts a helper: resolves the database now (in the caller's async context), compiles, runs
   * within the database's concurrency limit and reads the result. Refused inputs reject with
   * their own error; database failures with an `AsyncExecutionError` naming the operation.
   */
  private run<R, T>(
    helper: string,
    options: QueryOptions | undefined,
    compile: (db: AnyKysely, sqlite: boolean) => CompiledQuery<R>,
    read: (result: QueryResult<R>) => T,
    write = false,
  ): AsyncResult<T> {
    if (options !== undefined) checkQueryOptions(this.model, helper, options)
    const operation = operationName(this.model, helper)
    let db: AnyKysely
    let state: ReturnType<typeof databaseState>
    try {
      db = resolveDatabase(this.model)
      state = databaseState(db)
    } catch (error) {
      return AsyncResult.reject<T>(error, { operation })
    }
    const cache = write ? undefined : this.state.cache
    const untraced = (
      cancellation: Cancellation | undefined,
      signal: AbortSignal | undefined,
    ): Promise<T> => {
      const query = compile(db, state.sqlite)
      const execute = (c: Cancellation | undefined): Promise<T> =>
        executeWith(db, query, c).then(read, (error: unknown) => {
          if (c?.aborted) throw c.reason
          throw isTributaryError(error) ? error : new AsyncExecutionError(operation, error)
        })
      if (write) return execute(cancellation).then((value) => this.written(value))
      if (cache === undefined || state.transaction) return execute(cancellation)
      // The shared read runs on the store's signal: one caller giving up does not cancel it
      // for the others; this caller's signal only ends its own wait.
      return cache.store.fetch(
        readKey(this.meta.table, db, helper, query),
        (ctx) => execute(fromSignal(ctx.signal)),
        { staleTime: cache.ttlMs, cacheTime: cache.ttlMs, signal },
      )
    }
    // With an OpenTelemetry SDK registered, a client span per helper (see spanOf); otherwise
    // the work runs as it is, with nothing allocated for tracing.
    const work =
      activeTracer() === undefined
        ? untraced
        : (cancellation: Cancellation | undefined, signal: AbortSignal | undefined): Promise<T> =>
            traced(this.spanOf(helper, db, state.dialect, write ? writeVerb(helper) : 'SELECT'), () =>
              untraced(cancellation, signal),
            )
    if (options?.signal === undefined) {
      // SQLite and a transaction's connection run one query at a time, with no queue of ours
      // and no way to stop a running query: no cancellation at all.
      if (state.sqlite || state.transaction)
        return AsyncResult.from(() => work(undefined, undefined), { operation })
      // Otherwise only result.cancel() can cancel: a CancelToken it sets off, instead of the
      // AbortController every AsyncResult.from((signal) => …) creates (microseconds on Node 20).
      if (cache === undefined) {
        const token = new CancelToken()
        return cancelledBy(
          AsyncResult.from(() => work(token, undefined), { operation }),
          token,
        )
      }
    }
    return AsyncResult.from((signal) => work(fromSignal(signal), signal), {
      operation,
      signal: options?.signal,
    })
  }

  /**
   * The span of a helper on `db`, after the database semantic conventions: named
   * `<operation> <table>`, with `db.system`, `db.namespace` (when named), `db.operation.name`
   * and `db.collection.name`, plus the model and helper. Never a value of the query.
   */
  private spanOf(
    helper: string,
    db: AnyKysely,
    dialect: string,
    operation: string,
    batched?: boolean,
  ): SpanSpec {
    const attributes = databaseAttributes(dialect, db, operation, this.meta.table)
    attributes['tributary.model'] = this.meta.model
    attributes['tributary.model.helper'] = helper
    if (batched) attributes['tributary.batched'] = true
    return { name: `${operation} ${this.meta.table}`, kind: 'client', attributes }
  }

  /** After a write: marks cached reads of this table stale, then passes the value on. */
  private written<T>(value: T): T {
    invalidateTable(this.meta.table)
    return value
  }

  asyncCount(options?: QueryOptions): AsyncResult<number> {
    return this.aggregate('asyncCount', 'count', undefined, options) as AsyncResult<number>
  }

  asyncSum(name: ColumnKey<M>, options?: QueryOptions): AsyncResult<SqlNumber> {
    return this.aggregate('asyncSum', 'sum', name, options) as AsyncResult<SqlNumber>
  }

  asyncAvg(name: ColumnKey<M>, options?: QueryOptions): AsyncResult<number | null> {
    return this.aggregate('asyncAvg', 'avg', name, options) as AsyncResult<number | null>
  }

  asyncMin<K extends ColumnKey<M>>(name: K, options?: QueryOptions): AsyncResult<M[K] | null> {
    return this.aggregate('asyncMin', 'min', name, options) as AsyncResult<M[K] | null>
  }

  asyncMax<K extends ColumnKey<M>>(name: K, options?: QueryOptions): AsyncResult<M[K] | null> {
    return this.aggregate('asyncMax', 'max', name, options) as AsyncResult<M[K] | null>
  }

  private aggregate(
    helper: string,
    fn: AggregateFunction,
    name: string | undefined,
    options: QueryOptions | undefined,
  ): AsyncResult<unknown> {
    let read: CompiledAggregate['read'] | undefined
    return this.run(
      helper,
      options,
      (db) => {
        const compiled = this.compileAggregate(fn, name as ColumnKey<M> | undefined, db)
        read = compiled.read
        return compiled.query
      },
      (result) => (read as CompiledAggregate['read'])(result),
    )
  }

  asyncPluck<K extends ColumnKey<M>>(name: K, options?: QueryOptions): AsyncResult<Array<M[K]>> {
    return this.values1('asyncPluck', this, name, options, (rows, col) => {
      const read = readerOf(col.kind)
      return rows.map((row) => read(row.v) as M[K])
    })
  }

  asyncPick<K extends ColumnKey<M>>(name: K, options?: QueryOptions): AsyncResult<M[K] | null> {
    return this.values1('asyncPick', this.first(), name, options, (rows, col) =>
      rows[0] ? (readValue(col.kind, rows[0].v) as M[K]) : null,
    )
  }

  asyncCountDistinct(name: ColumnKey<M>, options?: QueryOptions): AsyncResult<number> {
    return this.run(
      'asyncCountDistinct',
      options,
      (db) => {
        const col = columnOf(this.meta, name)
        return this.prepared.query(`distinct:${col.name}`, db, (holed) => {
          const paged = isPaged(holed)
          const inner = selectParts(db, this.meta, holed, { ordered: paged })
          if (!paged) return inner.select(sql`count(distinct ${sql.id(col.name)})`.as('v')).compile()
          const sub = inner.select(sql.id(col.name).as('c')).as('t')
          return db
            .selectFrom(sub)
            .select(sql`count(distinct ${sql.id('c')})`.as('v'))
            .compile()
        })
      },
      (result) => readCount((result.rows[0] as { v?: unknown } | undefined)?.v),
    )
  }

  groupBy<G extends ColumnKey<M>>(...columns: G[]): GroupedScope<M, G> {
    const state = groupingState(this.meta, columns, this.state.order, this.state.limit, this.state.offset)
    return new GroupedBuilder(this.meta, state, (grouping, aggregates, options) =>
      this.grouped(grouping, aggregates, options as QueryOptions | undefined),
    ) as unknown as GroupedScope<M, G>
  }

  private grouped(
    grouping: GroupingState,
    aggregates: unknown,
    options: QueryOptions | undefined,
  ): AsyncResult<Array<Record<string, unknown>>> {
    const specs = parseAggregates(this.meta, grouping, aggregates)
    const terms = groupTerms(this.meta, grouping, specs)
    return this.run(
      'asyncAggregate',
      options,
      (db, sqlite) => {
        // Compiled once per shape (as every helper is), then filled with this call's values.
        const prepared = new PreparedQueries(this.meta, 'group:', {
          conditions: this.state.conditions,
          order: [],
          limit: grouping.limit,
          offset: grouping.offset,
        })
        const having = terms.having.map((h) =>
          h.operator === 'is' || h.operator === 'is not'
            ? h
            : { ...h, value: prepared.hole(h.value, havingKind(h.target, grouping)) },
        )
        return prepared.query(groupedKey(grouping, specs, terms), db, (holed) =>
          compileGrouped(db, sqlite, this.meta, holed, grouping, specs, { having, order: terms.order }),
        )
      },
      (result) => readGroupRows(result.rows as Array<Record<string, unknown>>, grouping, specs),
    )
  }

  /** Runs `select column as v` on `scope` (this one, or its first row). */
  private values1<T>(
    helper: string,
    scope: ModelScope<M>,
    name: unknown,
    options: QueryOptions | undefined,
    finish: (rows: Array<{ v: unknown }>, col: ColumnMeta) => T,
  ): AsyncResult<T> {
    let col: ColumnMeta | undefined
    return scope.run(
      helper,
      options,
      (db) => {
        const c = (col = columnOf(this.meta, name))
        return scope.prepared.query(`values:${c.name}`, db, (holed) =>
          selectParts(db, this.meta, holed).select(sql.id(c.name).as('v')).compile(),
        )
      },
      (result) => finish(result.rows as Array<{ v: unknown }>, col as ColumnMeta),
    )
  }

  asyncFind(id: unknown, options?: QueryOptions): AsyncResult<M | undefined> {
    return this.find('asyncFind', id, options, (row) => row)
  }

  asyncFindOrFail(id: unknown, options?: QueryOptions): AsyncResult<M> {
    return this.find('asyncFindOrFail', id, options, (row, key) => {
      if (!row) throw new RecordNotFoundError(this.meta.model, key, id)
      return row
    })
  }

  private find<T>(
    helper: string,
    id: unknown,
    options: QueryOptions | undefined,
    finish: (row: M | undefined, key: string) => T,
  ): AsyncResult<T> {
    const primary = this.meta.primary
    if (primary) {
      const batched = this.batched(helper, primary, id, options, (row) => finish(row, primary.property))
      if (batched) return batched
    }
    return this.run(
      helper,
      options,
      (db, sqlite) => {
        if (!primary)
          throw new InvalidQueryError(
            this.meta.model,
            'primary',
            `${this.meta.model} has no @Column({ primary: true })`,
          )
        const template = this.prepared.query('find', db, (holed) => {
          const extra: Condition = { column: primary, operator: '=', value: ID_HOLE }
          return selectParts(db, this.meta, holed, { extra }).select(this.selection()).limit(1).compile()
        })
        const value = writeValue(primary.kind, id, sqlite)
        return { ...template, parameters: template.parameters.map((p) => (p === ID_HOLE ? value : p)) }
      },
      (result) => {
        const row = result.rows[0] as Record<string, unknown> | undefined
        return finish(row ? this.instance(row) : undefined, primary?.property ?? 'id')
      },
    )
  }

  /**
   * The lookup of `value` in `col` joined to this tick's batch (see `batch-loader.ts`), or
   * `undefined` when this call is not batched.
   */
  private batched<T>(
    helper: string,
    col: ColumnMeta,
    value: unknown,
    options: QueryOptions | undefined,
    finish: (row: M | undefined) => T,
  ): AsyncResult<T> | undefined {
    const s = this.state
    if (options?.batch === false || s.cache || s.conditions.length > 0 || s.order.length > 0) return undefined
    if (s.limit !== undefined || s.offset !== undefined) return undefined
    if (value === null || value === undefined || Array.isArray(value)) return undefined
    // Checked here once the call may be batched (one that is not is checked where it runs).
    if (options !== undefined) checkQueryOptions(this.model, helper, options)
    const operation = operationName(this.model, helper)
    let db: AnyKysely
    let state: ReturnType<typeof databaseState>
    try {
      // A symbol or an object is refused here as where() refuses it, never sent as text.
      checkSqlValue(this.meta, col, '=', value)
      db = resolveDatabase(this.model)
      state = databaseState(db)
    } catch (error) {
      return AsyncResult.reject(error, { operation })
    }
    if (state.transaction) return undefined
    const signal = options?.signal
    if (signal?.aborted) return AsyncResult.reject(abortError(signal, operation), { operation })
    const batcher = batcherFor(db, this.model, this.meta, col, state.sqlite)
    if (!signal && activeTracer() === undefined) {
      // The plain path: the batch settles this caller's result itself, no promise in between.
      const result = AsyncResult.deferred<T>({ operation })
      batcher.add(value, new SettlingWaiter(result, finish as (row: object | undefined) => T, operation))
      return result
    }
    const start = (): Promise<T> => (batcher.load(value, operation) as Promise<M | undefined>).then(finish)
    // Traced, the span covers this caller's wait for the batch its lookup joined.
    const load =
      activeTracer() === undefined
        ? start()
        : traced(this.spanOf(helper, db, state.dialect, 'SELECT', true), start)
    if (!signal) return AsyncResult.from(() => load, { operation })
    // The caller's signal ends its own wait; the shared query runs on for the others.
    return AsyncResult.from((own) => raceAbort(load, own), { operation, signal })
  }

  asyncFindBy(attributes: WhereAttributes<M>, options?: QueryOptions): AsyncResult<M | undefined> {
    const keys = Object.keys(attributes).filter(
      (k) => (attributes as Record<string, unknown>)[k] !== undefined,
    )
    if (keys.length === 1) {
      const batched = this.batched(
        'asyncFindBy',
        columnOf(this.meta, keys[0]),
        (attributes as Record<string, unknown>)[keys[0] as string],
        options,
        (row) => row,
      )
      if (batched) return batched
    }
    // One new scope, not two (where() then limit()): this runs per call.
    const added = whereConditions(this.meta, attributes, undefined, undefined)
    const scope = this.with({ conditions: [...this.state.conditions, ...added], limit: 1 })
    return scope.rows('asyncFindBy', options, (rows) => rows[0])
  }

  asyncAll(options?: QueryOptions): AsyncResult<M[]> {
    return this.rows('asyncAll', options, (rows) => rows)
  }

  private rows<T>(
    helper: string,
    options: QueryOptions | undefined,
    finish: (rows: M[]) => T,
  ): AsyncResult<T> {
    return this.run(
      helper,
      options,
      (db) =>
        this.prepared.query('all', db, (holed) =>
          selectParts(db, this.meta, holed).select(this.selection()).compile(),
        ),
      (result) => {
        const read = rowReader(this.model, this.meta.columns)
        return finish(result.rows.map((row) => read(row as Record<string, unknown>)))
      },
    )
  }

  asyncExists(options?: QueryOptions): AsyncResult<boolean> {
    const first = this.first()
    return first.run(
      'asyncExists',
      options,
      (db) =>
        first.prepared.query('exists', db, (holed) =>
          selectParts(db, this.meta, holed).select(sql.lit(1).as('v')).compile(),
        ),
      (result) => result.rows.length > 0,
    )
  }

  stream(options?: StreamOptions): AsyncGenerator<M, void, undefined> {
    const batchSize = batchSizeOf(this.meta.model, options)
    const db = resolveDatabase(this.model)
    const state = databaseState(db)
    const operation = operationName(this.model, 'stream')
    const selection = this.selection()
    const where = whereExpression(this.state.conditions, state.sqlite)
    const order = this.state.order
    const table = this.meta.table
    let batches: ReturnType<typeof cursorBatches>
    if (state.postgres && !state.transaction) {
      let qb = db.selectFrom(table).select(selection)
      if (where) qb = qb.where(where)
      for (const o of order) qb = qb.orderBy(sql.id(o.column.name), o.direction)
      batches = cursorBatches(db, qb.compile(), batchSize)
    } else {
      const terms = keysetTerms(order, this.meta.primary)
      if (!terms) {
        throw new InvalidQueryError(
          this.meta.model,
          'primary',
          `stream() pages by keyset outside PostgreSQL and needs @Column({ primary: true }) on ${this.meta.model}`,
        )
      }
      const nullsLargest = state.postgres
      batches = keysetBatches(
        db,
        (after) => {
          let qb = db.selectFrom(table).select(selection)
          if (where) qb = qb.where(where)
          if (after) qb = qb.where(keysetAfter(terms, after, nullsLargest))
          for (const t of terms) qb = qb.orderBy(sql.id(t.column.name), t.direction)
          return qb.limit(batchSize).compile()
        },
        (row) => terms.map((t) => row[t.column.property]),
        batchSize,
      )
    }
    const rows = rowsOf(
      batches,
      rowReader(this.model, this.meta.columns),
      { limit: this.state.limit, offset: this.state.offset },
      options?.signal,
      (error) => (isTributaryError(error) ? error : new AsyncExecutionError(operation, error)),
    )
    const tracer = activeTracer()
    return tracer === undefined
      ? rows
      : tracedRows(tracer, rows, this.spanOf('stream', db, state.dialect, 'SELECT'))
  }

  // ---- writes --------------------------------------------------------------------------------

  /** A condition restricting a write to this scope's rows, when it has order/limit/offset. */
  private writeFilter(db: AnyKysely, sqlite: boolean): Expression<SqlBool> | undefined {
    if (this.state.limit === undefined && this.state.offset === undefined)
      return whereExpression(this.state.conditions, sqlite)
    const primary = this.meta.primary
    if (!primary) {
      throw new InvalidQueryError(
        this.meta.model,
        'limit',
        `updating or deleting with limit/offset needs a primary key on ${this.meta.model}`,
      )
    }
    const ids = selectParts(db, this.meta, this.state).select(sql.id(primary.name).as('pk'))
    // MySQL refuses `in (… limit …)` and a subquery on the table being written: a derived
    // table is materialised first, which it accepts.
    if (databaseState(db).mysql) {
      return sql<SqlBool>`${sql.id(primary.name)} in (select ${sql.id('pk')} from (${ids}) as ${sql.id('page')})`
    }
    return sql<SqlBool>`${sql.id(primary.name)} in (${ids})`
  }

  private values(attributes: object, sqlite: boolean): Record<string, unknown> {
    const values: Record<string, unknown> = {}
    for (const key of Object.keys(attributes)) {
      const v = (attributes as Record<string, unknown>)[key]
      if (v === undefined) continue
      const col = columnOf(this.meta, key)
      values[col.name] = writeValue(col.kind, v, sqlite)
    }
    return values
  }

  asyncUpdate(attributes: Partial<Attributes<M>>, options?: QueryOptions): AsyncResult<number> {
    return this.update('asyncUpdate', options, () => attributes)
  }

  asyncTouchAll(...args: TouchArguments<M>): AsyncResult<number> {
    const last = args[args.length - 1]
    const options = typeof last === 'object' ? (last as QueryOptions) : undefined
    const names = (options ? args.slice(0, -1) : args) as string[]
    return this.update('asyncTouchAll', options, () => {
      const cols = names.length > 0 ? names.map((n) => columnOf(this.meta, n)) : [touchColumn(this.meta)]
      const now = new Date()
      return Object.fromEntries(cols.map((c) => [c.property, now]))
    })
  }

  private update(
    helper: string,
    options: QueryOptions | undefined,
    attributes: () => object,
  ): AsyncResult<number> {
    return this.run(
      helper,
      options,
      (db, sqlite) => {
        const values = this.values(attributes(), sqlite)
        if (Object.keys(values).length === 0)
          throw new InvalidQueryError(this.meta.model, 'attributes', `${helper} needs at least one attribute`)
        let qb = db.updateTable(this.meta.table).set(values)
        const where = this.writeFilter(db, sqlite)
        if (where) qb = qb.where(where)
        return qb.compile()
      },
      (result) => Number(result.numAffectedRows ?? 0),
      true,
    )
  }

  asyncDelete(options?: QueryOptions): AsyncResult<number> {
    return this.run(
      'asyncDelete',
      options,
      (db, sqlite) => {
        let qb = db.deleteFrom(this.meta.table)
        const where = this.writeFilter(db, sqlite)
        if (where) qb = qb.where(where)
        return qb.compile()
      },
      (result) => Number(result.numAffectedRows ?? 0),
      true,
    )
  }

  asyncInsert(
    rows: Partial<Attributes<M>> | ReadonlyArray<Partial<Attributes<M>>>,
    options?: QueryOptions,
  ): AsyncResult<M[]> {
    if (options !== undefined) checkQueryOptions(this.model, 'asyncInsert', options)
    const operation = operationName(this.model, 'asyncInsert')
    const list = (Array.isArray(rows) ? rows : [rows]) as ReadonlyArray<object>
    return AsyncResult.from(
      (signal) => {
        const db = resolveDatabase(this.model)
        const state = databaseState(db)
        const insert = (): Promise<M[]> => this.inserted(db, state, list, operation, signal)
        return activeTracer() === undefined
          ? insert()
          : traced(this.spanOf('asyncInsert', db, state.dialect, 'INSERT'), insert)
      },
      { operation, signal: options?.signal },
    )
  }

  /** Inserts `list` on `db` in chunks (within the parameter limits) and reads the rows back. */
  private async inserted(
    db: AnyKysely,
    { sqlite, mysql }: ReturnType<typeof databaseState>,
    list: ReadonlyArray<object>,
    operation: string,
    signal: AbortSignal,
  ): Promise<M[]> {
    const defaults: Record<string, unknown> = {}
    for (const c of this.state.conditions) if (c.operator === '=') defaults[c.column.property] = c.value
    const values = list.map((row) => this.values({ ...defaults, ...row }, sqlite))
    const width = Math.max(1, ...values.map((v) => Object.keys(v).length))
    const chunk = Math.max(1, Math.floor(30_000 / width))
    const inserted: M[] = []
    for (let i = 0; i < values.length; i += chunk) {
      try {
        const part = values.slice(i, i + chunk)
        // MySQL has no `returning`: the rows are read back by primary key.
        const rows = mysql
          ? await insertAndReadBack(db, this.meta, part, signal)
          : (
              await executeCompiled(
                db,
                db.insertInto(this.meta.table).values(part).returning(this.selection()).compile(),
                signal,
              )
            ).rows
        for (const row of rows) inserted.push(this.instance(row as Record<string, unknown>))
      } catch (error) {
        if (signal.aborted) throw signal.reason
        throw isTributaryError(error) ? error : new AsyncExecutionError(operation, error)
      }
    }
    return this.written(inserted)
  }
}

/** How a `having` value is bound: as its column for group columns and min/max. */
function havingKind(target: GroupTarget, grouping: GroupingState): ColumnKind {
  const col =
    'spec' in target
      ? target.spec.fn === 'min' || target.spec.fn === 'max'
        ? target.spec.col
        : undefined
      : grouping.groups[target.group]
  return col?.kind ?? 'unknown'
}

/**
 * A traced `stream()`: one span from the first pull to the end (done, failed, or left early,
 * which closes `rows`), each batch read inside it, with `db.response.returned_rows`.
 */
async function* tracedRows<T>(
  tracer: Tracer,
  rows: AsyncGenerator<T, void, undefined>,
  spec: SpanSpec,
): AsyncGenerator<T, void, undefined> {
  const span = startSpan(tracer, spec)
  let count = 0
  let failed = false
  try {
    for (;;) {
      const next = await withSpan(span, () => rows.next())
      if (next.done) return
      count++
      yield next.value
    }
  } catch (error) {
    failed = true
    span.setAttribute('db.response.returned_rows', count)
    endSpan(span, error)
    throw error
  } finally {
    if (!failed) {
      span.setAttribute('db.response.returned_rows', count)
      endSpan(span)
    }
    await rows.return(undefined)
  }
}

/** The SQL verb of a write helper (`db.operation.name`). */
function writeVerb(helper: string): string {
  return helper === 'asyncDelete' ? 'DELETE' : 'UPDATE'
}

const baseScopes = new WeakMap<object, ModelScope<object>>()

/**
 * The scope of every row of `model` (cached, so its compiled queries are reused). Throws an
 * `InvalidQueryError` naming the model when it lacks `@Table` or `@Column`s.
 *
 * @example
 * ```ts
 * import { createScope } from 'tributary'
 * const everyone = createScope(User)
 * console.log(await everyone.asyncCount())
 * ```
 */
export function createScope<M extends object>(model: ModelClass<M>): Scope<M> {
  let scope = baseScopes.get(model)
  if (!scope) {
    scope = new ModelScope<object>(model, getModelMeta(model), EMPTY)
    baseScopes.set(model, scope)
  }
  return scope as unknown as Scope<M>
}

/** A batched lookup's caller whose row settles its result directly (see `Scope.batched`). */
class SettlingWaiter<T> {
  constructor(
    private readonly target: AsyncResult<T>,
    private readonly finish: (row: object | undefined) => T,
    readonly operation: string,
  ) {}

  resolve(row: object | undefined): void {
    let answer: T
    try {
      answer = this.finish(row)
    } catch (error) {
      return AsyncResult.settle(this.target, false, error)
    }
    AsyncResult.settle(this.target, true, answer)
  }

  reject(error: unknown): void {
    AsyncResult.settle(this.target, false, error)
  }
}
