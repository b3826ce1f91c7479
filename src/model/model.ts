/**
 * `Model`: the base class of a Kysely-backed model with async query helpers.
 */
import type { Kysely } from 'kysely'
import { type AsyncResult } from '../core/async-result'
import { type ModelCacheOptions } from './cache'
import { type SqlNumber } from './coerce'
import { type GroupedScope } from './grouping'
import {
  configureDatabase,
  isModelRouter,
  useDatabase,
  type AnyKysely,
  type DatabaseOptions,
  type ModelRouter,
} from './connection'
import type {
  Attributes,
  ColumnKey,
  ComparisonOperator,
  ModelClass,
  QueryOptions,
  WhereAttributes,
} from './query-types'
import { createScope, type Scope, type TouchArguments } from './scope'

/**
 * The base class of models. Declare the table with `@Table`, the columns with `@Column`, bind a
 * Kysely with `use`, then call the helpers: each starts at once and returns an `AsyncResult`
 * recorded in `AsyncMetrics` as `<Model>.<helper>`. Rows come back as instances of the model,
 * with pg's `bigint`/`numeric` strings read as numbers and SQLite's `0`/`1` as booleans.
 *
 * Inside `db.transaction()`, run helpers through `withDatabase(trx, fn)`: they run on the
 * transaction's connection one after another, in the order started. (Rails 7 refuses the
 * same: an async query inside a transaction raises
 * `ActiveRecord::AsynchronousQueryInsideTransactionError`, or runs in the foreground.)
 *
 * @example
 * ```ts
 * import { Column, Model, Table } from 'tributary'
 * @Table('users')
 * class User extends Model {
 *   @Column({ primary: true }) id!: number
 *   @Column() email!: string
 *   @Column() active!: boolean
 *   @Column({ name: 'updated_at' }) updatedAt!: Date
 * }
 * User.use(db)
 * const count = User.where({ active: true }).asyncCount() // starts now
 * doOtherWork()
 * console.log(await count)
 * ```
 */
export class Model {
  /**
   * Binds `db` to this model and its subclasses (on `Model` itself: to every model without a
   * binding of its own). `null` removes the binding. `options.concurrency` limits how many
   * helpers run at once on `db` (see `configureDatabase`).
   *
   * Given a `ShardManager` instead, the model is routed by it (`shards.attach(User)`): inside
   * `shards.withShard(name, fn)` its helpers run on that shard, and `User.acrossShards()` runs
   * on all of them. Binding anything else later (or `null`) detaches it from the manager.
   * `options` apply to a Kysely only; for shards, `configureDatabase` each shard's Kysely.
   *
   * @example
   * ```ts
   * import { ShardManager } from 'tributary'
   * User.use(db)                                        // one database
   * User.use(new ShardManager({ us: dbA, eu: dbB }))    // or shards
   * ```
   */
  static use<DB>(db: Kysely<DB> | ModelRouter | null, options?: DatabaseOptions): void {
    useDatabase(this, db as unknown as AnyKysely | ModelRouter | null)
    if (db && options && !isModelRouter(db)) configureDatabase(db, options)
  }

  /** The scope of every row. */
  static all<M extends Model>(this: ModelClass<M>): Scope<M> {
    return createScope(this)
  }

  /** A scope with conditions compared with `=` (`in` for arrays, `is null` for `null`). */
  static where<M extends Model>(this: ModelClass<M>, attributes: WhereAttributes<M>): Scope<M>
  /** A scope with `column operator value` (the operator from an allow-list; the value bound). */
  static where<M extends Model, K extends ColumnKey<M>>(
    this: ModelClass<M>,
    column: K,
    operator: ComparisonOperator,
    value: unknown,
  ): Scope<M>
  static where<M extends Model>(
    this: ModelClass<M>,
    attributesOrColumn: WhereAttributes<M> | ColumnKey<M>,
    operator?: ComparisonOperator,
    value?: unknown,
  ): Scope<M> {
    const scope = createScope(this)
    return typeof attributesOrColumn === 'string'
      ? scope.where(attributesOrColumn, operator as ComparisonOperator, value)
      : scope.where(attributesOrColumn)
  }

  /** Rows ordered by `column`. */
  static orderBy<M extends Model>(
    this: ModelClass<M>,
    column: ColumnKey<M>,
    direction?: 'asc' | 'desc',
  ): Scope<M> {
    return createScope(this).orderBy(column, direction)
  }

  /** At most `count` rows. */
  static limit<M extends Model>(this: ModelClass<M>, count: number): Scope<M> {
    return createScope(this).limit(count)
  }

  /**
   * Every row, with reads cached for `ttl` seconds in a `QueryStore` (see `Scope.cached`).
   *
   * @example
   * ```ts
   * const total = await User.cached({ ttl: 60 }).asyncCount() // cached for a minute
   * ```
   */
  static cached<M extends Model>(this: ModelClass<M>, options: ModelCacheOptions): Scope<M> {
    return createScope(this).cached(options)
  }

  /** `count(*)` of the table. */
  static asyncCount<M extends Model>(this: ModelClass<M>, options?: QueryOptions): AsyncResult<number> {
    return createScope(this).asyncCount(options)
  }

