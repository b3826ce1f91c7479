// The prepared-query module (issue 18, point 3): what each state keeps of its filled queries.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import { Column, Model, Table } from 'tributary'
import { getModelMeta } from '../../../src/model/decorators'
import { whereConditions } from '../../../src/model/conditions'
import { PreparedQueries, selectParts } from '../../../src/model/prepared-query'

@Table('things')
class Thing extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ type: Number }) size!: number
}

describe('PreparedQueries', () => {
  const sqlite = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  // Compiles only: never connects.
  const postgres = new Kysely<any>({ dialect: new PostgresDialect({ pool: {} as never }) })
  afterAll(() => sqlite.destroy())
  const meta = getModelMeta(Thing)

  function prepared(size: number, limit?: number): PreparedQueries {
    return new PreparedQueries(meta, 'test:', {
      conditions: whereConditions(meta, 'size', '>', size),
      order: [],
      limit,
      offset: undefined,
    })
  }
  const count = (name: string) => (db: Kysely<any>, p: PreparedQueries) =>
    p.query(name, db, (holed) =>
      selectParts(db, meta, holed)
        .select((eb) => eb.fn.countAll().as('n'))
        .compile(),
    )

  it('keeps each query by name and dialect, filled with its own values', () => {
    const p = prepared(3, 10)
    const a = count('a')(sqlite, p)
    expect(count('a')(sqlite, p)).toBe(a)
    const b = count('b')(sqlite, p)
    const onPostgres = count('a')(postgres, p)
    expect(b).not.toBe(a)
    expect(onPostgres).not.toBe(a)
    expect(count('b')(sqlite, p)).toBe(b)
    expect(count('a')(postgres, p)).toBe(onPostgres)
    expect(a.sql).toMatch(/"size" > \? limit \?/)
    expect(onPostgres.sql).toMatch(/"size" > \$1 limit \$2/)
    expect(a.parameters).toEqual([3, 10])
    expect(onPostgres.parameters).toEqual([3, 10])
  })

  it('two states of one shape share the template and differ only in values', () => {
    const one = count('same')(sqlite, prepared(1, 5))
    const two = count('same')(sqlite, prepared(7, 2))
    expect(two.sql).toBe(one.sql)
    expect(two.parameters).toEqual([7, 2])
  })

  it('refuses a hole made after a query, when the key is already fixed', () => {
    const p = prepared(1)
    count('x')(sqlite, p)
    expect(() => p.hole(1)).toThrow(/after query\(\)/)
  })
})
