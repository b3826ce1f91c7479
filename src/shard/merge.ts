/**
 * Exact merge rules for answers that come back from many shards (pure functions, no I/O).
 *
 * - count: Σ counts. sum: Σ sums, `null` only when every shard's sum is `null` (no rows).
 * - avg: Σsum / Σcount of the non-null values — never the mean of the shards' means.
 * - min / max: the extreme of the shards' extremes, nulls ignored. exists: any.
 * - ordered rows: a k-way merge of each shard's ordered rows; with `limit n` and `offset m`
 *   each shard returns its first n + m rows, and the merge keeps rows m … m + n − 1.
 * - countDistinct: the size of the union of each shard's distinct values, held in a `Set`
 *   whose size is bounded by `maxDistinct`.
 * - groupBy: rows with equal group keys are merged with the rules above.
 *
 * Integers stay exact: sums past `Number.MAX_SAFE_INTEGER` become `bigint`. The cross-shard
 * helpers go further (`merge-keys.ts`): they merge the drivers' raw values — decimal text
 * exactly, timestamps by their exact epoch, strings by code point — as the database would.
 */
import { MinHeap } from './heap'
import { type SqlNumber } from '../model/coerce'
import { ShardMergeLimitError } from './errors'

/**
 * Orders two strings by Unicode code point (JavaScript's `<` orders UTF-16 code units, which
 * puts characters past U+FFFF before U+E000–U+FFFF).
 *
 * @example
 * ```ts
 * import { compareCodePoints } from 'tributary'
 * ;['😀', 'ＡＢ'].sort(compareCodePoints) // ['ＡＢ', '😀'], as PostgreSQL's C collation orders them
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (U+D800–U+DFFF) stand for code points past U+FFFF: move them above U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

function normalize(value: bigint): SqlNumber {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value
}

/**
 * `a + b`, exact for integers: the result is a `number` while it is a safe integer, a `bigint`
 * past that; non-integer numbers add as floats.
 *
 * @example
 * ```ts
 * import { addSqlNumbers } from 'tributary'
 * addSqlNumbers(Number.MAX_SAFE_INTEGER, 1) // 9007199254740992n
 * ```
 */
export function addSqlNumbers(a: SqlNumber, b: SqlNumber): SqlNumber {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b
    if (Number.isSafeInteger(sum) || !Number.isInteger(a) || !Number.isInteger(b)) return sum
    return normalize(BigInt(a) + BigInt(b))
  }
  if ((typeof a === 'number' && !Number.isInteger(a)) || (typeof b === 'number' && !Number.isInteger(b))) {
    return Number(a) + Number(b)
  }
  return normalize(BigInt(a) + BigInt(b))
}

/**
 * Σ counts.
 *
 * @example
 * ```ts
 * import { mergeCount } from 'tributary'
 * mergeCount([3, 0, 7]) // 10
 * ```
 */
export function mergeCount(counts: Iterable<number>): number {
  let total = 0
  for (const c of counts) total += c
  return total
}

/**
 * Σ sums; `null` only when every sum is `null` (no shard had a non-null value).
 *
 * @example
 * ```ts
 * import { mergeSum } from 'tributary'
 * mergeSum([5, null, -2]) // 3
 * mergeSum([null, null]) // null
 * ```
 */
export function mergeSum(sums: Iterable<SqlNumber | null>): SqlNumber | null {
  let total: SqlNumber | null = null
  for (const s of sums) if (s !== null) total = total === null ? s : addSqlNumbers(total, s)
  return total
}

/**
 * One shard's share of an average: the sum and the count of the non-null values.
 *
 * @example
 * ```ts
 * import { mergeAvg, type AvgPart } from 'tributary'
 * const parts: AvgPart[] = [{ sum: 1, count: 1 }, { sum: 27, count: 3 }]
 * mergeAvg(parts) // 7
 * ```
 */
export interface AvgPart {
  readonly sum: SqlNumber | null
  readonly count: number
}

/**
 * Σsum / Σcount, or `null` when no shard had a non-null value. Never the mean of means.
 *
 * @example
 * ```ts
 * import { mergeAvg } from 'tributary'
 * mergeAvg([{ sum: 1, count: 1 }, { sum: 27, count: 3 }]) // 7 (the mean of means would be 5)
 * ```
 */
export function mergeAvg(parts: Iterable<AvgPart>): number | null {
  const list = [...parts]
  const count = mergeCount(list.map((p) => p.count))
  if (count === 0) return null
  const sum = mergeSum(list.map((p) => p.sum)) ?? 0
  if (typeof sum === 'number') return sum / count
  // Exact integer part, then the remainder: one rounding instead of two.
  const n = BigInt(count)
  return Number(sum / n) + Number(sum % n) / count
}

