/**
 * What model scopes and cross-shard scopes share: their inputs checked before any SQL is built
 * (columns, operators, orders, limits), and the `where` and page SQL of their conditions (a
 * {@link Hole} kept for a template to fill; shapes and templates are `prepared-query.ts`). @internal
 */
import type { Expression, RawBuilder, SqlBool } from 'kysely'
import { sql } from './kysely'
import { writeValue } from './coerce'
import { type SqlDialect } from './connection'
import { type ColumnMeta, type ModelMeta } from './decorators'
import { InvalidColumnError, InvalidOperatorError, InvalidQueryError } from './errors'
import { type ComparisonOperator } from './query-types'
import { Hole, type Holed } from './templates'

/** One `column operator value` condition. @internal */
export interface Condition {
  readonly column: ColumnMeta
  readonly operator: string
  readonly value: unknown
}

/** One `orderBy` term. @internal */
export interface Order {
  readonly column: ColumnMeta
  readonly direction: 'asc' | 'desc'
}

/** The allow-list of `where(column, operator, value)` operators (lower case). */
const OPERATORS: ReadonlySet<string> = new Set<ComparisonOperator>([
  '=',
  '!=',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'not in',
  'like',
  'not like',
  'is',
  'is not',
])

/** The declared column `name`; an `InvalidColumnError` otherwise. @internal */
export function columnOf(meta: ModelMeta, name: unknown): ColumnMeta {
  const found = typeof name === 'string' ? meta.lookup.get(name) : undefined
  if (!found) throw new InvalidColumnError(meta.model, name)
  return found
}

/**
 * Why `value` cannot be bound as a SQL parameter, or `undefined` when it can: strings, finite
 * numbers, bigints, booleans, null, valid Dates and byte arrays. (A symbol or an object would
 * otherwise be sent as the text `"Symbol(x)"` or as JSON, and match rows silently.)
 */
function sqlValueProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'bigint':
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a finite number`
    case 'object':
      if (value === null || value instanceof Uint8Array) return undefined
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : undefined
      return `${Array.isArray(value) ? 'a nested array' : 'an object'} is not a SQL value (pass a string, number, bigint, boolean, Date, Buffer or null)`
    default:
      return `a ${typeof value} is not a SQL value (pass a string, number, bigint, boolean, Date, Buffer or null)`
  }
}

/** Throws an `InvalidQueryError` naming the model and column when `value` is not a SQL value. @internal */
export function checkSqlValue(meta: ModelMeta, col: ColumnMeta, op: string, value: unknown): void {
  const values = op === 'in' || op === 'not in' ? (value as unknown[]) : [value]
  for (const item of values) {
    const problem = sqlValueProblem(item)
    if (problem !== undefined) {
      throw new InvalidQueryError(meta.model, col.property, `where ${col.property} ${op}: ${problem}`)
    }
  }
}

/** `column operator value`, checked and normalised (`= null` is `is null`). @internal */
function condition(meta: ModelMeta, name: unknown, operator: unknown, value: unknown): Condition {
  const op = typeof operator === 'string' ? operator.toLowerCase() : operator
  if (typeof op !== 'string' || !OPERATORS.has(op)) throw new InvalidOperatorError(meta.model, operator)
  const col = columnOf(meta, name)
  if ((op === 'in' || op === 'not in') && !Array.isArray(value)) {
    throw new InvalidQueryError(meta.model, col.property, `"${op}" needs an array value`)
  }
  if (value === null && op === '=') return { column: col, operator: 'is', value }
  if (value === null && (op === '!=' || op === '<>')) return { column: col, operator: 'is not', value }
  if ((op === 'is' || op === 'is not') && value !== null && typeof value !== 'boolean') {
    throw new InvalidQueryError(meta.model, col.property, `"${op}" takes null or a boolean`)
  }
  checkSqlValue(meta, col, op, value)
  return { column: col, operator: op, value }
}

/**
 * The conditions of `where(attributes)` (`=`, arrays as `in`, `null` as `is null`; `undefined`
 * skipped) or `where(column, operator, value)`. @internal
 */
export function whereConditions(
  meta: ModelMeta,
  attributesOrColumn: unknown,
  operator: unknown,
  value: unknown,
): Condition[] {
  if (typeof attributesOrColumn === 'string') return [condition(meta, attributesOrColumn, operator, value)]
  if (typeof attributesOrColumn !== 'object' || attributesOrColumn === null) {
    throw new InvalidQueryError(
      meta.model,
      'where',
      'where() takes an attributes object or (column, operator, value)',
    )
  }
  const added: Condition[] = []
  for (const key of Object.keys(attributesOrColumn)) {
    const v = (attributesOrColumn as Record<string, unknown>)[key]
    if (v !== undefined) added.push(condition(meta, key, Array.isArray(v) ? 'in' : '=', v))
  }
  return added
}

/** An `orderBy` term; a direction other than `'asc'`/`'desc'` is an `InvalidOperatorError`. @internal */
export function orderTerm(meta: ModelMeta, name: unknown, direction: unknown): Order {
  if (direction !== 'asc' && direction !== 'desc') throw new InvalidOperatorError(meta.model, direction)
  return { column: columnOf(meta, name), direction }
}

/** A `limit` or `offset`: a non-negative safe integer. @internal */
export function rowCount(meta: ModelMeta, what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidQueryError(meta.model, what, `${what} must be a non-negative integer, got ${String(n)}`)
  }
  return n
}

/** A query builder that can be paged (Kysely's select builders). @internal */
export interface Pageable<Q> {
  limit(limit: number | RawBuilder<number>): Q
  offset(offset: number | RawBuilder<number>): Q
}

/** A page value, or the parameter its {@link Hole} stands for. */
function pageValue(value: Holed<number>): number | RawBuilder<number> {
  return value instanceof Hole ? sql<number>`${value}` : value
}

/** MySQL's largest `LIMIT` (2^64 − 1): how MySQL's manual says to write an offset without a limit. */
const MYSQL_NO_LIMIT = '18446744073709551615'

/**
 * `qb` with `limit` and `offset` (either may be a {@link Hole}). An offset without a limit gets
 * the dialect's "no limit": SQLite needs `LIMIT -1`, MySQL refuses an `OFFSET` alone and takes
 * `LIMIT 18446744073709551615`. @internal
 */
export function applyPage<Q extends Pageable<Q>>(
  qb: Q,
  limit: Holed<number> | undefined,
  offset: Holed<number> | undefined,
  dialect: SqlDialect,
): Q {
  if (limit !== undefined) qb = qb.limit(pageValue(limit))
  if (offset !== undefined) {
    if (limit === undefined && dialect === 'sqlite') qb = qb.limit(-1)
    if (limit === undefined && dialect === 'mysql') qb = qb.limit(sql<number>`${sql.raw(MYSQL_NO_LIMIT)}`)
    qb = qb.offset(pageValue(offset))
  }
  return qb
}

/** The column `asyncTouchAll()` sets when given none: `updatedAt` or `updated_at`. @internal */
export function touchColumn(meta: ModelMeta): ColumnMeta {
  const found = meta.lookup.get('updatedAt') ?? meta.lookup.get('updated_at')
  if (!found) {
    throw new InvalidQueryError(
      meta.model,
      'updatedAt',
      `asyncTouchAll() needs column names: ${meta.model} has no updatedAt`,
    )
  }
  return found
}

/**
 * The `where` expression of `conditions` (values bound as parameters; a {@link Hole} is kept
 * for a template to fill), or `undefined` when there are none. @internal
 */
export function whereExpression(
  conditions: readonly Condition[],
  sqlite: boolean,
): Expression<SqlBool> | undefined {
  if (conditions.length === 0) return undefined
  const parts = conditions.map((c): RawBuilder<unknown> => {
    const ref = sql.id(c.column.name)
    if (c.operator === 'is' || c.operator === 'is not') {
      const v = c.value === null ? sql`null` : c.value ? sql`true` : sql`false`
      return sql`${ref} ${sql.raw(c.operator)} ${v}`
    }
    const bind = (v: unknown): unknown => (v instanceof Hole ? v : writeValue(c.column.kind, v, sqlite))
    if (c.operator === 'in' || c.operator === 'not in') {
      const values = (c.value as unknown[]).map(bind)
      if (values.length === 0) return c.operator === 'in' ? sql`1 = 0` : sql`1 = 1`
      return sql`${ref} ${sql.raw(c.operator)} (${sql.join(values)})`
    }
    return sql`${ref} ${sql.raw(c.operator)} ${bind(c.value)}`
  })
  return (parts.length === 1 ? parts[0] : sql.join(parts, sql` and `)) as Expression<SqlBool>
}
