import { sql, type Kysely } from 'kysely'
import { isShardMergeLimitError, ShardManager, toSqlNumber } from 'tributary'
import * as connection from '../../../src/model/connection'
import { testDialects } from '../../support/services'
import { createFixture, defineEvent, ROWS, SHARDS, type Fixture } from './dataset'

describe.each(testDialects())('acrossShards on %s: merged answers equal the single database', (dialect) => {
  const Event = defineEvent()
  let fixture: Fixture
  let shards: ShardManager<any>

  beforeAll(async () => {
    fixture = await createFixture(dialect)
    Event.use(fixture.oracle) // the oracle: the whole data set in one database
    shards = new ShardManager(fixture.shards, { ownsDatabases: false }).attach(Event)
  }, 60_000)

  afterAll(async () => {
    await shards?.close()
    Event.use(null)
    await fixture?.drop()
  })

  const oracleScalar = async (query: ReturnType<typeof sql>): Promise<unknown> => {
    const { rows } = await query.execute(fixture.oracle)
    return (rows[0] as { v: unknown }).v
  }

  it('splits the data set unevenly across 4 shards', async () => {
    const perShard = await Promise.all(SHARDS.map((s) => shards.withShard(s, () => Event.asyncCount())))
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(ROWS)
    expect(Math.max(...perShard) - Math.min(...perShard)).toBeGreaterThan(100)
  })

  it('count, sum (past 2^53), avg, min, max and exists', async () => {
    const scopes = [
      [Event.acrossShards(), Event.all()],
      [Event.acrossShards().where({ category: 'beta' }), Event.where({ category: 'beta' })],
      [Event.acrossShards().where('score', '>', 500), Event.where('score', '>', 500)],
      [Event.acrossShards().where({ category: null }), Event.where({ category: null })],
    ] as const
    for (const [across, single] of scopes) {
      expect(await across.asyncCount()).toBe(await single.asyncCount())
      expect(await across.asyncSum('score')).toEqual(await single.asyncSum('score'))
      expect(await across.asyncSum('amount')).toEqual(await single.asyncSum('amount'))
      expect(await across.asyncAvg('score')).toBe(await single.asyncAvg('score'))
      // Rounded as the database rounds its own avg: PostgreSQL's numeric division, SQLite's
      // double of the exact sum divided by the count.
      expect(await across.asyncAvg('amount')).toBe(await single.asyncAvg('amount'))
      for (const column of ['score', 'amount', 'label', 'category', 'happenedAt', 'userId'] as const) {
        expect(await across.asyncMin(column)).toEqual(await single.asyncMin(column))
        expect(await across.asyncMax(column)).toEqual(await single.asyncMax(column))
      }
      expect(await across.asyncExists()).toBe(await single.asyncExists())
    }
    expect(typeof (await Event.acrossShards().asyncSum('amount'))).toBe('bigint')
  })

  it('sum is 0 where SQL sum is null (no rows, or only null values), as the model helper', async () => {
    const cases = [
      ['score > 10000', Event.acrossShards().where('score', '>', 10_000), sql`score > 10000`],
      ['score is null', Event.acrossShards().where({ score: null }), sql`score is null`],
      ['one user', Event.acrossShards().where({ userId: 999 }), sql`user_id = 999`],
    ] as const
    for (const [, across, condition] of cases) {
      const expected = await oracleScalar(sql`select sum(score) as v from events where ${condition}`)
      expect(await across.asyncSum('score')).toEqual(expected === null ? 0 : toSqlNumber(expected))
    }
    // The one user lives on one shard: the others have no rows, and the sum is still that shard's.
    const owner = await Promise.all(
      SHARDS.map((s) => shards.withShard(s, () => Event.where({ userId: 999 }).asyncExists())),
    )
    expect(owner.filter(Boolean)).toHaveLength(1)
  })

  it('empty matches: sum 0, avg null, count 0, exists false', async () => {
    const none = Event.acrossShards().where('score', '>', 10_000)
    expect(await none.asyncCount()).toBe(0)
    expect(await none.asyncSum('score')).toBe(0)
    expect(await Event.where('score', '>', 10_000).asyncSum('score')).toBe(0)
    expect(await none.asyncAvg('score')).toBeNull()
    expect(await none.asyncMax('score')).toBeNull()
    expect(await none.asyncExists()).toBe(false)
  })

  it('countDistinct', async () => {
    for (const column of ['label', 'user_id', 'category', 'score'] as const) {
      const expected = Number(
        await oracleScalar(sql`select count(distinct ${sql.ref(column)}) as v from events`),
      )
      const property = column === 'user_id' ? 'userId' : column
      expect(await Event.acrossShards().asyncCountDistinct(property)).toBe(expected)
    }
    const labels = Number(
      await oracleScalar(sql`select count(distinct label) as v from events where score < 100`),
    )
    expect(await Event.acrossShards().where('score', '<', 100).asyncCountDistinct('label')).toBe(labels)
    const days = Number(await oracleScalar(sql`select count(distinct happened_at) as v from events`))
    expect(await Event.acrossShards().asyncCountDistinct('happenedAt')).toBe(days)
    // The memory bound: past maxDistinct values the merge stops with a typed error.
    const bounded = Event.acrossShards({ maxDistinct: 1_000 }).asyncCountDistinct('label')
    expect(
      isShardMergeLimitError(
        await bounded.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    ).toBe(true)
  })

  it('pluck and all merged in order, with limit and offset (nulls where the database puts them)', async () => {
    const pages: Array<['asc' | 'desc', number | undefined, number | undefined]> = [
      ['asc', 100, 0],
      ['desc', 1_000, 12_345],
      ['asc', 500, 89_800],
      ['desc', 50, 9_990],
      ['asc', undefined, 99_000],
    ]
    for (const [direction, limit, offset] of pages) {
      let across = Event.acrossShards().orderBy('score', direction).orderBy('id')
      let single = Event.orderBy('score', direction).orderBy('id')
      if (limit !== undefined) {
        across = across.limit(limit)
        single = single.limit(limit)
      }
      if (offset !== undefined) {
        across = across.offset(offset)
        single = single.offset(offset)
      }
      expect(await across.asyncPluck('id')).toEqual(await single.asyncPluck('id'))
      if ((offset ?? 0) < 20_000) expect(await across.asyncAll()).toEqual(await single.asyncAll())
    }
    const labels = Event.acrossShards().where({ category: 'gamma' }).orderBy('label', 'desc').orderBy('id')
    expect(await labels.asyncPluck('label')).toEqual(
      await Event.where({ category: 'gamma' }).orderBy('label', 'desc').orderBy('id').asyncPluck('label'),
    )
    // An eighth of the categories are null: PostgreSQL sorts them last ascending, SQLite first.
    // Each category page straddles the edge between the nulls and the values.
    const nulls = fixture.rows.filter((r) => r.category === null).length
    const nullsFirst = (direction: 'asc' | 'desc') => (direction === 'asc') === (dialect === 'sqlite')
    const edge = (direction: 'asc' | 'desc') => (nullsFirst(direction) ? nulls : ROWS - nulls) - 100
    const orders: Array<[string, 'asc' | 'desc', number, number]> = [
      ['happenedAt', 'desc', 300, 40_000],
      ['category', 'asc', 200, edge('asc')],
      ['category', 'desc', 200, edge('desc')],
      ['amount', 'desc', 100, 500],
      ['userId', 'asc', 1_000, 33_000], // a skewed key: long runs of equal values
    ]
    for (const [column, direction, limit, offset] of orders) {
      const across = Event.acrossShards()
        .orderBy(column as 'id', direction)
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
      const single = Event.orderBy(column as 'id', direction)
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
      const page = await across.asyncAll()
      expect(page).toEqual(await single.asyncAll())
      if (column === 'category') {
        expect(page.some((r) => r.category === null) && page.some((r) => r.category !== null)).toBe(true)
      }
    }
  })

  it('without orderBy, pluck and all concatenate every shard’s rows', async () => {
    const all = await Event.acrossShards().asyncPluck('id')
    expect(all.length).toBe(ROWS)
    expect(new Set(all).size).toBe(ROWS)
    const sorted = (values: Array<string | null>) => [...values].sort()
    const across = await Event.acrossShards().where('score', '>=', 700).asyncPluck('label')
    const single = await Event.where('score', '>=', 700).asyncPluck('label')
    expect(sorted(across)).toEqual(sorted(single)) // the same multiset, duplicates included
    const rows = await Event.acrossShards().where({ userId: 3 }).asyncAll()
    const expected = await Event.where({ userId: 3 }).orderBy('id').asyncAll()
    expect([...rows].sort((a, b) => a.id - b.id)).toEqual(expected)
    const page = await Event.acrossShards().limit(250).offset(10).asyncPluck('id')
    expect(page).toEqual(all.slice(10, 260)) // shard order, then offset and limit
  })

  it('groupBy merges each group with the same rules', async () => {
    const merged = await Event.acrossShards()
      .where('score', '<', 700)
      .groupBy('category')
      .asyncAggregate({
        n: 'count',
        scored: { count: 'score' },
        total: { sum: 'amount' },
        mean: { avg: 'score' },
        low: { min: 'score' },
        high: { max: 'label' },
      })
    const { rows } = await sql<
      Record<string, unknown>
    >`select category, count(*) as n, count(score) as scored,
      sum(amount) as total, avg(score) as mean, min(score) as low, max(label) as high
      from events where score < 700 group by category order by category ${sql.raw(
        dialect === 'postgres' ? 'nulls last' : 'nulls first',
      )}`.execute(fixture.oracle)
    expect(merged).toEqual(
      rows.map((r) => ({
        category: r.category,
        n: Number(r.n),
        scored: Number(r.scored),
        total: toSqlNumber(r.total),
        mean: Number(r.mean),
        low: Number(r.low),
        high: r.high,
      })),
    )
    const nulls = sql.raw(dialect === 'postgres' ? 'nulls last' : 'nulls first')
    const byUser = await Event.acrossShards()
      .groupBy('userId', 'category')
      .asyncAggregate({ n: 'count', total: { sum: 'score' }, low: { min: 'label' } })
    const { rows: userRows } = await sql<Record<string, unknown>>`select user_id, category,
      count(*) as n, sum(score) as total, min(label) as low from events
      group by user_id, category order by user_id, category ${nulls}`.execute(fixture.oracle)
    expect(byUser).toEqual(
      userRows.map((r) => ({
        userId: Number(r.user_id),
        category: r.category,
        n: Number(r.n),
        total: r.total === null ? 0 : toSqlNumber(r.total),
        low: r.low,
      })),
    )
    const none = await Event.acrossShards().where('score', '>', 10_000).groupBy('label').asyncAggregate({
      n: 'count',
    })
    expect(none).toEqual([])
  })

  it('compiles each query once per fan-out and runs that one query on every pool', async () => {
    const build = jest.spyOn(Object.getPrototypeOf(fixture.shards.s0 as Kysely<any>), 'selectFrom')
    const run = jest.spyOn(connection, 'executeWith')
    const ranQueries = () => new Set(run.mock.calls.map((call) => call[1]))
    try {
      // A shape no other test uses: compiled once for the four shards.
      await Event.acrossShards().where('label', 'like', 'l12%').where({ category: 'delta' }).asyncCount()
      expect(build).toHaveBeenCalledTimes(1)
      expect(run.mock.calls.map(([db]) => db)).toEqual(SHARDS.map((s) => fixture.shards[s]))
      expect(ranQueries().size).toBe(1) // the same CompiledQuery object on all four pools
      expect([...ranQueries()][0]?.parameters).toEqual(['l12%', 'delta'])

      // The same shape with other values: no compile at all, the values filled in.
      const expected = await Event.where('label', 'like', 'l3%').where({ category: 'beta' }).asyncCount()
      build.mockClear()
      run.mockClear()
      const count = await Event.acrossShards()
        .where('label', 'like', 'l3%')
        .where({ category: 'beta' })
        .asyncCount()
      expect(count).toBe(expected)
      expect(build).not.toHaveBeenCalled()
      expect(ranQueries().size).toBe(1)
      expect([...ranQueries()][0]?.parameters).toEqual(['l3%', 'beta'])

      // A page: each shard is asked for limit + offset rows, in one query for all four.
      run.mockClear()
      await Event.acrossShards().orderBy('score').orderBy('id').limit(30).offset(70).asyncPluck('id')
      expect(run).toHaveBeenCalledTimes(SHARDS.length)
      expect(ranQueries().size).toBe(1)
      expect([...ranQueries()][0]?.parameters).toEqual([100])
    } finally {
      build.mockRestore()
      run.mockRestore()
    }
  })

  it('writes report per-shard row counts', async () => {
    const beforeTotal = await Event.acrossShards().where({ label: 'l4999' }).asyncCount()
    const result = await Event.acrossShards().where({ label: 'l0' }).asyncUpdate({ category: 'zeta' })
    expect(result.total).toBe(await Event.where({ label: 'l0' }).asyncCount())
    expect([...result.byShard.keys()]).toEqual(SHARDS)
    expect(result.failedShards).toEqual([])
    expect(await Event.acrossShards().where({ category: 'zeta' }).asyncCount()).toBe(result.total)
    const touched = await Event.acrossShards().where({ category: 'zeta' }).asyncTouchAll(['happenedAt'])
    expect(touched.total).toBe(result.total)
    const deleted = await Event.acrossShards().where({ category: 'zeta' }).asyncDelete()
    expect(deleted.total).toBe(result.total)
    expect(await Event.acrossShards().where({ category: 'zeta' }).asyncExists()).toBe(false)
    expect(await Event.acrossShards().where({ label: 'l4999' }).asyncCount()).toBe(beforeTotal)
  })
})
