// Compiled-query templates (issue 18, point 3): a scope's SQL is compiled once per shape and
// then filled with each scope's values. If two different scopes got the same shape key, the
// second would be answered with the first's SQL. Property: for any two scopes A and B, B's
// query compiled after A (so it may reuse A's template) equals B's query compiled by a model
// that has compiled nothing before — same SQL, same parameters. Model scopes and cross-shard
// scopes are prepared by the same module (src/model/prepared-query.ts); both are checked.
import BetterSqlite3 from 'better-sqlite3'
import fc from 'fast-check'
import { Kysely, sql, SqliteDialect } from 'kysely'
import { Column, Model, ShardManager, Table, type Scope } from 'tributary'
import { RUNS } from './support'

/** A new model class each call: its own metadata, so its own (empty) template cache. */
function freshModel() {
  @Table('people')
  class Person extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: String }) name!: string | null
    @Column({ type: Number }) age!: number | null
    @Column({ type: Boolean }) admin!: boolean | null
  }
  return Person
}
type Person = InstanceType<ReturnType<typeof freshModel>>

type Condition =
  | { readonly col: 'id' | 'age'; readonly op: string; readonly value: number | null | number[] }
  | { readonly col: 'name'; readonly op: string; readonly value: string | null | string[] }
  | { readonly col: 'admin'; readonly op: string; readonly value: boolean | null }

const numberCondition = fc.oneof(
  fc.record({
    col: fc.constantFrom('id' as const, 'age' as const),
    op: fc.constantFrom('=', '!=', '<>', '<', '<=', '>', '>='),
    value: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(null)),
  }),
  fc.record({
    col: fc.constantFrom('id' as const, 'age' as const),
    op: fc.constantFrom('in', 'not in'),
    value: fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 4 }),
  }),
)
const textCondition = fc.oneof(
  fc.record({
    col: fc.constant('name' as const),
    op: fc.constantFrom('=', '!=', '<', '>=', 'like', 'not like'),
    value: fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)),
  }),
  fc.record({
    col: fc.constant('name' as const),
    op: fc.constantFrom('in', 'not in'),
    value: fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  }),
)
const booleanCondition = fc.record({
  col: fc.constant('admin' as const),
  op: fc.constantFrom('=', '!=', 'is', 'is not'),
  value: fc.oneof(fc.boolean(), fc.constant(null)),
})
const condition: fc.Arbitrary<Condition> = fc.oneof(numberCondition, textCondition, booleanCondition)

interface ScopeSpec {
  readonly conditions: readonly Condition[]
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly fn: 'count' | 'sum' | 'max'
}

/** Another value for `c`'s column and operator (a list of any length for `in`). */
function revalued(c: Condition): fc.Arbitrary<Condition> {
  const list = c.op === 'in' || c.op === 'not in'
  if (c.col === 'name') {
    const value = list
      ? fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 })
      : fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null))
    return value.map((v) => ({ ...c, value: v }) as Condition)
  }
  if (c.col === 'admin') return fc.oneof(fc.boolean(), fc.constant(null)).map((v) => ({ ...c, value: v }))
  const value = list
    ? fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 4 })
    : fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(null))
  return value.map((v) => ({ ...c, value: v }) as Condition)
}

const scopeSpec: fc.Arbitrary<ScopeSpec> = fc.record({
  conditions: fc.array(condition, { maxLength: 3 }),
  limit: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
  offset: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
  fn: fc.constantFrom('count' as const, 'sum' as const, 'max' as const),
})

function scopeOf(model: ReturnType<typeof freshModel>, spec: ScopeSpec): Scope<Person> {
  let scope = model.all() as Scope<Person>
  for (const c of spec.conditions) scope = scope.where(c.col, c.op as never, c.value as never)
  if (spec.limit !== undefined) scope = scope.limit(spec.limit)
  if (spec.offset !== undefined) scope = scope.offset(spec.offset)
  return scope
}

function compiled(model: ReturnType<typeof freshModel>, spec: ScopeSpec, db: Kysely<any>) {
  const { query } = scopeOf(model, spec).compileAggregate(
    spec.fn,
    spec.fn === 'count' ? undefined : 'age',
    db,
  )
  return { sql: query.sql, parameters: query.parameters }
}

