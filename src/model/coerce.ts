/**
 * Value coercion between drivers and model properties.
 *
 * pg returns `bigint` and `numeric` as strings; SQLite has no boolean or date type. Reading
 * turns both into the property's declared kind; writing turns booleans, dates and JSON into
 * what the driver can bind.
 */

/** The kinds of value a column holds, from `@Column({ type })` or `design:type`. */
export type ColumnKind = 'number' | 'string' | 'boolean' | 'date' | 'bigint' | 'json' | 'unknown'

/**
 * A number read from SQL: a `number` when it is exactly representable, otherwise a `bigint`
 * (an integer past `Number.MAX_SAFE_INTEGER`, as pg returns sums of large `bigint`s).
 */
export type SqlNumber = number | bigint

const INTEGER = /^-?\d+$/

/**
 * Turns a driver's number (pg gives `bigint`/`numeric` as strings) into a `number`, or a
 * `bigint` when it is an integer past `Number.MAX_SAFE_INTEGER`. Decimals become `number`s.
 */
export function toSqlNumber(value: unknown): SqlNumber {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value
  if (typeof value === 'string') {
    const n = Number(value)
    if (INTEGER.test(value) && !Number.isSafeInteger(n)) return BigInt(value)
    return n
  }
  if (typeof value === 'boolean') return value ? 1 : 0
  return Number(value)
}

// SQLite's CURRENT_TIMESTAMP text is UTC without a zone: `2024-01-02 03:04:05`.
const SQLITE_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/

/** Reads a driver value as a property of the given kind. `null` and `undefined` stay `null`. */
export function readValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null
  switch (kind) {
    case 'number':
      return typeof value === 'number' ? value : toSqlNumber(value)
    case 'boolean':
      return typeof value === 'boolean'
        ? value
        : value === 1 || value === 1n || value === '1' || value === 't' || value === 'true'
    case 'date':
      if (value instanceof Date) return value
      if (typeof value === 'string')
        return new Date(SQLITE_DATETIME.test(value) ? `${value.replace(' ', 'T')}Z` : value)
      return new Date(Number(value))
    case 'bigint':
      return typeof value === 'bigint' ? value : BigInt(value as string | number)
    case 'json':
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : value
    case 'string':
      return typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : String(value)
    default:
      return value
  }
}

/**
 * Turns a property value into something the driver binds. SQLite (better-sqlite3) cannot
 * bind booleans or dates: they become `1`/`0` and ISO-8601 text. JSON columns are stringified
 * on both (pg would otherwise send a JS array as a PostgreSQL array).
 */
export function writeValue(kind: ColumnKind, value: unknown, sqlite: boolean): unknown {
  if (value === null || value === undefined) return null
  if (kind === 'json') return JSON.stringify(value)
  if (!sqlite) return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  return value
}
