// Which PostgreSQL collations order strings by code point (so a merge may compare them itself),
// read from pg_collation and pg_database rows as to_jsonb gives them on PostgreSQL 12–17.
import { Kysely, MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler } from 'kysely'
import { Column, isUnsupportedCollationError, Model, ShardManager, Table } from 'tributary'
import { mysqlCodePointCollation, nonCodePointCollation } from '../../../src/shard/collation'

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

describe('mysqlCodePointCollation', () => {
  it('accepts binary NO PAD collations and types without one; refuses the defaults and PAD SPACE _bin', () => {
    for (const name of ['utf8mb4_nopad_bin', 'utf8mb3_nopad_bin', 'utf8mb4_0900_bin', 'binary', null]) {
      expect(mysqlCodePointCollation(name)).toBe(true)
    }
    for (const name of [
      'utf8mb4_general_ci',
      'utf8mb4_0900_ai_ci',
      'utf8mb4_bin',
      'utf8mb4_unicode_ci',
      'latin1_swedish_ci',
    ]) {
      expect(mysqlCodePointCollation(name)).toBe(false)
    }
  })
})

/** A SQL dialect tributary does not know (MySQL's adapter under another name). */
class OtherAdapter extends MysqlAdapter {}

describe('acrossShards on a dialect whose collations are unknown (not PostgreSQL, MySQL or SQLite)', () => {
  it('refuses to order text without compare, naming model and column; with compare it merges', async () => {
    const rows: Record<string, Array<{ v: string; o0: string }>> = {
      a: [{ v: 'b', o0: 'b' }],
      b: [{ v: 'A', o0: 'A' }],
    }
    const other = (name: string) =>
      new Kysely<any>({
        dialect: {
          createAdapter: () => new OtherAdapter(),
          createDriver: () => ({
            init: async () => undefined,
            acquireConnection: async () => ({
              executeQuery: async () => ({ rows: rows[name] as never[] }),
              streamQuery: async function* () {},
            }),
            beginTransaction: async () => undefined,
            commitTransaction: async () => undefined,
            rollbackTransaction: async () => undefined,
            releaseConnection: async () => undefined,
            destroy: async () => undefined,
          }),
          createIntrospector: (db) => new MysqlIntrospector(db),
          createQueryCompiler: () => new MysqlQueryCompiler(),
        },
      })
    @Table('people')
    class Person extends Model {
      @Column({ primary: true, type: Number }) id!: number
      @Column({ type: String }) name!: string
    }
    const shards = new ShardManager<any>({ a: other('a'), b: other('b') })
    try {
      const refused = await Person.acrossShards({ manager: shards })
        .orderBy('name')
        .asyncPluck('name')
        .catch((e: unknown) => e)
      expect(isUnsupportedCollationError(refused)).toBe(true)
      expect(refused).toMatchObject({ model: 'Person', property: 'name' })
      expect((refused as Error).message).toContain(
        'unknown (a dialect other than PostgreSQL, MySQL or SQLite)',
      )
      const caseless = (x: unknown, y: unknown) =>
        String(x).toLowerCase().localeCompare(String(y).toLowerCase())
      await expect(
        Person.acrossShards({ manager: shards, compare: caseless }).orderBy('name').asyncPluck('name'),
      ).resolves.toEqual(['A', 'b'])
    } finally {
      await shards.close()
    }
  })
})
