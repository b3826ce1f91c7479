// Issue 16, "Shown by": every coercer (createCoercer for each supported type, a class, a class
// with fromJSON, a parser), for arbitrary input, returns a value or throws a CoercionError (a
// TributaryError) — never another error, never a hang, never a changed prototype, and a class
// built from JSON keeps its prototype whatever `__proto__`/`constructor` keys the JSON holds.
import fc from 'fast-check'
import { type ComponentType } from 'tributary'
import { createCoercer } from '../../../src/components/coerce'
import {
  anyKey,
  anyValue,
  assertPrototypesUntouched,
  attempt,
  cyclic,
  deep,
  edgeNumber,
  RUNS,
} from './support'

class Point {
  x = 0
  y = 0
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}

class Stamp {
  constructor(readonly at: number) {}
  static fromJSON(data: { at?: unknown }): Stamp {
    return new Stamp(Number(data.at))
  }
}

const TYPES: Array<[string, ComponentType | undefined]> = [
  ['none', undefined],
  ['Number', Number],
  ['String', String],
  ['Boolean', Boolean],
  ['Date', Date],
  ['URL', URL],
  ['Object', Object],
  ['Array', Array],
  ['BigInt', BigInt as unknown as ComponentType],
  ['a class', Point],
  ['a class with fromJSON', Stamp],
]

/** Text a source may hand over: JSON (with dangerous keys), numbers, booleans, junk. */
const rawText: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, value]) => `{"${key}": ${JSON.stringify(value)}, "x": 1}`),
  fc.dictionary(anyKey, fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify(v)),
  edgeNumber.map(String),
  fc.constantFrom(
    '1e400',
    '-1e400',
    'Infinity',
    'NaN',
    ' 12 ',
    '0x10',
    'yes',
    'off',
    '2024-13-45',
    'http://a b',
  ),
)

const raw: fc.Arbitrary<unknown> = fc.oneof(anyValue, rawText, edgeNumber, cyclic)

describe('coercers on arbitrary input (issue 16)', () => {
  afterEach(() => assertPrototypesUntouched())

  it.each(TYPES)('createCoercer(%s) returns a value or throws a CoercionError', (_name, type) => {
    const coerce = createCoercer(type)
    fc.assert(
      fc.property(raw, (value) => {
        attempt(() => coerce(value), /^$/)
      }),
      RUNS,
    )
  })

  it('a class built from JSON with __proto__ / constructor keys keeps its prototype and methods', () => {
    const coerce = createCoercer(Point)
    fc.assert(
      fc.property(
        fc.constantFrom('__proto__', 'constructor', 'prototype'),
        fc.jsonValue({ maxDepth: 2 }),
        fc.boolean(),
        (key, value, asText) => {
          const text = `{"${key}": ${JSON.stringify(value)}, "x": 3, "y": 4}`
          const point = coerce(asText ? text : (JSON.parse(text) as unknown)) as Point
          expect(point).toBeInstanceOf(Point)
          expect(point.norm()).toBe(5)
          expect(Object.getPrototypeOf(point)).toBe(Point.prototype)
        },
      ),
      RUNS,
    )
  })

  it('numbers are finite: Infinity, 1e400 and NaN are refused', () => {
    const coerce = createCoercer(Number)
    fc.assert(
      fc.property(edgeNumber, (n) => {
        const out = attempt(() => coerce(n), /^$/)
        if (out !== undefined) expect(Number.isFinite(out)).toBe(true)
        else expect(Number.isFinite(n)).toBe(false)
      }),
      RUNS,
    )
  })

  it('JSON text nested thousands deep is a CoercionError saying so', () => {
    expect(() => createCoercer(Object)(`${'['.repeat(200_000)}1${']'.repeat(200_000)}`)).toThrow(
      /cannot convert to object \(JSON nested too deeply\)/,
    )
  })

  it('deeply nested JSON text and values fail typed or pass, never with a stack overflow', () => {
    for (const [, type] of TYPES) {
      const coerce = createCoercer(type)
      for (const depth of [100, 10_000, 200_000]) {
        attempt(() => coerce(`${'['.repeat(depth)}1${']'.repeat(depth)}`), /^$/)
        attempt(() => coerce(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`), /^$/)
        attempt(() => coerce(deep(depth, 'object')), /^$/)
      }
    }
  })
})
