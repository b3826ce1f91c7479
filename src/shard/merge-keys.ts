/**
 * Merge keys in the database's own terms: what a cross-shard merge compares and deduplicates
 * is the value the driver returned (pg's decimal text, a timestamp's exact epoch, SQLite's
 * stored value), compared the way the database compares it — strings by code point (the
 * order of PostgreSQL's `C`/`POSIX`/`C.UTF-8` collations and SQLite's `BINARY`), numbers and
 * decimals exactly, SQLite's storage classes in SQLite's order. And the exact sums and
 * averages of partial aggregates. @internal
 */
import type { RawBuilder } from 'kysely'
import { sql } from '../model/kysely'
import { toSqlNumber, type ColumnKind, type SqlNumber } from '../model/coerce'
import {
  addDecimals,
  compareDecimals,
  decimalIdentity,
  divideLikeMysql,
  divideLikePostgres,
  formatDecimal,
  toDecimal,
  type Decimal,
} from './decimal'
import { compareCodePoints, compareValues, distinctKey } from './merge'

/** The SQL dialects whose merge rules differ. @internal */
export type MergeDialect = 'postgres' | 'sqlite' | 'mysql' | 'other'

/**
 * Whether `dialect` sorts `null` as larger than any value: PostgreSQL does (nulls last
 * ascending, first descending); SQLite and MySQL/MariaDB sort it as the smallest. Another
 * dialect is taken to follow PostgreSQL. @internal
 */
export function nullsSortLargest(dialect: MergeDialect): boolean {
  return dialect === 'postgres' || dialect === 'other'
}

/** How the merge reads, compares and deduplicates one column's raw values. @internal */
export interface KeyCodec {
  /** The comparable form of a non-null raw value (computed once per row). */
  key(raw: unknown): unknown
  /** Orders two keys. */
  compare(a: unknown, b: unknown): number
  /** A primitive equal for equal values (for `Set`s and group maps). */
  identity(key: unknown): unknown
}

function compareNumbers(a: unknown, b: unknown): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0
}

const decimalCodec: KeyCodec = {
  key: (raw) => toDecimal(raw) ?? { int: 0n, scale: 0, special: 'NaN' },
  compare: (a, b) => compareDecimals(a as Decimal, b as Decimal),
  identity: (k) => decimalIdentity(k as Decimal),
}

/** Integers of either type, and floats, as one numeric order (exact: JS compares bigint with number exactly). */
const numberCodec: KeyCodec = {
  key: (raw) => (typeof raw === 'bigint' || typeof raw === 'number' ? raw : (toDecimal(raw) ?? raw)),
  compare: (a, b) =>
    typeof a === 'object' || typeof b === 'object'
      ? compareDecimals(asDecimal(a), asDecimal(b))
      : compareNumbers(a, b),
  identity: (k) =>
    typeof k === 'object' ? decimalIdentity(k as Decimal) : typeof k === 'bigint' ? distinctKey(k) : k,
}

function asDecimal(v: unknown): Decimal {
  return typeof v === 'object' && v !== null
    ? (v as Decimal)
    : (toDecimal(v) ?? { int: 0n, scale: 0, special: 'NaN' })
}

function rank(v: unknown): number {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return 0
  if (typeof v === 'string') return 1
  return 2
}

function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : Buffer.from(String(v))
}

/** SQLite's order: numbers (integers and reals exactly) < text (code point) < blobs (memcmp). */
const sqliteCodec: KeyCodec = {
  key: (raw) => (typeof raw === 'boolean' ? Number(raw) : raw),
  compare: (a, b) => {
    const r = rank(a) - rank(b)
    if (r !== 0) return r
    if (typeof a === 'string') return compareCodePoints(a, b as string)
    if (rank(a) === 0) return compareNumbers(a, b)
    return Buffer.compare(bytes(a), bytes(b))
  },
  identity: (k) =>
    typeof k === 'bigint'
      ? distinctKey(k)
      : typeof k === 'string'
        ? `s:${k}`
        : typeof k === 'number'
          ? k
          : `b:${Buffer.from(bytes(k)).toString('hex')}`,
}

/** Values as tributary reads them (strings by code point, dates by time). */
const genericCodec: KeyCodec = {
  key: (raw) => (raw instanceof Date ? raw.getTime() : raw),
  compare: compareValues,
  identity: distinctKey,
}

/**
 * The codec of a column of `kind` on `dialect`. On PostgreSQL `number`/`bigint` columns come
 * as decimal text for `numeric`/`bigint`, and `epoch` says the raw value is a `date` column's
 * exact epoch (see {@link needsEpochKey}) rather than the driver's `Date`. @internal
 */
export function keyCodec(kind: ColumnKind, dialect: MergeDialect, epoch = false): KeyCodec {
  if (dialect === 'sqlite') return sqliteCodec
  if (needsEpochKey(kind, dialect) && epoch) return decimalCodec
  // pg gives numeric and bigint as decimal text, createMysqlDatabase DECIMAL and BIGINT.
  if ((dialect === 'postgres' || dialect === 'mysql') && (kind === 'number' || kind === 'bigint'))
    return numberCodec
  return genericCodec
}

