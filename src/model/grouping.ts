/**
 * `groupBy(...).having(...).orderBy(...).limit(...).asyncAggregate({...})`: the grouped scope
 * that model scopes and cross-shard scopes share — its types, the builder, the checks of its
 * aggregates, `having` and order terms, and the SQL a single database runs for it.
 */
import type { CompiledQuery, RawBuilder } from 'kysely'
import { sql } from './kysely'
import { type AsyncResult } from '../core/async-result'
import { readAggregate, type AggregateFunction } from './aggregates'
import { readValue, writeValue, type SqlNumber } from './coerce'
import { applyPage, columnOf, rowCount, whereExpression } from './conditions'
import { type HoledParts } from './prepared-query'
import { databaseState, type AnyKysely } from './connection'
import { type ColumnMeta, type ModelMeta } from './decorators'
import { InvalidOperatorError, InvalidQueryError } from './errors'
import { Hole } from './templates'
import { type ColumnKey, type QueryOptions } from './query-types'

/**
 * One aggregate of `groupBy(...).asyncAggregate({...})`: `'count'` (rows), or a function of a
 * column.
 *
 * @example
 * ```ts
 * await User.groupBy('region').asyncAggregate({ n: 'count', scored: { count: 'score' }, top: { max: 'score' } })
 * ```
 */
export type Aggregate<M> =
  | 'count'
  | { readonly count: ColumnKey<M> }
  | { readonly sum: ColumnKey<M> }
  | { readonly avg: ColumnKey<M> }
  | { readonly min: ColumnKey<M> }
  | { readonly max: ColumnKey<M> }

/**
 * The value type of an {@link Aggregate}: counts are numbers, a sum is `0` when the group has
 * no non-null value (as `asyncSum`, and Rails), avg/min/max are `null` then.
 *
 * @example
 * ```ts
 * const [row] = await User.groupBy('region').asyncAggregate({ mean: { avg: 'score' } })
 * row?.mean // number | null
 * ```
 */
export type AggregateValue<M, A> = A extends 'count'
  ? number
  : A extends { count: string }
    ? number
    : A extends { sum: string }
      ? SqlNumber
      : A extends { avg: string }
        ? number | null
        : A extends { min: infer K extends keyof M }
          ? M[K] | null
          : A extends { max: infer K extends keyof M }
            ? M[K] | null
            : never

/**
 * One group: its group columns and its named aggregates.
 *
 * @example
 * ```ts
 * const rows = await User.groupBy('region').asyncAggregate({ n: 'count' })
 * rows[0]?.region; rows[0]?.n
 * ```
 */
export type GroupRow<M, G extends keyof M, S> = { [K in G]: M[K] } & {
  [K in keyof S]: AggregateValue<M, S[K]>
}

/** The operators `having(name, operator, value)` allows. */
export type HavingOperator = '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | 'is' | 'is not'

/**
 * A scope grouped by columns. `having`, `orderBy` name a group column or an aggregate of the
 * final `asyncAggregate` (checked when it runs: an unknown name is an `InvalidQueryError`
 * naming the model and the name). Groups come back in the `orderBy` order, ties (and
 * everything without an `orderBy`) by the group columns ascending, so pages are stable.
 *
 * @example
 * ```ts
 * const top = await User.where({ active: true })
 *   .groupBy('region')
 *   .having('n', '>=', 10)
 *   .orderBy('total', 'desc')
 *   .limit(5)
 *   .asyncAggregate({ n: 'count', total: { sum: 'score' } })
 * ```
 */
export interface GroupedScope<M extends object, G extends ColumnKey<M>> {
  /** Keeps the groups whose aggregate (or group column) `name` compares true with `value`. */
  having(name: string, operator: HavingOperator, value: unknown): GroupedScope<M, G>
  /** Orders groups by a group column or an aggregate (after earlier terms). `direction` defaults to `'asc'`. */
  orderBy(name: string, direction?: 'asc' | 'desc'): GroupedScope<M, G>
  /** At most `count` groups. */
  limit(count: number): GroupedScope<M, G>
  /** Skips `count` groups. */
  offset(count: number): GroupedScope<M, G>
  /** Each group's aggregates. */
  asyncAggregate<S extends Record<string, Aggregate<M>>>(
    aggregates: S,
    options?: QueryOptions,
  ): AsyncResult<Array<GroupRow<M, G, S>>>
}

/** One aggregate, checked. @internal */
export interface AggregateSpec {
  readonly name: string
  readonly fn: AggregateFunction
  readonly col: ColumnMeta | undefined
  readonly i: number
}