/**
 * Orders two non-null values: numbers and bigints by value, dates by time, strings by code
 * point (PostgreSQL's `C` collation, SQLite's `BINARY`), booleans false < true.
 *
 * @example
 * ```ts
 * import { compareValues } from 'tributary'
 * [10n, 2, 7].sort(compareValues) // [2, 7, 10n]
 * ```
 */
export function compareValues(a: unknown, b: unknown): number {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime()
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    return a < b ? -1 : a > b ? 1 : 0
  }
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b)
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  return compareCodePoints(String(a), String(b))
}

/**
 * Compares two non-null values; `compareValues` unless a collation is given.
 *
 * @example
 * ```ts
 * import { type ValueComparator } from 'tributary'
 * const german: ValueComparator = (a, b) => new Intl.Collator('de').compare(String(a), String(b))
 * ```
 */
export type ValueComparator = (a: unknown, b: unknown) => number

/**
 * The extreme of the shards' extremes (`null`s ignored; `null` when all are `null`).
 *
 * @example
 * ```ts
 * import { mergeExtreme } from 'tributary'
 * mergeExtreme('max', [3, null, 9]) // 9
 * ```
 */
export function mergeExtreme<T>(
  kind: 'min' | 'max',
  values: Iterable<T | null | undefined>,
  compare: ValueComparator = compareValues,
): T | null {
  let best: T | null = null
  for (const v of values) {
    if (v === null || v === undefined) continue
    if (best === null) best = v
    else {
      const c = compare(v, best)
      if (kind === 'min' ? c < 0 : c > 0) best = v
    }
  }
  return best
}

/**
 * Whether any shard had a row.
 *
 * @example
 * ```ts
 * import { mergeExists } from 'tributary'
 * mergeExists([false, true]) // true
 * ```
 */
export function mergeExists(flags: Iterable<boolean>): boolean {
  for (const f of flags) if (f) return true
  return false
}

/**
 * One `orderBy` term for merging rows the way the database ordered them.
 *
 * @example
 * ```ts
 * import { rowComparator, type SortKey } from 'tributary'
 * const byScore: SortKey<{ score: number | null }> = { get: (r) => r.score, direction: 'desc' }
 * rowComparator([byScore])
 * ```
 */
export interface SortKey<R> {
  /** Reads the ordered value from a row. */
  readonly get: (row: R) => unknown
  /** Defaults to `'asc'`. */
  readonly direction?: 'asc' | 'desc'
  /**
   * Whether the database sorts `null` as larger than any value (PostgreSQL: nulls last when
   * ascending, first when descending) or smaller (SQLite, MySQL). Defaults to `true`.
   */
  readonly nullsLargest?: boolean
  /** Compares two non-null values. Defaults to `compareValues` (pass a collation for locale order). */
  readonly compare?: ValueComparator
}

/**
 * A row comparator from `orderBy` terms, matching the database's order (nulls included).
 *
 * @example
 * ```ts
 * import { rowComparator } from 'tributary'
 * const compare = rowComparator<{ score: number | null }>([{ get: (r) => r.score, nullsLargest: false }])
 * ;[{ score: 2 }, { score: null }].sort(compare) // [{ score: null }, { score: 2 }] (SQLite's order)
 * ```
 */
export function rowComparator<R>(keys: readonly SortKey<R>[]): (a: R, b: R) => number {
  return (a, b) => {
    for (const key of keys) {
      const x = key.get(a)
      const y = key.get(b)
      const xNull = x === null || x === undefined
      const yNull = y === null || y === undefined
      let c: number
      if (xNull || yNull) {
        c = xNull && yNull ? 0 : xNull ? 1 : -1
        if (key.nullsLargest === false) c = -c
      } else {
        c = (key.compare ?? compareValues)(x, y)
      }
      if (c !== 0) return key.direction === 'desc' ? -c : c
    }
    return 0
  }
}

/**
 * A k-way merge of already-ordered lists (a binary heap over the list heads: O(total · log k)),
 * stopping after `take` rows. Ties keep list order, so the merge is stable.
 *
 * @example
 * ```ts
 * import { compareValues, mergeSorted } from 'tributary'
 * mergeSorted([[1, 4], [2, 3]], compareValues) // [1, 2, 3, 4]
 * ```
 */
export function mergeSorted<R>(
  lists: readonly (readonly R[])[],
  compare: (a: R, b: R) => number,
  take = Number.POSITIVE_INFINITY,
): R[] {
  const out: R[] = []
  // Heap entries: [list index, position]; ties in list order.
  const heap = new MinHeap<readonly [number, number]>((p, q) => {
    const c = compare((lists[p[0]] as readonly R[])[p[1]] as R, (lists[q[0]] as readonly R[])[q[1]] as R)
    return c < 0 || (c === 0 && p[0] < q[0])
  })
  lists.forEach((list, i) => {
    if (list.length > 0) heap.push([i, 0])
  })
  while (heap.size > 0 && out.length < take) {
    const top = heap.peek() as readonly [number, number]
    const list = lists[top[0]] as readonly R[]
    out.push(list[top[1]] as R)
    if (top[1] + 1 < list.length) heap.replaceTop([top[0], top[1] + 1])
    else heap.removeTop()
  }
  return out
}

