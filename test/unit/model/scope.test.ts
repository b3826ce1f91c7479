// Scopes compile without running: immutability, bound values, refused inputs.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { Column, isInvalidQueryError, Model, Table } from 'tributary'
import { getModelMeta } from '../../../src/model/decorators'
import { createScope } from '../../../src/model/scope'

@Table('people')
class Person extends Model {
  @Column({ primary: true }) id!: number
  @Column({ name: 'full_name' }) name!: string
  @Column() admin!: boolean
}

class Employee extends Person {
  @Column() salary!: number
}

describe('model metadata', () => {
  it('maps properties to columns, infers kinds from design:type and inherits columns', () => {
    const meta = getModelMeta(Person)
    expect(meta.table).toBe('people')
    expect(meta.primary?.property).toBe('id')
    expect(meta.columns.map((c) => [c.property, c.name, c.kind])).toEqual([
      ['id', 'id', 'number'],
      ['name', 'full_name', 'string'],
      ['admin', 'admin', 'boolean'],
    ])
    expect(getModelMeta(Employee).columns.map((c) => c.property)).toEqual(['id', 'name', 'admin', 'salary'])
    expect(getModelMeta(Employee).table).toBe('people')
  })

  it('refuses a model without @Table or @Column, naming it', () => {
    class Loose extends Model {}
    expect(() => getModelMeta(Loose)).toThrow('Loose has no @Table(name)')
    @Table('empty')
    class Empty extends Model {}
    expect(() => getModelMeta(Empty)).toThrow('Empty declares no @Column')
  })
})