/** What a grouped scope holds before its aggregates are known. @internal */
export interface GroupingState {
  readonly groups: readonly ColumnMeta[]
  readonly having: ReadonlyArray<{
    readonly name: string
    readonly operator: string
    readonly value: unknown
  }>
  readonly order: ReadonlyArray<{ readonly name: string; readonly direction: 'asc' | 'desc' }>
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** What a `having` or order term refers to: a group column (by index) or an aggregate. @internal */
export type GroupTarget = { readonly group: number } | { readonly spec: AggregateSpec }

/** The terms of a grouped scope, resolved against its aggregates. @internal */
export interface GroupTerms {
  readonly having: ReadonlyArray<{
    readonly target: GroupTarget
    readonly operator: string
    readonly value: unknown
  }>
  /** The order terms, then each group column not among them, ascending. */
  readonly order: ReadonlyArray<{ readonly target: GroupTarget; readonly direction: 'asc' | 'desc' }>
}

const HAVING = new Set(['=', '!=', '<>', '<', '<=', '>', '>=', 'is', 'is not'])
const FUNCTIONS = new Set(['count', 'sum', 'avg', 'min', 'max'])

/** The state of `groupBy(columns)` on a scope with `order`, `limit`, `offset`. @internal */
export function groupingState(
  meta: ModelMeta,
  columns: readonly unknown[],
  order: ReadonlyArray<{ readonly column: ColumnMeta; readonly direction: 'asc' | 'desc' }>,
  limit: number | undefined,
  offset: number | undefined,
): GroupingState {
  if (columns.length === 0) throw new InvalidQueryError(meta.model, 'groupBy', 'groupBy needs a column')
  const groups = columns.map((c) => columnOf(meta, c))
  return {
    groups,
    having: [],
    order: order.map((o) => ({ name: o.column.property, direction: o.direction })),
    limit,
    offset,
  }
}

/** Checks `asyncAggregate`'s argument. @internal */
export function parseAggregates(meta: ModelMeta, state: GroupingState, aggregates: unknown): AggregateSpec[] {
  if (typeof aggregates !== 'object' || aggregates === null || Object.keys(aggregates).length === 0) {
    throw new InvalidQueryError(meta.model, 'asyncAggregate', 'asyncAggregate needs at least one aggregate')
  }
  return Object.entries(aggregates).map(([name, spec], i): AggregateSpec => {
    if (state.groups.some((g) => g.property === name)) {
      throw new InvalidQueryError(meta.model, name, `aggregate ${name} has the name of a group column`)
    }
    if (spec === 'count') return { name, fn: 'count', col: undefined, i }
    const entries = typeof spec === 'object' && spec !== null ? Object.entries(spec as object) : []
    const [fn, column] = entries[0] ?? []
    if (entries.length !== 1 || !FUNCTIONS.has(fn as string)) {
      throw new InvalidQueryError(
        meta.model,
        name,
        `aggregate ${name} must be 'count' or { count|sum|avg|min|max: column }`,
      )
    }
    return { name, fn: fn as AggregateFunction, col: columnOf(meta, column), i }
  })
}

/** Resolves the `having` and order names of `state` against `specs`. @internal */
export function groupTerms(
  meta: ModelMeta,
  state: GroupingState,
  specs: readonly AggregateSpec[],
): GroupTerms {
  const target = (name: string, option: string): GroupTarget => {
    const spec = specs.find((s) => s.name === name)
    if (spec) return { spec }
    const group = state.groups.findIndex((g) => g.property === name || g.name === name)
    if (group >= 0) return { group }
    throw new InvalidQueryError(
      meta.model,
      name,
      `${option}(${JSON.stringify(name)}) names neither a group column nor an aggregate of asyncAggregate`,
    )
  }
  const order = state.order.map((o) => ({ target: target(o.name, 'orderBy'), direction: o.direction }))
  state.groups.forEach((_, group) => {
    if (!order.some((o) => 'group' in o.target && o.target.group === group))
      order.push({ target: { group }, direction: 'asc' })
  })
  return {
    having: state.having.map((h) => ({
      target: target(h.name, 'having'),
      operator: h.operator,
      value: h.value,
    })),
    order,
  }
}

/** A checked `having` term. @internal */
export function havingTerm(meta: ModelMeta, name: unknown, operator: unknown, value: unknown) {
  if (typeof name !== 'string') throw new InvalidQueryError(meta.model, String(name), 'having needs a name')
  const op = typeof operator === 'string' ? operator.toLowerCase() : operator
  if (typeof op !== 'string' || !HAVING.has(op)) throw new InvalidOperatorError(meta.model, operator)
  if ((op === 'is' || op === 'is not') && value !== null) {
    throw new InvalidQueryError(meta.model, name, `having "${op}" takes null`)
  }
  if (value === null && op !== 'is' && op !== 'is not') {
    throw new InvalidQueryError(meta.model, name, `having with null needs "is" or "is not"`)
  }
  return { name, operator: op, value }
}

/**
 * The immutable grouped scope; `run` is what `asyncAggregate` does (a single database's SQL,
 * or a cross-shard fan-out and merge). @internal
 */
export class GroupedBuilder<R> {
  constructor(
    private readonly meta: ModelMeta,
    private readonly state: GroupingState,
    private readonly runner: (state: GroupingState, aggregates: unknown, options: unknown) => R,
  ) {}

  private with(change: Partial<GroupingState>): GroupedBuilder<R> {
    return new GroupedBuilder(this.meta, { ...this.state, ...change }, this.runner)
  }

  having(name: string, operator: HavingOperator, value: unknown): GroupedBuilder<R> {
    return this.with({ having: [...this.state.having, havingTerm(this.meta, name, operator, value)] })
  }

