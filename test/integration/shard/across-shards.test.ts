import { sql, type Kysely } from 'kysely'
import { mergeAvg, ShardManager, toSqlNumber } from 'tributary'
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
      if (dialect === 'postgres') {
        expect(await across.asyncAvg('amount')).toBe(await single.asyncAvg('amount'))
      } else {
        // SQLite's avg() of large integers rounds twice (a float sum, then the division); the
        // merged avg rounds once, so compare it with the exact Σsum / count of the oracle.
        const sum = await single.asyncSum('amount')
        const count = await single.where('amount', 'is not', null).asyncCount()
        expect(await across.asyncAvg('amount')).toBe(mergeAvg([{ sum, count }]))
      }
      expect(await across.asyncMin('score')).toBe(await single.asyncMin('score'))
      expect(await across.asyncMax('label')).toBe(await single.asyncMax('label'))
      expect(await across.asyncMin('happenedAt')).toEqual(await single.asyncMin('happenedAt'))
      expect(await across.asyncExists()).toBe(await single.asyncExists())
    }
    expect(typeof (await Event.acrossShards().asyncSum('amount'))).toBe('bigint')
  })

  it('empty matches: sum and avg are null, count 0, exists false', async () => {
    const none = Event.acrossShards().where('score', '>', 10_000)
    expect(await none.asyncCount()).toBe(0)
    expect(await none.asyncSum('score')).toBeNull()
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
    const all = await Event.acrossShards().asyncPluck('id')
    expect(all.length).toBe(ROWS)
    expect(new Set(all).size).toBe(ROWS)
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
    const byUser = await Event.acrossShards().groupBy('userId', 'category').asyncAggregate({ n: 'count' })
    const expected = Number(
      await oracleScalar(sql`select count(*) as v from (select 1 from events group by user_id, category) t`),
    )
    expect(byUser.length).toBe(expected)
  })

  it('compiles each query once per fan-out, not once per shard', async () => {
    const spy = jest.spyOn(Object.getPrototypeOf(fixture.shards.s0 as Kysely<any>), 'selectFrom')
    try {
      await Event.acrossShards().where({ category: 'delta' }).asyncCount()
      expect(spy).toHaveBeenCalledTimes(1)
    } finally {
      spy.mockRestore()
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