  /** `sum(column)`: `0` over no rows; a `bigint` past `Number.MAX_SAFE_INTEGER`. */
  static asyncSum<M extends Model>(
    this: ModelClass<M>,
    column: ColumnKey<M>,
    options?: QueryOptions,
  ): AsyncResult<SqlNumber> {
    return createScope(this).asyncSum(column, options)
  }

  /** `avg(column)`: `null` over no rows. */
  static asyncAvg<M extends Model>(
    this: ModelClass<M>,
    column: ColumnKey<M>,
    options?: QueryOptions,
  ): AsyncResult<number | null> {
    return createScope(this).asyncAvg(column, options)
  }

  /** `min(column)`: `null` over no rows. */
  static asyncMin<M extends Model, K extends ColumnKey<M>>(
    this: ModelClass<M>,
    column: K,
    options?: QueryOptions,
  ): AsyncResult<M[K] | null> {
    return createScope(this).asyncMin(column, options)
  }

  /** `max(column)`: `null` over no rows. */
  static asyncMax<M extends Model, K extends ColumnKey<M>>(
    this: ModelClass<M>,
    column: K,
    options?: QueryOptions,
  ): AsyncResult<M[K] | null> {
    return createScope(this).asyncMax(column, options)
  }

  /** Every value of `column`. */
  static asyncPluck<M extends Model, K extends ColumnKey<M>>(
    this: ModelClass<M>,
    column: K,
    options?: QueryOptions,
  ): AsyncResult<Array<M[K]>> {
    return createScope(this).asyncPluck(column, options)
  }

  /** The first row's `column`, or `null` on an empty table (Rails' `pick` gives `nil`). */
  static asyncPick<M extends Model, K extends ColumnKey<M>>(
    this: ModelClass<M>,
    column: K,
    options?: QueryOptions,
  ): AsyncResult<M[K] | null> {
    return createScope(this).asyncPick(column, options)
  }

  /** `count(distinct column)`: the number of distinct non-null values. */
  static asyncCountDistinct<M extends Model>(
    this: ModelClass<M>,
    column: ColumnKey<M>,
    options?: QueryOptions,
  ): AsyncResult<number> {
    return createScope(this).asyncCountDistinct(column, options)
  }

  /**
   * Every row grouped by `columns`, for `having`, `orderBy`, `limit` and `asyncAggregate`.
   *
   * @example
   * ```ts
   * const rows = await User.groupBy('region').having('n', '>', 1).asyncAggregate({ n: 'count', top: { max: 'score' } })
   * ```
   */
  static groupBy<M extends Model, G extends ColumnKey<M>>(
    this: ModelClass<M>,
    ...columns: G[]
  ): GroupedScope<M, G> {
    return createScope(this).groupBy(...columns)
  }

  /** The row with primary key `id`, or `undefined`. */
  static asyncFind<M extends Model>(
    this: ModelClass<M>,
    id: unknown,
    options?: QueryOptions,
  ): AsyncResult<M | undefined> {
    return createScope(this).asyncFind(id, options)
  }

  /** The row with primary key `id`; rejects with a `RecordNotFoundError` when missing. */
  static asyncFindOrFail<M extends Model>(
    this: ModelClass<M>,
    id: unknown,
    options?: QueryOptions,
  ): AsyncResult<M> {
    return createScope(this).asyncFindOrFail(id, options)
  }

  /** The first row matching `attributes`, or `undefined`. */
  static asyncFindBy<M extends Model>(
    this: ModelClass<M>,
    attributes: WhereAttributes<M>,
    options?: QueryOptions,
  ): AsyncResult<M | undefined> {
    return createScope(this).asyncFindBy(attributes, options)
  }

  /** Every row. */
  static asyncAll<M extends Model>(this: ModelClass<M>, options?: QueryOptions): AsyncResult<M[]> {
    return createScope(this).asyncAll(options)
  }

  /** Whether the table has any row. */
  static asyncExists<M extends Model>(this: ModelClass<M>, options?: QueryOptions): AsyncResult<boolean> {
    return createScope(this).asyncExists(options)
  }

  /** Inserts one row or many; returns them as instances (with database defaults filled in). */
  static asyncInsert<M extends Model>(
    this: ModelClass<M>,
    rows: Partial<Attributes<M>> | ReadonlyArray<Partial<Attributes<M>>>,
    options?: QueryOptions,
  ): AsyncResult<M[]> {
    return createScope(this).asyncInsert(rows, options)
  }

  /** Sets `attributes` on every row; returns the number updated. */
  static asyncUpdate<M extends Model>(
    this: ModelClass<M>,
    attributes: Partial<Attributes<M>>,
    options?: QueryOptions,
  ): AsyncResult<number> {
    return createScope(this).asyncUpdate(attributes, options)
  }

  /** Deletes every row; returns the number deleted. */
  static asyncDelete<M extends Model>(this: ModelClass<M>, options?: QueryOptions): AsyncResult<number> {
    return createScope(this).asyncDelete(options)
  }

  /** Sets `columns` (default `updatedAt`) to now on every row; returns the number touched. */
  static asyncTouchAll<M extends Model>(
    this: ModelClass<M>,
    ...columns: TouchArguments<M>
  ): AsyncResult<number> {
    return createScope(this).asyncTouchAll(...columns)
  }
}
