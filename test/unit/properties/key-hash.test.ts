// Issue 16, "Shown by": the query-key hasher, for arbitrary input, returns a string or throws
// a QueryKeyError (a TributaryError) naming the position — never another error, never a hang,
// never a changed prototype; equal keys hash equal.
import fc from 'fast-check'
import { hashKey, isQueryKeyError } from 'tributary'
import { anyValue, assertPrototypesUntouched, attempt, cyclic, deep, edgeNumber, RUNS } from './support'

const keyOf = (value: unknown): readonly never[] => value as readonly never[]

describe('hashKey on arbitrary input (issue 16)', () => {
  afterEach(() => assertPrototypesUntouched())

  it('any value as the key, or as a part of it', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, fc.array(anyValue, { maxLength: 4 }), edgeNumber), (key) => {
        const hash = attempt(() => hashKey(keyOf(key)))
        if (hash !== undefined) expect(typeof hash).toBe('string')
      }),
      RUNS,
    )
  })

  it('cyclic parts are a QueryKeyError naming the position', () => {
    fc.assert(
      fc.property(cyclic, fc.nat(3), (part, at) => {
        const key = [...Array<string>(at).fill('x'), part]
        let error: unknown
        try {
          hashKey(keyOf(key))
        } catch (caught) {
          error = caught
        }
        expect(isQueryKeyError(error)).toBe(true)
        expect((error as Error).message).toMatch(new RegExp(`key\\[${at}\\]`))
      }),
      RUNS,
    )
  })

  it('keys nested far deeper than any real key fail typed, not with a stack overflow', () => {
    for (const kind of ['array', 'object'] as const) {
      expect(typeof hashKey(keyOf([deep(100, kind)]))).toBe('string')
      for (const depth of [1_000, 100_000]) {
        let error: unknown
        try {
          hashKey(keyOf([deep(depth, kind)]))
        } catch (caught) {
          error = caught
        }
        expect(isQueryKeyError(error)).toBe(true)
        expect((error as Error).message).toMatch(/nested deeper than 256 levels/)
      }
    }
  })

  it('JSON values: the hash does not depend on the order of object keys', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 }), (key) => {
        const shuffled = JSON.parse(JSON.stringify(key), (_k, v: unknown) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        ) as unknown
        const a = attempt(() => hashKey(keyOf(key)))
        const b = attempt(() => hashKey(keyOf(shuffled)))
        expect(a).toBe(b)
      }),
      RUNS,
    )
  })
})
