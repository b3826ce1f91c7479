// The example of the shards issue, run as written: three shards (SQLite files, or PostgreSQL
// databases), the User model of the models issue, `User.use(shards)`, one shard, a per-shard
// Map of AsyncResults, and merged answers.
import { type Kysely } from 'kysely'
import {
  AsyncResult,
  Column,
  Model,
  ShardedAsyncExecutor,
  ShardManager,
  Table,
  withDatabase,
} from 'tributary'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'
import { createSchema } from '../model/fixtures'

function defineUser() {
  @Table('users')
  class User extends Model {
    @Column({ primary: true }) id!: number
    @Column() email!: string
    @Column() active!: boolean
    @Column({ type: Number }) score!: number | null
    @Column({ name: 'updated_at', type: Date }) updatedAt!: Date | null
  }
  return User
}

/** Rows per shard: sizes differ a lot, so the mean of means is far from the exact mean. */
const DATA: Record<string, Array<{ active: boolean; score: number | null }>> = {
  us_east: Array.from({ length: 30 }, (_, i) => ({ active: i % 3 !== 0, score: 10 + i })),
  us_west: Array.from({ length: 4 }, (_, i) => ({ active: true, score: i === 0 ? null : 900 + i })),
  eu: Array.from({ length: 11 }, (_, i) => ({ active: i % 2 === 0, score: 100 * i })),
}

describe.each(testDialects())('the shards issue example on %s', (dialect) => {
  const User = defineUser()
  const databases: TestDatabase[] = []
  let shards: ShardManager<any>

  beforeAll(async () => {
    const names = Object.keys(DATA)
    databases.push(...(await Promise.all(names.map(() => createTestDatabase(dialect, 'trib_issue6')))))
    await Promise.all(
      databases.map(async (d, i) => {
        await createSchema(d.db, dialect)
        const rows = DATA[names[i] as string] ?? []
        // Seeded through the model itself, on each database.
        await withDatabase(d.db, () =>
          User.asyncInsert(rows.map((r, j) => ({ ...r, email: `${names[i]}-${j}@example.com` }))),
        )
      }),
    )
  })

  afterAll(async () => {
    await shards?.close()
    await Promise.all(databases.map((d) => d.drop()))
  })

  it('runs as written and merges exactly', async () => {
    const [dbA, dbB, dbC] = databases.map((d) => d.db) as [Kysely<any>, Kysely<any>, Kysely<any>]

    shards = new ShardManager({ us_east: dbA, us_west: dbB, eu: dbC }, { concurrency: 8 })
    User.use(shards)
    const eu = await shards.withShard('eu', () => User.asyncCount()) // one shard
    const perShard = await ShardedAsyncExecutor.executeAcrossShards(['us_east', 'us_west', 'eu'], () =>
      User.where({ active: true }).asyncCount(),
    ) // Map<shard, AsyncResult<number>>
    const total = await User.acrossShards().where({ active: true }).asyncCount() // merged
    const avg = await User.acrossShards().asyncAvg('score') // Σsum / Σcount

    const typed: Map<string, AsyncResult<number>> = perShard
    expect(eu).toBe(DATA.eu?.length)
    expect([...typed.keys()]).toEqual(['us_east', 'us_west', 'eu'])
    const activeOf = (shard: string) => (DATA[shard] ?? []).filter((r) => r.active).length
    for (const [shard, result] of typed) {
      expect(result).toBeInstanceOf(AsyncResult)
      expect(await result).toBe(activeOf(shard))
    }
    expect(await perShard.sum()).toBe(total)
    expect(await perShard.collect()).toEqual(new Map(Object.keys(DATA).map((s) => [s, activeOf(s)])))
    expect(total).toBe(Object.keys(DATA).reduce((n, s) => n + activeOf(s), 0))

    const scores = Object.values(DATA)
      .flat()
      .flatMap((r) => (r.score === null ? [] : [r.score]))
    expect(avg).toBe(scores.reduce((a, b) => a + b, 0) / scores.length)
    const means = await Promise.all(
      Object.keys(DATA).map((s) => shards.withShard(s, () => User.asyncAvg('score'))),
    )
    const meanOfMeans = means.reduce((a: number, b) => a + (b ?? 0), 0) / means.length
    expect(Math.abs((avg ?? 0) - meanOfMeans)).toBeGreaterThan(100) // the wrong answer is far off
  })
})
