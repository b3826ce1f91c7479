import { hashKey, isQueryKeyError, matchesKeyPrefix, QueryKeyError } from '../../../src'

describe('hashKey', () => {
  it('ignores object property order, at any depth', () => {
    expect(hashKey(['users', { b: 1, a: { d: [1, 2], c: null } }])).toBe(
      hashKey(['users', { a: { c: null, d: [1, 2] }, b: 1 }]),
    )
  })

  it('keeps array order and element types apart', () => {
    expect(hashKey([1, 2])).not.toBe(hashKey([2, 1]))
    expect(hashKey(['1'])).not.toBe(hashKey([1]))
    expect(hashKey([null])).not.toBe(hashKey(['null']))
  })

  it('drops undefined properties as JSON does, and accepts toJSON values', () => {
    expect(hashKey([{ a: 1, b: undefined }])).toBe(hashKey([{ a: 1 }]))
    expect(hashKey([new Date(0) as unknown as string])).toBe(hashKey(['1970-01-01T00:00:00.000Z']))
  })

  it('rejects what JSON cannot express, naming where', () => {
    expect(() => hashKey(['a', { id: undefined, f: () => 1 } as never])).toThrow(/key\[1\]\.f is a function/)
    expect(() => hashKey([Number.NaN])).toThrow(QueryKeyError)
    expect(() => hashKey('user' as never)).toThrow(/not an array/)
    try {
      hashKey([new Map() as never])
    } catch (error) {
      expect(isQueryKeyError(error)).toBe(true)
      expect((error as QueryKeyError).path).toBe('key[0]')
    }
    expect.assertions(5)
  })
})

describe('matchesKeyPrefix', () => {
  it('matches whole elements only', () => {
    expect(matchesKeyPrefix(['user', 1, 'posts'], ['user', 1])).toBe(true)
    expect(matchesKeyPrefix(['user', 1], ['user', 1])).toBe(true)
    expect(matchesKeyPrefix(['user', 12], ['user', 1])).toBe(false)
    expect(matchesKeyPrefix(['users'], ['user'])).toBe(false)
    expect(matchesKeyPrefix(['user'], ['user', 1])).toBe(false)
    expect(matchesKeyPrefix(['anything'], [])).toBe(true)
    expect(matchesKeyPrefix([{ b: 2, a: 1 }, 'x'], [{ a: 1, b: 2 }])).toBe(true)
  })
})
