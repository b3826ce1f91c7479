import { hashKey, isQueryKeyError, QueryKeyError } from '../../../src'
import { matchesKeyPrefix } from '../../../src/store/key-hash'

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

  it('a cyclic key is a QueryKeyError naming where the cycle closes, not a stack overflow', () => {
    const list: unknown[] = ['a']
    list.push(list)
    const record: Record<string, unknown> = { id: 1 }
    record.self = record
    const selfish = {
      toJSON(): unknown {
        return selfish
      },
    }
    const cases: Array<[unknown, RegExp]> = [
      [list, /key\[1\](\[1\])+ refers back to itself \(a cycle\)/],
      [record, /key\[1\](\.self)+ refers back to itself/],
      [selfish, /key\[1\] has a toJSON\(\) that returns itself/],
    ]
    for (const [part, message] of cases) {
      let caught: unknown
      try {
        hashKey(['user', part as never])
      } catch (error) {
        caught = error
      }
      expect(isQueryKeyError(caught)).toBe(true)
      expect((caught as Error).message).toMatch(message)
    }
    // A shared (not cyclic) part is fine, however deep.
    const shared = { n: 1 }
    let deep: unknown = [shared, shared]
    for (let i = 0; i < 100; i++) deep = { next: deep, again: shared }
    expect(hashKey([deep as never])).toContain('"n":1')
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
