// `Model.use(shards)`: a ShardManager given where a Kysely goes routes the model through it,
// and binding anything else later releases it.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect, WithSchemaPlugin } from 'kysely'
import {
  Column,
  isInvalidColumnError,
  isInvalidOperatorError,
  isInvalidQueryError,
  isModelWithoutDatabaseError,
  Model,
  ShardManager,
  Table,
} from 'tributary'
import * as connection from '../../../src/model/connection'

async function memoryDb(rows: number): Promise<Kysely<unknown>> {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  await sql`create table items (id integer primary key, label text not null)`.execute(db)
  for (let i = 1; i <= rows; i++) await sql`insert into items (label) values (${`r${i}`})`.execute(db)
  return db
}

function defineItem() {
  @Table('items')
  class Item extends Model {
    @Column({ primary: true }) id!: number
    @Column() label!: string
  }
  return Item
}

async function errorOf(work: PromiseLike<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

describe('Model.use(shards)', () => {
  const managers: ShardManager<unknown>[] = []
  const dbs: Kysely<unknown>[] = []
  const shardsOf = async (...rows: number[]): Promise<ShardManager<unknown>> => {
    const made = await Promise.all(rows.map(memoryDb))
    const manager = new ShardManager(Object.fromEntries(made.map((db, i) => [`s${i}`, db])))
    managers.push(manager)
    return manager
  }
  const own = async (rows: number): Promise<Kysely<unknown>> => {
    const db = await memoryDb(rows)
    dbs.push(db)
    return db
  }
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()))
    await Promise.all(dbs.splice(0).map((db) => db.destroy()))
  })

  it('routes the model: withShard picks a shard, acrossShards merges them', async () => {
    const Item = defineItem()
    const shards = await shardsOf(1, 2, 3)
    Item.use(shards)
    expect(await shards.withShard('s1', () => Item.asyncCount())).toBe(2)
    expect(await Item.acrossShards().asyncCount()).toBe(6)
  })

  it('outside withShard, without a default shard, says how to pick one', async () => {
    const Item = defineItem()
    Item.use(await shardsOf(1, 2))
    const error = await errorOf(() => Item.asyncCount())
    expect(isModelWithoutDatabaseError(error)).toBe(true)
    expect(String(error)).toMatch(
      /Item is routed by a ShardManager with no default shard: run it inside withShard/,
    )
  })

  it('replaces the model’s own database, and a later use(db) or use(null) releases it', async () => {
    const Item = defineItem()
    const db = await own(7)
    Item.use(db)
    const shards = await shardsOf(1, 2)
    Item.use(shards)
    expect(await Item.acrossShards().asyncCount()).toBe(3)
    await expect(Item.asyncCount()).rejects.toThrow(/routed by a ShardManager/)

    Item.use(db)
    expect(await Item.asyncCount()).toBe(7)
    expect(await shards.withShard('s0', () => Item.asyncCount())).toBe(7) // no longer routed
    expect(isInvalidQueryError(await errorOf(() => Item.acrossShards()))).toBe(true)

    Item.use(shards)
    Item.use(null)
    const error = await errorOf(() => Item.asyncCount())
    expect(String(error)).toMatch(/Item has no database: call Item.use\(db\)/)
  })

  it('moves the model from one manager to another, and close() releases it', async () => {
    const Item = defineItem()
    const first = await shardsOf(1, 1)
    const second = await shardsOf(5, 5, 5)
    Item.use(first)
    Item.use(second)
    expect(await Item.acrossShards().asyncCount()).toBe(15)
    expect(String(await first.withShard('s0', () => errorOf(() => Item.asyncCount())))).toMatch(/routed by/)
    second.attach(Item) // attaching again changes nothing
    expect(await Item.acrossShards().asyncCount()).toBe(15)
    first.attach(Item) // attach, like use, moves it
    expect(await Item.acrossShards().asyncCount()).toBe(2)
    await first.close()
    expect(String(await errorOf(() => Item.asyncCount()))).toMatch(/Item has no database/)
  })

  it('uses a default shard outside withShard, and ignores model options meant for a Kysely', async () => {
    const Item = defineItem()
    const made = await Promise.all([memoryDb(2), memoryDb(4)])
    const shards = new ShardManager({ a: made[0], b: made[1] }, { defaultShard: 'b' })
    managers.push(shards)
    Item.use(shards, { concurrency: 3 })
    expect(await Item.asyncCount()).toBe(4)
    expect(await shards.withShard('a', () => Item.asyncCount())).toBe(2)
  })

  it('a cross-shard write marks the model’s cached reads stale on every shard', async () => {
    const Item = defineItem()
    const shards = await shardsOf(2, 3)
    Item.use(shards)
    const cached = Item.cached({ ttl: 60 })
    expect(await shards.withShard('s1', () => cached.asyncCount())).toBe(3)
    expect((await Item.acrossShards().where({ label: 'r1' }).asyncDelete()).total).toBe(2)
    expect(await shards.withShard('s1', () => cached.asyncCount())).toBe(2)
  })

  it('a cross-shard write runs on a shard with plugins as compiled with them', async () => {
    const Item = defineItem()
    const [plain, other] = await Promise.all([own(2), own(3)])
    const plugged = other.withPlugin(new WithSchemaPlugin('main'))
    const shards = new ShardManager({ a: plain, b: plugged }, { ownsDatabases: false })
    managers.push(shards)
    Item.use(shards)
    const run = jest.spyOn(connection, 'executeWith')
    try {
      expect((await Item.acrossShards().where({ label: 'r1' }).asyncUpdate({ label: 'x' })).total).toBe(2)
      expect(run.mock.calls.map(([db, query]) => [db, query.sql.includes('"main"."items"')])).toEqual([
        [plain, false],
        [plugged, true],
      ])
    } finally {
      run.mockRestore()
    }
  })

  it('a cross-shard scope refuses what a model scope refuses, with the same errors', async () => {
    const Item = defineItem()
    Item.use(await shardsOf(1, 1))
    const refusals: Array<[string, (scope: any) => unknown, (e: unknown) => boolean]> = [
      ['operator', (s) => s.where('id', '= 1 or 1=1 --', 1), isInvalidOperatorError],
      ['column', (s) => s.where({ 'id; drop': 1 }), isInvalidColumnError],
      ['in without an array', (s) => s.where('id', 'in', '1, 2'), isInvalidQueryError],
      ['is with a number', (s) => s.where('id', 'is', 1), isInvalidQueryError],
      ['where(null)', (s) => s.where(null), isInvalidQueryError],
      ['direction', (s) => s.orderBy('id', 'sideways'), isInvalidOperatorError],
      ['limit', (s) => s.limit(-1), isInvalidQueryError],
    ]
    for (const [what, refuse, guard] of refusals) {
      const model = await errorOf(() => refuse(Item.all()))
      const across = await errorOf(() => refuse(Item.acrossShards()))
      expect([what, guard(model), guard(across)]).toEqual([what, true, true])
      expect((across as Error).message).toBe((model as Error).message)
    }
    expect(
      await Item.acrossShards()
        .where('label', 'LIKE' as never, 'r%')
        .asyncCount(),
    ).toBe(2)
  })

  it('routes every model when given to Model itself', async () => {
    const Item = defineItem()
    const shards = await shardsOf(2, 3)
    Model.use(shards)
    try {
      expect(await Item.acrossShards().asyncCount()).toBe(5)
      expect(await shards.withShard('s1', () => Item.asyncCount())).toBe(3)
    } finally {
      Model.use(null)
    }
    expect(isInvalidQueryError(await errorOf(() => Item.acrossShards()))).toBe(true)
  })
})