  orderBy(name: string, direction: 'asc' | 'desc' = 'asc'): GroupedBuilder<R> {
    if (direction !== 'asc' && direction !== 'desc')
      throw new InvalidOperatorError(this.meta.model, direction)
    if (typeof name !== 'string')
      throw new InvalidQueryError(this.meta.model, String(name), 'orderBy needs a name')
    return this.with({ order: [...this.state.order, { name, direction }] })
  }

  limit(count: number): GroupedBuilder<R> {
    return this.with({ limit: rowCount(this.meta, 'limit', count) })
  }

  offset(count: number): GroupedBuilder<R> {
    return this.with({ offset: rowCount(this.meta, 'offset', count) })
  }

  asyncAggregate(aggregates: unknown, options?: unknown): R {
    return this.runner(this.state, aggregates, options)
  }
}

/** The SQL of an aggregate over `ref`. @internal */
export function aggregateSql(fn: AggregateFunction, col: ColumnMeta | undefined): RawBuilder<unknown> {
  const ref = col ? sql.id(col.name) : sql`*`
  return sql`${sql.raw(fn)}(${ref})`
}

function targetSql(target: GroupTarget, state: GroupingState): RawBuilder<unknown> {
  return 'spec' in target
    ? aggregateSql(target.spec.fn, target.spec.col)
    : sql.id((state.groups[target.group] as ColumnMeta).name)
}

/** How a `having` value is bound: like its column for group columns and min/max. @internal */
function havingValue(target: GroupTarget, state: GroupingState, value: unknown, sqlite: boolean): unknown {
  const col =
    'spec' in target
      ? target.spec.fn === 'min' || target.spec.fn === 'max'
        ? target.spec.col
        : undefined
      : state.groups[target.group]
  return col && !(value instanceof Hole) ? writeValue(col.kind, value, sqlite) : value
}

function targetKey(target: GroupTarget): string {
  return 'spec' in target ? `a${target.spec.i}` : `g${target.group}`
}

/**
 * What a grouped query's SQL depends on beyond its conditions and page (which its
 * `PreparedQueries` key holds): groups, aggregates, `having` terms and order. @internal
 */
export function groupedKey(state: GroupingState, specs: readonly AggregateSpec[], terms: GroupTerms): string {
  return (
    `${state.groups.map((g) => g.name).join(',')}|` +
    `${specs.map((x) => `${x.fn}(${x.col?.name ?? '*'})`).join(',')}|` +
    `${terms.having.map((h) => `${targetKey(h.target)}${h.operator}`).join(',')}|` +
    `${terms.order.map((o) => `${targetKey(o.target)} ${o.direction}`).join(',')}`
  )
}

/** The single-database SQL of a grouped scope, from its holed conditions and page. @internal */
export function compileGrouped(
  db: AnyKysely,
  sqlite: boolean,
  meta: ModelMeta,
  holed: HoledParts,
  state: GroupingState,
  specs: readonly AggregateSpec[],
  terms: GroupTerms,
): CompiledQuery<Record<string, unknown>> {
  let qb = db.selectFrom(meta.table)
  const where = whereExpression(holed.conditions, sqlite)
  if (where) qb = qb.where(where)
  const selection = [
    ...state.groups.map((g, i) => sql.id(g.name).as(`g${i}`)),
    ...specs.map((s) => aggregateSql(s.fn, s.col).as(`a${s.i}`)),
  ]
  let grouped = qb.select(selection as never).groupBy(state.groups.map((g) => sql.id(g.name)) as never)
  if (terms.having.length > 0) {
    const parts = terms.having.map((h) => {
      const expr = targetSql(h.target, state)
      if (h.operator === 'is' || h.operator === 'is not') return sql`${expr} ${sql.raw(h.operator)} null`
      return sql`${expr} ${sql.raw(h.operator)} ${havingValue(h.target, state, h.value, sqlite)}`
    })
    grouped = grouped.having(sql.join(parts, sql` and `) as never)
  }
  for (const o of terms.order) grouped = grouped.orderBy(targetSql(o.target, state), o.direction)
  grouped = applyPage(grouped, holed.limit, holed.offset, databaseState(db).dialect)
  return grouped.compile() as CompiledQuery<Record<string, unknown>>
}

/** Reads one aggregate's value as the helpers read theirs (a sum over no value is `0`). @internal */
export function readAggregateValue(spec: AggregateSpec, value: unknown): unknown {
  return readAggregate(spec.fn, spec.col, value)
}

/** The rows of {@link compileGrouped}'s result. @internal */
export function readGroupRows(
  rows: readonly Record<string, unknown>[],
  state: GroupingState,
  specs: readonly AggregateSpec[],
): Array<Record<string, unknown>> {
  return rows.map((row) => {
    const out: Record<string, unknown> = {}
    state.groups.forEach((g, i) => (out[g.property] = readValue(g.kind, row[`g${i}`])))
    for (const s of specs) out[s.name] = readAggregateValue(s, row[`a${s.i}`])
    return out
  })
}
