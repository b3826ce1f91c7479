import { toSqlNumber } from 'tributary'
import { readAggregate } from '../../../src/model/aggregates'
import { readValue, writeValue } from '../../../src/model/coerce'

describe('toSqlNumber', () => {
  it('reads pg bigint/numeric strings as numbers, past 2^53 as bigint', () => {
    expect(toSqlNumber('42')).toBe(42)
    expect(toSqlNumber('3000000000')).toBe(3_000_000_000)
    expect(toSqlNumber('-9007199254740991')).toBe(-Number.MAX_SAFE_INTEGER)
    expect(toSqlNumber('9007199254740993')).toBe(9007199254740993n)
    expect(toSqlNumber('12.50')).toBe(12.5)
    expect(toSqlNumber(7n)).toBe(7)
    expect(toSqlNumber(2n ** 60n)).toBe(2n ** 60n)
    expect(toSqlNumber(1.5)).toBe(1.5)
  })
})

describe('readValue', () => {
  it('turns SQLite 0/1 into booleans and leaves pg booleans alone', () => {
    expect(readValue('boolean', 1)).toBe(true)
    expect(readValue('boolean', 0)).toBe(false)
    expect(readValue('boolean', false)).toBe(false)
    expect(readValue('boolean', null)).toBeNull()
  })

  it('reads dates from ISO text, SQLite CURRENT_TIMESTAMP text (UTC) and epoch ms', () => {
    expect(readValue('date', '2024-01-02T03:04:05.000Z')).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))
    expect(readValue('date', '2024-01-02 03:04:05')).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))
    expect(readValue('date', 0)).toEqual(new Date(0))
    const d = new Date()
    expect(readValue('date', d)).toBe(d)
  })

  it('reads numbers, bigints, JSON and strings', () => {
    expect(readValue('number', '17')).toBe(17)
    expect(readValue('bigint', '17')).toBe(17n)
    expect(readValue('json', '{"a":[1]}')).toEqual({ a: [1] })
    expect(readValue('json', { a: 1 })).toEqual({ a: 1 })
    expect(readValue('string', 5)).toBe('5')
    expect(readValue('unknown', '5')).toBe('5')
  })
})

describe('writeValue', () => {
  it('makes booleans and dates bindable on SQLite only', () => {
    const d = new Date(Date.UTC(2024, 0, 1))
    expect(writeValue('boolean', true, true)).toBe(1)
    expect(writeValue('unknown', false, true)).toBe(0)
    expect(writeValue('date', d, true)).toBe('2024-01-01T00:00:00.000Z')
    expect(writeValue('boolean', true, false)).toBe(true)
    expect(writeValue('date', d, false)).toBe(d)
    expect(writeValue('json', [1, 2], false)).toBe('[1,2]')
    expect(writeValue('number', undefined, true)).toBeNull()
  })
})

describe('readAggregate', () => {
  const score = { property: 'score', name: 'score', primary: false, kind: 'number' as const }
  it('count is a number, sum 0 and avg/min/max null over no rows', () => {
    expect(readAggregate('count', undefined, '5000000000')).toBe(5_000_000_000)
    expect(readAggregate('sum', score, null)).toBe(0)
    expect(readAggregate('sum', score, '99999999999999999999')).toBe(99999999999999999999n)
    expect(readAggregate('avg', score, null)).toBeNull()
    expect(readAggregate('avg', score, '2.5000000000000000')).toBe(2.5)
    expect(readAggregate('min', score, null)).toBeNull()
    expect(readAggregate('max', score, '12')).toBe(12)
  })
})
