import * as decimal from '../../../src/shard/decimal'
import * as keys from '../../../src/shard/merge-keys'
import {
  addSqlNumbers,
  compareCodePoints,
  compareValues,
  concatPage,
  mergeAvg,
  mergeCount,
  mergeDistinct,
  mergeExists,
  mergeExtreme,
  mergeGroups,
  mergePage,
  mergeSorted,
  mergeSum,
  rowComparator,
} from '../../../src/shard/merge'
import { isShardMergeLimitError } from 'tributary'

/** A deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('numeric merges', () => {
  it('adds integers exactly, switching to bigint past MAX_SAFE_INTEGER and back', () => {
    expect(addSqlNumbers(1, 2)).toBe(3)
    expect(addSqlNumbers(Number.MAX_SAFE_INTEGER, 1)).toBe(BigInt(Number.MAX_SAFE_INTEGER) + 1n)
    expect(addSqlNumbers(BigInt(Number.MAX_SAFE_INTEGER) + 5n, -10)).toBe(Number.MAX_SAFE_INTEGER - 5)
    expect(addSqlNumbers(0.5, 0.25)).toBe(0.75)
    expect(addSqlNumbers(10n, 0.5)).toBe(10.5)
  })

  it('count is the sum of counts', () => {
    expect(mergeCount([3, 0, 7])).toBe(10)
    expect(mergeCount([])).toBe(0)
  })

  it('sum is null only when every shard is null', () => {
    expect(mergeSum([null, null])).toBeNull()
    expect(mergeSum([null, 0, null])).toBe(0)
    expect(mergeSum([5, null, -2])).toBe(3)
    expect(mergeSum([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER])).toBe(
      2n * BigInt(Number.MAX_SAFE_INTEGER),
    )
  })

  it('avg is Σsum/Σcount, not the mean of means', () => {
    // shard A: [1] (mean 1), shard B: [9, 9, 9] (mean 9): mean of means would be 5.
    expect(
      mergeAvg([
        { sum: 1, count: 1 },
        { sum: 27, count: 3 },
      ]),
    ).toBe(7)
    expect(
      mergeAvg([
        { sum: null, count: 0 },
        { sum: null, count: 0 },
      ]),
    ).toBeNull()
    expect(
      mergeAvg([
        { sum: null, count: 0 },
        { sum: 4, count: 2 },
      ]),
    ).toBe(2)
    const big = BigInt(Number.MAX_SAFE_INTEGER) * 4n
    expect(
      mergeAvg([
        { sum: big, count: 2 },
        { sum: big, count: 2 },
      ]),
    ).toBe(Number(big / 2n))
  })

  it('min and max ignore nulls and compare numbers, bigints, dates and strings', () => {
    expect(mergeExtreme('min', [null, 3, 1n, 2])).toBe(1n)
    expect(mergeExtreme('max', [null, 3, 1n, 2])).toBe(3)
    expect(mergeExtreme('min', [null, undefined])).toBeNull()
    const d1 = new Date(1000)
    const d2 = new Date(2000)
    expect(mergeExtreme('max', [d1, null, d2])).toBe(d2)
    expect(mergeExtreme('min', ['b', 'B', 'a'])).toBe('B')
    const collator = new Intl.Collator('en', { sensitivity: 'base' })
    expect(mergeExtreme('min', ['b', 'B', 'a'], (x, y) => collator.compare(String(x), String(y)))).toBe('a')
  })

  it('exists is any', () => {
    expect(mergeExists([false, false])).toBe(false)
    expect(mergeExists([false, true])).toBe(true)
  })
})

describe('ordered merges', () => {
  const byValue = rowComparator<{ v: number | null; id: number }>([
    { get: (r) => r.v, direction: 'asc' },
    { get: (r) => r.id },
  ])

  it('k-way merges ordered lists exactly like sorting the union', () => {
    const random = prng(42)
    const rows = Array.from({ length: 5_000 }, (_, id) => ({
      v: random() < 0.1 ? null : Math.floor(random() * 100),
      id,
    }))
    const shards: Array<typeof rows> = [[], [], [], []]
    for (const r of rows) shards[Math.floor(random() * 4)]?.push(r)
    for (const s of shards) s.sort(byValue)
    const expected = [...rows].sort(byValue)
    expect(mergeSorted(shards, byValue)).toEqual(expected)
    expect(
      mergePage(
        shards.map((s) => s.slice(0, 30 + 17)),
        byValue,
        { limit: 30, offset: 17 },
      ),
    ).toEqual(expected.slice(17, 47))
    expect(mergePage(shards, byValue, { offset: 4_990 })).toEqual(expected.slice(4_990))
  })

  it('puts nulls where the database does: largest (PostgreSQL) or smallest (SQLite)', () => {
    const rows = [{ v: 2 }, { v: null }, { v: 1 }]
    const pgAsc = rowComparator<{ v: number | null }>([{ get: (r) => r.v, nullsLargest: true }])
    const pgDesc = rowComparator<{ v: number | null }>([{ get: (r) => r.v, direction: 'desc' }])
    const liteAsc = rowComparator<{ v: number | null }>([{ get: (r) => r.v, nullsLargest: false }])
    const liteDesc = rowComparator<{ v: number | null }>([
      { get: (r) => r.v, direction: 'desc', nullsLargest: false },
    ])
    expect([...rows].sort(pgAsc).map((r) => r.v)).toEqual([1, 2, null])
    expect([...rows].sort(pgDesc).map((r) => r.v)).toEqual([null, 2, 1])
    expect([...rows].sort(liteAsc).map((r) => r.v)).toEqual([null, 1, 2])
    expect([...rows].sort(liteDesc).map((r) => r.v)).toEqual([2, 1, null])
  })

  it('keeps shard order on ties and stops after take', () => {
    const cmp = (a: { k: number }, b: { k: number }): number => a.k - b.k
    const a = [
      { k: 1, s: 'a' },
      { k: 2, s: 'a' },
    ]
    const b = [
      { k: 1, s: 'b' },
      { k: 2, s: 'b' },
    ]
    expect(mergeSorted([a, b], cmp, 3).map((r) => r.s + r.k)).toEqual(['a1', 'b1', 'a2'])
    expect(mergeSorted([[], a, []], cmp)).toEqual(a)
  })

  it('concatenates unordered lists before paging', () => {
    expect(concatPage([[1, 2], [3], [4, 5]], { offset: 1, limit: 3 })).toEqual([2, 3, 4])
    expect(concatPage([[1], [2]])).toEqual([1, 2])
  })
})

describe('countDistinct and groupBy merges', () => {
  it('deduplicates across shards, ignoring nulls, equating bigint/number and equal dates', () => {
    expect(
      mergeDistinct([
        [1, 2, null],
        [2, 3n, 3],
        [new Date(5), new Date(5), 'x'],
      ]),
    ).toBe(5)
  })

  it('throws a typed error past the memory bound', () => {
    let error: unknown
    try {
      mergeDistinct([[1, 2, 3], [4]], 3, 'User.acrossShards.asyncCountDistinct')
    } catch (e) {
      error = e
    }
    expect(isShardMergeLimitError(error)).toBe(true)
    expect(String(error)).toContain('more than 3 distinct values')
  })

  it('merges groups with equal keys, null keys equal to each other', () => {
    type Row = { g: string | null; c: number; s: number | null }
    const shardA: Row[] = [
      { g: 'x', c: 2, s: 10 },
      { g: null, c: 1, s: null },
    ]
    const shardB: Row[] = [
      { g: 'x', c: 3, s: 5 },
      { g: null, c: 4, s: 1 },
      { g: 'y', c: 1, s: 7 },
    ]
    const merged = mergeGroups(
      [shardA, shardB],
      (r) => [r.g],
      (key, rows) => ({
        g: key[0],
        c: mergeCount(rows.map((r) => r.c)),
        s: mergeSum(rows.map((r) => r.s)),
      }),
    )
    expect(merged).toEqual([
      { g: 'x', c: 5, s: 15 },
      { g: null, c: 5, s: 1 },
      { g: 'y', c: 1, s: 7 },
    ])
  })
})

describe('code-point order and exact decimals', () => {
  it('orders strings by code point: past U+FFFF after U+E000–U+FFFF (UTF-16 order puts them before)', () => {
    expect(['😀', 'ＡＢ', '\uE000', 'a', '𝒜', ''].sort(compareCodePoints)).toEqual([
      '',
      'a',
      '\uE000',
      'ＡＢ',
      '𝒜',
      '😀',
    ])
    expect(['😀', 'ＡＢ'].sort()).toEqual(['😀', 'ＡＢ']) // what JavaScript alone does
    expect(compareValues('😀', 'ＡＢ')).toBeGreaterThan(0)
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0)
  })

  it('adds, compares and divides decimals as PostgreSQL does', () => {
    const d = (text: string | number) => decimal.toDecimal(text) as decimal.Decimal
    expect(keys.sumParts(['0.10', '0.20', null])).toBe(0.3)
    expect(keys.sumParts(['9007199254740993', '1'])).toBe(9007199254740994n)
    expect(keys.sumParts([null, null])).toBeNull()
    expect(keys.avgParts(['-0.95', '-0.96'], ['1', '1'], 'postgres')).toBe(-0.955)
    expect(decimal.divideLikePostgres(d('-1.91'), 2n)).toBe('-0.95500000000000000000')
    expect(decimal.divideLikePostgres(d('10'), 3n)).toBe('3.3333333333333333')
    expect(decimal.compareDecimals(d('1.10'), d('1.1'))).toBe(0)
    expect(decimal.decimalIdentity(d('1.10'))).toBe(decimal.decimalIdentity(d(1.1)))
  })
})