/** Two scopes of mostly the same shape: b is a with its values (and list lengths, limit, offset) drawn again. */
const nearPair: fc.Arbitrary<[ScopeSpec, ScopeSpec]> = scopeSpec.chain((a) =>
  fc
    .record({
      conditions: fc.tuple(...a.conditions.map(revalued)),
      limit: fc.oneof(fc.constant(a.limit), fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined })),
      offset: fc.oneof(fc.constant(a.offset), fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined })),
    })
    .map(({ conditions, limit, offset }): [ScopeSpec, ScopeSpec] => [a, { ...a, conditions, limit, offset }]),
)

describe('compiled-query templates', () => {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  afterAll(() => db.destroy())

  it('a template filled with another scope’s values equals a fresh compile of that scope', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(scopeSpec, scopeSpec), nearPair), ([a, b]) => {
        const shared = freshModel()
        compiled(shared, a, db) // may leave a template b's shape reuses
        const reused = compiled(shared, b, db)
        const fresh = compiled(freshModel(), b, db)
        expect(reused).toEqual(fresh)
        // And a's own query is not changed by b's.
        expect(compiled(shared, a, db)).toEqual(compiled(freshModel(), a, db))
      }),
      RUNS,
    )
  })

  it('the same shape with other values shares one template and fills only the values', () => {
    const shared = freshModel()
    const one = compiled(
      shared,
      { conditions: [{ col: 'age', op: '>', value: 1 }], limit: 2, offset: undefined, fn: 'count' },
      db,
    )
    const two = compiled(
      shared,
      { conditions: [{ col: 'age', op: '>', value: 7 }], limit: 5, offset: undefined, fn: 'count' },
      db,
    )
    expect(two.sql).toBe(one.sql)
    expect(one.parameters).not.toEqual(two.parameters)
  })
})

describe('compiled-query templates across shards', () => {
  // Two SQLite shards whose Kysely logs every query it runs: what a cross-shard helper sent.
  const sent: Array<{ sql: string; parameters: readonly unknown[] }> = []
  const shardDb = (): Kysely<any> =>
    new Kysely<any>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
      log: (event) => {
        if (event.level === 'query') sent.push({ sql: event.query.sql, parameters: event.query.parameters })
      },
    })
  const shards = new ShardManager({ a: shardDb(), b: shardDb() })
  beforeAll(async () => {
    for (const name of shards.names) {
      await sql`create table people (id integer primary key, name text, age integer, admin integer)`.execute(
        shards.database(name),
      )
    }
  })
  afterAll(() => shards.close())

  /** What the cross-shard helper of `spec` sent to its shards (count without a page, else rows). */
  async function sentBy(model: ReturnType<typeof freshModel>, spec: ScopeSpec) {
    shards.attach(model)
    let scope = model.acrossShards()
    for (const c of spec.conditions) scope = scope.where(c.col, c.op as never, c.value as never)
    sent.length = 0
    if (spec.limit === undefined && spec.offset === undefined) await scope.asyncCount()
    else {
      scope = scope.orderBy('id')
      if (spec.limit !== undefined) scope = scope.limit(spec.limit)
      if (spec.offset !== undefined) scope = scope.offset(spec.offset)
      await scope.asyncAll()
    }
    expect(sent).toHaveLength(2)
    return sent.splice(0)
  }

  it('a shard template filled with another scope’s values equals a fresh compile of that scope', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.tuple(scopeSpec, scopeSpec), nearPair), async ([a, b]) => {
        const shared = freshModel()
        await sentBy(shared, a)
        const reused = await sentBy(shared, b)
        const fresh = await sentBy(freshModel(), b)
        expect(reused).toEqual(fresh)
        expect(await sentBy(shared, a)).toEqual(await sentBy(freshModel(), a))
      }),
      { numRuns: 100 },
    )
  })

  it('a model scope and a cross-shard scope of one shape keep their own templates', async () => {
    const model = freshModel()
    const spec: ScopeSpec = {
      conditions: [{ col: 'age', op: '>', value: 1 }],
      limit: 3,
      offset: 2,
      fn: 'count',
    }
    const local = compiled(model, spec, shards.database('a'))
    const [acrossShards] = await sentBy(model, spec)
    // Across shards each shard sends its first offset + limit rows; the offset applies to the merge.
    expect(acrossShards?.parameters).toContain(5)
    expect(local.parameters).toEqual(expect.arrayContaining([3, 2]))
    expect(acrossShards?.sql).not.toBe(local.sql)
  })
})
