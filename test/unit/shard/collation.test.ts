// Which PostgreSQL collations order strings by code point (so a merge may compare them itself),
// read from pg_collation and pg_database rows as to_jsonb gives them on PostgreSQL 12–17.
import { nonCodePointCollation } from '../../../src/shard/collation'

describe('nonCodePointCollation', () => {
  const libcDb = (datcollate: string) => ({ datcollate, datlocprovider: 'c' })
  const deflt = { collname: 'default', collprovider: 'd', collcollate: null }

  it('accepts C, POSIX and C.UTF-8, as a column collation or as the database default', () => {
    for (const locale of ['C', 'POSIX', 'C.UTF-8', 'C.utf8']) {
      expect(
        nonCodePointCollation({ collname: locale, collprovider: 'c', collcollate: locale }, null),
      ).toBeUndefined()
      expect(nonCodePointCollation(deflt, libcDb(locale))).toBeUndefined()
    }
    // Before PostgreSQL 15 there is no datlocprovider: libc.
    expect(nonCodePointCollation(deflt, { datcollate: 'C' })).toBeUndefined()
    // PostgreSQL 17's builtin provider (C, C.UTF-8) orders by code point.
    expect(
      nonCodePointCollation({ collname: 'pg_c_utf8', collprovider: 'b', colllocale: 'C.UTF-8' }, null),
    ).toBeUndefined()
    expect(nonCodePointCollation(deflt, { datlocprovider: 'b', datlocale: 'C.UTF-8' })).toBeUndefined()
  })

  it('names any other collation: libc locales, ICU, an ICU database default', () => {
    expect(
      nonCodePointCollation({ collname: 'en_US', collprovider: 'c', collcollate: 'en_US.utf8' }, null),
    ).toBe('en_US')
    expect(
      nonCodePointCollation({ collname: 'und-x-icu', collprovider: 'i', colliculocale: 'und' }, null),
    ).toBe('und-x-icu')
    expect(nonCodePointCollation(deflt, libcDb('en_US.UTF-8'))).toBe('default (en_US.UTF-8)')
    expect(nonCodePointCollation(deflt, { datlocprovider: 'i', daticulocale: 'en-US' })).toBe(
      'default (en-US)',
    )
  })

  it('a type without a collation (numbers, dates) needs no check', () => {
    expect(nonCodePointCollation(null, libcDb('en_US.UTF-8'))).toBeUndefined()
  })
})
