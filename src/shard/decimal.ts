/**
 * Exact decimal arithmetic for merging what drivers return as decimal text (pg's `numeric`,
 * `bigint` and `extract(epoch …)`): values as scaled bigints, added and compared exactly, and
 * divided the way PostgreSQL's `numeric` division rounds, so that a merged `sum` or `avg` is
 * the one a single database holding every row would have returned. @internal
 */

/** `int / 10^scale`; `special` for PostgreSQL's `NaN` and `±Infinity`. @internal */
export interface Decimal {
  readonly int: bigint
  readonly scale: number
  readonly special?: 'NaN' | 'Infinity' | '-Infinity'
}

const TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/
const POWERS: bigint[] = [1n]

/** 10^n as a bigint (cached). @internal */
export function pow10(n: number): bigint {
  for (let i = POWERS.length; i <= n; i++) POWERS.push((POWERS[i - 1] as bigint) * 10n)
  return POWERS[n] as bigint
}

/**
 * The exact decimal of a driver value: decimal text (exponents allowed), a bigint, or a
 * number (an integer exactly, a fraction by its shortest decimal text). `undefined` when the
 * value is not a number. @internal
 */
export function toDecimal(value: unknown): Decimal | undefined {
  if (typeof value === 'bigint') return { int: value, scale: 0 }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { int: 0n, scale: 0, special: 'NaN' }
    if (!Number.isFinite(value)) return { int: 0n, scale: 0, special: value > 0 ? 'Infinity' : '-Infinity' }
    if (Number.isSafeInteger(value)) return { int: BigInt(value), scale: 0 }
    return toDecimal(String(value))
  }
  if (typeof value !== 'string') return undefined
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') {
    return { int: 0n, scale: 0, special: value }
  }
  const m = TEXT.exec(value)
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined
  const fraction = m[3] ?? ''
  let int = BigInt(`${m[2] ?? ''}${fraction}` || '0')
  let scale = fraction.length - Number(m[4] ?? 0)
  if (scale < 0) {
    int *= pow10(-scale)
    scale = 0
  }
  return { int: m[1] === '-' ? -int : int, scale }
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  if (a.scale === b.scale) return [a.int, b.int, a.scale]
  if (a.scale < b.scale) return [a.int * pow10(b.scale - a.scale), b.int, b.scale]
  return [a.int, b.int * pow10(a.scale - b.scale), a.scale]
}

const SPECIAL_RANK = { '-Infinity': -1, NaN: 2, Infinity: 1 } as const

/** Orders two decimals as PostgreSQL orders `numeric` (NaN above everything). @internal */
export function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.special || b.special) {
    const x = a.special ? SPECIAL_RANK[a.special] : 0
    const y = b.special ? SPECIAL_RANK[b.special] : 0
    return x - y
  }
  const [x, y] = align(a, b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** `a + b`, exactly (the scale of the wider). @internal */
export function addDecimals(a: Decimal, b: Decimal): Decimal {
  if (a.special || b.special) {
    const s = new Set([a.special, b.special])
    if (s.has('NaN') || (s.has('Infinity') && s.has('-Infinity')))
      return { int: 0n, scale: 0, special: 'NaN' }
    return { int: 0n, scale: 0, special: (a.special ?? b.special) as 'Infinity' | '-Infinity' }
  }
  const [x, y, scale] = align(a, b)
  return { int: x + y, scale }
}

/** The decimal as text with exactly `scale` fraction digits (as PostgreSQL prints it). @internal */
export function formatDecimal(d: Decimal): string {
  if (d.special) return d.special
  const negative = d.int < 0n
  let digits = (negative ? -d.int : d.int).toString()
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, '0')
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`
  }
  return negative ? `-${digits}` : digits
}

/**
 * An identity for equality: equal values (`1.10` and `1.1`, `5n` and `5`) give the same
 * string. @internal
 */
export function decimalIdentity(d: Decimal): string {
  if (d.special) return d.special
  let { int, scale } = d
  while (scale > 0 && int % 10n === 0n) {
    int /= 10n
    scale--
  }
  return scale === 0 ? int.toString() : `${int.toString()}e-${scale}`
}

// PostgreSQL's numeric.c: NUMERIC_MIN_SIG_DIGITS, DEC_DIGITS, NUMERIC_MAX_DISPLAY_SCALE.
const MIN_SIG_DIGITS = 16
const DEC_DIGITS = 4
const MAX_DISPLAY_SCALE = 1000

/** The weight (in base-10000 digits) and the first base-10000 digit of |d|, as numeric.c sees them. */
function weightAndFirst(d: Decimal): [number, bigint] {
  const magnitude = d.int < 0n ? -d.int : d.int
  if (magnitude === 0n) return [0, 0n]
  const exponent = magnitude.toString().length - 1 - d.scale // of the leading decimal digit
  const weight = Math.floor(exponent / DEC_DIGITS)
  const shift = d.scale + DEC_DIGITS * weight
  const first = shift >= 0 ? magnitude / pow10(shift) : magnitude * pow10(-shift)
  return [weight, first]
}

/**
 * `sum / count` as PostgreSQL's `numeric` division computes `avg` (`numeric_div` with the
 * scale of `select_div_scale`, rounded half away from zero), as decimal text. @internal
 */
export function divideLikePostgres(sum: Decimal, count: bigint): string {
  if (sum.special) return sum.special
  const divisor: Decimal = { int: count, scale: 0 }
  const [w1, f1] = weightAndFirst(sum)
  const [w2, f2] = weightAndFirst(divisor)
  let qweight = w1 - w2
  if (f1 <= f2) qweight--
  let rscale = MIN_SIG_DIGITS - qweight * DEC_DIGITS
  rscale = Math.min(Math.max(rscale, sum.scale, 0), MAX_DISPLAY_SCALE)
  // q = sum.int / 10^sum.scale / count, to rscale digits: sum.int * 10^(rscale - scale) / count.
  const up = rscale - sum.scale
  const numerator = up >= 0 ? sum.int * pow10(up) : sum.int
  const denominator = up >= 0 ? count : count * pow10(-up)
  const negative = numerator < 0n !== denominator < 0n
  const n = numerator < 0n ? -numerator : numerator
  const dd = denominator < 0n ? -denominator : denominator
  let q = n / dd
  if ((n % dd) * 2n >= dd) q += 1n
  return formatDecimal({ int: negative ? -q : q, scale: rscale })
}

/**
 * MySQL's `avg` of an exact column: a DECIMAL with `div_precision_increment` (4) more digits
 * than the sum's scale, rounded half away from zero. @internal
 */
export function divideLikeMysql(sum: Decimal, count: bigint): Decimal {
  const numerator = sum.int * pow10(4)
  let q = numerator / count
  const r = numerator % count
  if ((r < 0n ? -r : r) * 2n >= count) q += numerator < 0n ? -1n : 1n
  return { int: q, scale: sum.scale + 4 }
}