/**
 * Whether a merge key of this column must be selected as an exact number of its time (the
 * drivers' `Date`s keep only milliseconds; PostgreSQL and MySQL/MariaDB keep microseconds). @internal
 */
export function needsEpochKey(kind: ColumnKind, dialect: MergeDialect): boolean {
  return (dialect === 'postgres' || dialect === 'mysql') && kind === 'date'
}

/**
 * The SQL of a time's exact, ordered number: PostgreSQL's epoch in seconds
 * (`extract(epoch from …)`, microseconds kept), MySQL/MariaDB's `… + 0` (`YYYYMMDDhhmmss.ffffff`
 * as a DECIMAL: ordered as the time, every digit the column keeps). Either comes as decimal text. @internal
 */
export function exactTimeSql(expression: RawBuilder<unknown>, dialect: MergeDialect): RawBuilder<unknown> {
  return dialect === 'mysql' ? sql`(${expression} + 0)` : sql`extract(epoch from ${expression})`
}

/** A codec applying the caller's `compare` to the values as read (`acrossShards({ compare })`). @internal */
export function customCodec(
  read: (raw: unknown) => unknown,
  compare: (a: unknown, b: unknown) => number,
): KeyCodec {
  return { key: read, compare, identity: genericCodec.identity }
}

// ---- exact sums and averages of partial aggregates -------------------------------------------

function isExact(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))
}

/**
 * Σ of each shard's raw `sum`: exact (a {@link Decimal}) when every part is decimal text, a
 * bigint or a safe integer; a float otherwise; `null` when every part is `null`. @internal
 */
export function sumExact(parts: readonly unknown[]): Decimal | number | null {
  let exact: Decimal | undefined
  let float = 0
  let floats = false
  let any = false
  for (const p of parts) {
    if (p === null || p === undefined) continue
    any = true
    if (!floats && isExact(p)) {
      const d = toDecimal(p)
      if (d) {
        exact = exact ? addDecimals(exact, d) : d
        continue
      }
    }
    floats = true
    float += Number(p)
  }
  if (!any) return null
  if (!floats) return exact as Decimal
  return exact ? float + Number(exactText(exact)) : float
}

/** A {@link sumExact} as the single database's helper would read it. @internal */
export function readExactSum(sum: Decimal | number | null): SqlNumber | null {
  if (sum === null || typeof sum === 'number') return sum
  return toSqlNumber(exactText(sum))
}

/** Σ of each shard's raw `sum`, read as the single database's helper would. @internal */
export function sumParts(parts: readonly unknown[]): SqlNumber | null {
  return readExactSum(sumExact(parts))
}

function exactText(d: Decimal): string {
  if (d.special) return d.special
  if (d.scale === 0) return d.int.toString()
  const negative = d.int < 0n
  const digits = (negative ? -d.int : d.int).toString().padStart(d.scale + 1, '0')
  return `${negative ? '-' : ''}${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`
}

/**
 * Σsum / Σcount of the shards' raw `sum` and `count` parts, rounded as the database rounds its
 * own `avg`: PostgreSQL divides exact `numeric`s (its `avg` of integers and decimals; `exact`
 * is that decimal, which orders groups as PostgreSQL does), SQLite divides the sum as a
 * double. `value` is `null` when there are no values. @internal
 */
export function avgExact(
  sums: readonly unknown[],
  counts: readonly unknown[],
  dialect: MergeDialect,
): { readonly value: number | null; readonly exact: Decimal | number | null } {
  let count = 0n
  for (const c of counts) if (c !== null && c !== undefined) count += BigInt(c as string | number | bigint)
  if (count === 0n) return { value: null, exact: null }
  const total = sumExact(sums) ?? 0
  if (typeof total === 'number') {
    const value = total / Number(count)
    return { value, exact: value }
  }
  if (dialect === 'postgres') {
    const text = divideLikePostgres(total, count)
    return { value: Number(text), exact: toDecimal(text) as Decimal }
  }
  if (dialect === 'mysql') {
    const exact = divideLikeMysql(total, count)
    return { value: Number(formatDecimal(exact)), exact }
  }
  let value: number
  if (dialect === 'sqlite' && total.scale === 0) value = Number(total.int) / Number(count)
  else {
    // Exact integer part, then the remainder: one rounding.
    const scaled = count * 10n ** BigInt(total.scale)
    value = Number(total.int / scaled) + Number(total.int % scaled) / Number(scaled)
  }
  return { value, exact: value }
}

/** {@link avgExact}'s value. @internal */
export function avgParts(
  sums: readonly unknown[],
  counts: readonly unknown[],
  dialect: MergeDialect,
): number | null {
  return avgExact(sums, counts, dialect).value
}

/**
 * Orders two exact aggregate values (decimals, numbers, bigints, or values as read) the way
 * the database orders them. @internal
 */
export function compareExact(a: unknown, b: unknown): number {
  const da = typeof a === 'object' && a !== null && !(a instanceof Date)
  const db = typeof b === 'object' && b !== null && !(b instanceof Date)
  if (da || db) return compareDecimals(exactOf(a), exactOf(b))
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b)
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime()
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  return compareNumbers(a, b)
}

function exactOf(v: unknown): Decimal {
  if (v instanceof Date) return { int: BigInt(v.getTime()), scale: 3 } // as an epoch in seconds
  return asDecimal(v)
}