describe('scopes', () => {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  afterAll(() => db.destroy())

  it('are immutable: each method returns a new scope', () => {
    const base = Person.where({ admin: true })
    const narrowed = base.where('id', '>', 3).orderBy('name', 'desc').limit(2)
    expect(base.compileAggregate('count', undefined, db as never).query.sql).toBe(
      'select count(*) as "v" from "people" where "admin" = ?',
    )
    expect(narrowed.compileAggregate('count', undefined, db as never).query.sql).toBe(
      'select count(*) as "v" from (select 1 as "c" from "people" where "admin" = ? and "id" > ? order by "full_name" desc limit ?) as "t"',
    )
  })

  it('binds every value, however hostile, as a parameter', () => {
    const hostile = "'; drop table people; --"
    const { query } = Person.where({ name: hostile, id: [1, 2] }).compileAggregate('sum', 'id', db as never)
    expect(query.sql).toBe('select sum("id") as "v" from "people" where "full_name" = ? and "id" in (?, ?)')
    expect(query.parameters).toEqual([hostile, 1, 2])
    expect(
      Person.where('name', 'LIKE' as never, '%x%').compileAggregate('count', undefined, db as never).query
        .sql,
    ).toContain('"full_name" like ?')
  })

  it('compiles an aggregate once per database and reuses it', () => {
    const scope = createScope(Person)
    expect(scope.compileAggregate('max', 'id', db as never).query).toBe(
      scope.compileAggregate('max', 'id', db as never).query,
    )
  })

  it('compiles a shape once for every database of one dialect, apart for one with plugins', () => {
    const other = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
    const plugged = db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => args.result,
    })
    // A shape no other test uses.
    const scope = (name: string) => Person.where('name', 'not like', name).orderBy('admin', 'desc')
    const build = jest.spyOn(Kysely.prototype, 'selectFrom')
    try {
      const a = scope('a').compileAggregate('min', 'id', db as never).query
      const b = scope('b').compileAggregate('min', 'id', other as never).query
      expect(build).toHaveBeenCalledTimes(1)
      expect(b.sql).toBe(a.sql)
      expect(b.parameters).toEqual(['b'])
      expect(scope('c').compileAggregate('min', 'id', plugged as never).query.parameters).toEqual(['c'])
      expect(build).toHaveBeenCalledTimes(2)
    } finally {
      build.mockRestore()
      void other.destroy()
    }
  })

  it('compiles each shape once: scopes that differ only in values share the SQL, with their own parameters', () => {
    let compiles = 0
    const counting = db.withPlugin({
      transformQuery: (args) => {
        compiles++
        return args.node
      },
      transformResult: async (args) => args.result,
    })
    const q = (scope: ReturnType<typeof Person.where>) =>
      scope.compileAggregate('count', undefined, counting as never).query
    const a = q(
      Person.where({ name: 'a', id: [1, 2] })
        .where('admin', 'is', true)
        .limit(5)
        .offset(10),
    )
    const once = compiles // Kysely transforms the outer query and its subquery
    expect(once).toBeGreaterThan(0)
    const b = q(
      Person.where({ name: 'b', id: [3, 4] })
        .where('admin', 'is', true)
        .limit(6)
        .offset(0),
    )
    expect(compiles).toBe(once)
    expect(b.sql).toBe(a.sql)
    expect(a.parameters).toEqual(['a', 1, 2, 5, 10])
    expect(b.parameters).toEqual(['b', 3, 4, 6, 0])
    // a different shape compiles anew: another list length, `is false`, no offset, another order
    const other = [
      q(
        Person.where({ name: 'a', id: [1, 2, 3] })
          .where('admin', 'is', true)
          .limit(5)
          .offset(10),
      ),
      q(
        Person.where({ name: 'a', id: [1, 2] })
          .where('admin', 'is', false)
          .limit(5)
          .offset(10),
      ),
      q(
        Person.where({ name: 'a', id: [1, 2] })
          .where('admin', 'is', true)
          .limit(5),
      ),
      q(
        Person.where({ id: [1, 2], name: 'a' })
          .where('admin', 'is', true)
          .limit(5)
          .offset(10),
      ),
    ]
    expect(compiles).toBe(once * 5)
    expect(new Set([a.sql, ...other.map((o) => o.sql)]).size).toBe(5)
    expect(other[1]?.sql).toContain('"admin" is false')
    // SQLite binds booleans and dates as 1/0 and text when filling a template
    const when = new Date(Date.UTC(2024, 0, 1))
    expect(q(Person.where({ admin: true })).parameters).toEqual([1])
    expect(q(Person.where({ admin: false })).parameters).toEqual([0])
    expect(q(Person.where('id', '<', when as never)).parameters).toEqual(['2024-01-01T00:00:00.000Z'])
  })

  it('refuses undeclared columns, operators and bad limits with typed errors', () => {
    const attempts: Array<() => unknown> = [
      () => Person.where({ full_name_x: 1 } as never),
      () => Person.where('salary' as never, '=', 1),
      () => Person.where('id', '== 1 or 1=1' as never, 1),
      () => Person.orderBy('id', 'sideways' as never),
      () => Person.limit(1.5),
      () => Person.where('id', 'in', 5),
      () => Person.where('admin', 'is', 'yes'),
      () => Person.all().compileAggregate('sum', undefined, db as never),
    ]
    for (const attempt of attempts) {
      const error = (() => {
        try {
          attempt()
        } catch (e) {
          return e
        }
      })()
      expect(isInvalidQueryError(error)).toBe(true)
      expect((error as Error).message).toMatch(/^Person: /)
    }
  })

  it('refuses values that are not SQL values, naming the model and column (they matched rows as text)', () => {
    const refused: Array<[() => unknown, RegExp]> = [
      [
        () => Person.where({ name: Symbol('x') as never }),
        /^Person: where name =: a symbol is not a SQL value/,
      ],
      [
        () => Person.where({ name: { $ne: 'a' } as never }),
        /^Person: where name =: an object is not a SQL value/,
      ],
      [
        () => Person.where('id', 'in', [1, () => 2] as never),
        /^Person: where id in: a function is not a SQL value/,
      ],
      [() => Person.where('id', 'in', [[1]] as never), /where id in: a nested array/],
      [() => Person.where('id', '>', Number.NaN), /where id >: NaN is not a finite number/],
      [() => Person.where('id', '<', new Date('nope') as never), /an invalid Date/],
    ]
    for (const [attempt, message] of refused) {
      let caught: unknown
      try {
        attempt()
      } catch (error) {
        caught = error
      }
      expect(isInvalidQueryError(caught)).toBe(true)
      expect((caught as { property?: string }).property).toMatch(/^(name|id)$/)
      expect((caught as Error).message).toMatch(message)
    }
    // SQL values still pass: text, numbers, bigints, booleans, null, Dates, bytes.
    expect(() =>
      Person.where({ name: 'a', id: [1, 2n as never], admin: null as never })
        .where('id', '<', new Date(0) as never)
        .where('name', '=', Buffer.from('x') as never),
    ).not.toThrow()
  })

  it('batched lookups refuse the same values: asyncFind(object) and asyncFindBy({ key: symbol })', async () => {
    const byId = await Person.asyncFind({ id: 1 } as never).catch((e: unknown) => e)
    expect(isInvalidQueryError(byId)).toBe(true)
    expect((byId as Error).message).toMatch(/^Person: where id =: an object is not a SQL value/)
    const byName = await Person.asyncFindBy({ name: Symbol('x') as never }).catch((e: unknown) => e)
    expect(isInvalidQueryError(byName)).toBe(true)
    expect((byName as { property?: string }).property).toBe('name')
  })

  it('accepts the column name as well as the property name', () => {
    expect(
      Person.where({ full_name: 'a' } as never).compileAggregate('count', undefined, db as never).query.sql,
    ).toContain('"full_name" = ?')
  })
})