/**
 * Rows `offset … offset + limit − 1` of the merged order, given each shard's first
 * `offset + limit` rows in that order (without `limit`: every row from `offset` on).
 *
 * @example
 * ```ts
 * import { compareValues, mergePage } from 'tributary'
 * mergePage([[1, 4, 6], [2, 3, 5]], compareValues, { limit: 2, offset: 1 }) // [2, 3]
 * ```
 */
export function mergePage<R>(
  lists: readonly (readonly R[])[],
  compare: (a: R, b: R) => number,
  page: { readonly limit?: number; readonly offset?: number },
): R[] {
  const offset = page.offset ?? 0
  const take = page.limit === undefined ? Number.POSITIVE_INFINITY : offset + page.limit
  return mergeSorted(lists, compare, take).slice(offset)
}

/**
 * Rows of every shard concatenated in shard order, then `offset`/`limit` applied.
 *
 * @example
 * ```ts
 * import { concatPage } from 'tributary'
 * concatPage([[1, 2], [3]], { offset: 1, limit: 2 }) // [2, 3]
 * ```
 */
export function concatPage<R>(
  lists: readonly (readonly R[])[],
  page: { readonly limit?: number; readonly offset?: number } = {},
): R[] {
  const all = lists.flat() as R[]
  const offset = page.offset ?? 0
  return all.slice(offset, page.limit === undefined ? undefined : offset + page.limit)
}

/**
 * The identity of a value for deduplication: equal values from different shards map to the
 * same key (a `bigint` and a `number` of equal value, two `Date`s of the same instant).
 *
 * @example
 * ```ts
 * import { distinctKey } from 'tributary'
 * distinctKey(5n) === distinctKey(5) // true
 * ```
 */
export function distinctKey(value: unknown): unknown {
  if (typeof value === 'bigint') return normalize(value)
  if (value instanceof Date) return `\u0000date:${value.getTime()}`
  if (typeof value === 'object' && value !== null) return `\u0000json:${JSON.stringify(value)}`
  return value
}

/**
 * Defaults for {@link mergeDistinct}: one million values (tens of MB for short strings).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_DISTINCT, mergeDistinct } from 'tributary'
 * mergeDistinct([['a'], ['a', 'b']], DEFAULT_MAX_DISTINCT) // 2
 * ```
 */
export const DEFAULT_MAX_DISTINCT = 1_000_000

/**
 * The number of distinct non-null values across the shards' distinct-value lists. Holds at
 * most `maxDistinct` keys in memory; past that it throws a {@link ShardMergeLimitError}.
 *
 * @example
 * ```ts
 * import { mergeDistinct } from 'tributary'
 * mergeDistinct([['a', 'b'], ['b', null, 'c']]) // 3
 * ```
 */
export function mergeDistinct(
  lists: Iterable<Iterable<unknown>>,
  maxDistinct = DEFAULT_MAX_DISTINCT,
  operation = 'countDistinct',
): number {
  const seen = new Set<unknown>()
  for (const list of lists) {
    for (const v of list) {
      if (v === null || v === undefined) continue
      seen.add(distinctKey(v))
      if (seen.size > maxDistinct) throw new ShardMergeLimitError(operation, maxDistinct, 'distinct values')
    }
  }
  return seen.size
}

/**
 * Merges grouped rows: rows of all shards whose `key` is equal (by {@link distinctKey}, `null`
 * equal to `null` as in SQL `GROUP BY`) are passed together to `merge`. Groups come out in the
 * order first seen.
 *
 * @example
 * ```ts
 * import { mergeCount, mergeGroups } from 'tributary'
 * const shards = [[{ k: 'a', n: 2 }], [{ k: 'a', n: 3 }, { k: 'b', n: 1 }]]
 * mergeGroups(shards, (r) => [r.k], ([k], rows) => ({ k, n: mergeCount(rows.map((r) => r.n)) }))
 * // [{ k: 'a', n: 5 }, { k: 'b', n: 1 }]
 * ```
 */
export function mergeGroups<R, O>(
  lists: readonly (readonly R[])[],
  key: (row: R) => readonly unknown[],
  merge: (key: readonly unknown[], rows: R[]) => O,
): O[] {
  const groups = new Map<string, { key: readonly unknown[]; rows: R[] }>()
  for (const list of lists) {
    for (const row of list) {
      const k = key(row)
      const id = JSON.stringify(
        k.map((v) => (v === undefined ? null : distinctKey(v))),
        (_, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v}` : v),
      )
      let group = groups.get(id)
      if (!group) groups.set(id, (group = { key: k, rows: [] }))
      group.rows.push(row)
    }
  }
  return [...groups.values()].map((g) => merge(g.key, g.rows))
}
