/**
 * Aggregates (`count`, `sum`, `avg`, `min`, `max`): the SQL they compile to and how their
 * results are read back.
 *
 * pg returns `count` and `sum` of integers as strings (`bigint`/`numeric`); they come back as
 * numbers, or as a `bigint` past `Number.MAX_SAFE_INTEGER` (see {@link toSqlNumber}). `avg` is
 * always a `number` (a float: very large averages lose precision). SQLite returns numbers and,
 * past 2^53, better-sqlite3's own (lossy) numbers unless its `safeIntegers` mode is on.
 */
import type { RawBuilder } from 'kysely'
import { sql } from './kysely'
import { readValue, toSqlNumber, type SqlNumber } from './coerce'
import { type ColumnMeta } from './decorators'

/** The aggregate functions a model helper can compile. */
export type AggregateFunction = 'count' | 'sum' | 'avg' | 'min' | 'max'

/**
 * The SQL expression of an aggregate over `column` (or `count(*)`). `source` is the column's
 * SQL name, or its alias when the aggregate runs over a limited subquery.
 */
export function aggregateExpression(fn: AggregateFunction, source: string | undefined): RawBuilder<unknown> {
  if (fn === 'count' || source === undefined) return sql`count(*)`
  const ref = sql.id(source)
  switch (fn) {
    case 'sum':
      return sql`sum(${ref})`
    case 'avg':
      return sql`avg(${ref})`
    case 'min':
      return sql`min(${ref})`
    default:
      return sql`max(${ref})`
  }
}

/** `count`: always a number (a table cannot hold 2^53 rows). */
export function readCount(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0)
}

/** `sum`: `0` over no rows (like Rails), a `bigint` past `Number.MAX_SAFE_INTEGER`. */
export function readSum(value: unknown): SqlNumber {
  return value === null || value === undefined ? 0 : toSqlNumber(value)
}

/** `avg`: `null` over no rows (or only nulls), else a number. */
export function readAvg(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value)
}

/** `min`/`max`: `null` over no rows, else the value coerced like the column. */
export function readExtreme(column: ColumnMeta, value: unknown): unknown {
  return readValue(column.kind, value)
}

/** Reads the value of an aggregate from its result row. */
export function readAggregate(
  fn: AggregateFunction,
  column: ColumnMeta | undefined,
  value: unknown,
): unknown {
  switch (fn) {
    case 'count':
      return readCount(value)
    case 'sum':
      return readSum(value)
    case 'avg':
      return readAvg(value)
    default:
      return column ? readExtreme(column, value) : value
  }
}
