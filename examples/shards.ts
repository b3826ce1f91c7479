// Shards on SQLite files (no server needed): npx ts-node --transpile-only examples/shards.ts
// (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import {
  AsyncShardResolver,
  Column,
  hashShardResolver,
  isShardError,
  Model,
  ShardedAsyncExecutor,
  ShardManager,
  Table,
} from '../src'

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() region!: string
  @Column() active!: boolean
  @Column() score!: number
  @Column({ name: 'updated_at', type: Date }) updatedAt!: Date | null
}

const SHARDS = ['us_east', 'us_west', 'eu', 'apac']

function open(file: string): Kysely<any> {
  return new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) })
}

/** A few thousand users with uneven regions and scores, so the shards differ in size and mean. */
function users(): Array<Omit<User, 'updatedAt'>> {
  return Array.from({ length: 4_000 }, (_, i) => {
    const region = i % 10 < 6 ? 'us' : i % 10 < 9 ? 'eu' : 'apac'
    return { id: i + 1, region, active: i % 4 !== 0, score: region === 'us' ? i % 50 : 50 + (i % 50) }
  })
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-shards-'))
  const shards = new ShardManager(
    Object.fromEntries(SHARDS.map((name) => [name, open(join(dir, `${name}.sqlite`))])),
    { concurrency: 4 },
  )
  try {
    await Promise.all(
      SHARDS.map((name) =>
        sql`create table users (id integer primary key, region text not null, active integer not null,
          score integer not null, updated_at text)`.execute(shards.database(name)),
      ),
    )
    User.use(shards) // every User helper now runs on the shard chosen by withShard

    // Route each row: eu and apac users live in their region, us users are spread over two
    // shards by rendezvous hashing of the id (stable across processes and releases).
    const us = hashShardResolver(['us_east', 'us_west'])
    const shardOf = (u: { id: number; region: string }) => (u.region === 'us' ? us.resolve(u.id) : u.region)
    const rows = users()
    for (const name of SHARDS) {
      await shards.withShard(name, () => User.asyncInsert(rows.filter((u) => shardOf(u) === name)))
    }

    // One shard.
    console.log('users on eu:', await shards.withShard('eu', () => User.asyncCount()))

    // Every shard at once: a Map of shard name to AsyncResult, with helpers to sum or collect.
    const perShard = ShardedAsyncExecutor.executeAcrossShards(SHARDS, () =>
      User.where({ active: true }).asyncCount(),
    )
    console.log('active per shard:', Object.fromEntries(await perShard.collect()))
    console.log('active in all (sum):', await perShard.sum())

    // Merged answers.
    const all = User.acrossShards()
    console.log('active (merged count):', await all.where({ active: true }).asyncCount())
    console.log('score sum:', await all.asyncSum('score'), 'min:', await all.asyncMin('score'))
    console.log('distinct scores:', await all.asyncCountDistinct('score'))
    console.log('top 3 ids:', await all.orderBy('score', 'desc').orderBy('id').limit(3).asyncPluck('id'))
    console.log(
      'per region:',
      await all.groupBy('region').asyncAggregate({ users: 'count', mean: { avg: 'score' } }),
    )
    // Groups merged first, then having, order (by an aggregate; ties by the group columns) and page.
    console.log(
      'busiest region over 500 users:',
      await all
        .groupBy('region')
        .having('users', '>', 500)
        .orderBy('users', 'desc')
        .limit(1)
        .asyncAggregate({ users: 'count' }),
    )
    // A read that pins the shard key asks only the shard its resolver names.
    const eu = { resolve: (region: string | number | bigint) => String(region) }
    const routed = User.acrossShards({ shardKey: { column: 'region', resolver: eu } })
    console.log(
      'an eu user (one shard asked):',
      (await routed.orderBy('id').asyncFindBy({ region: 'eu' }))?.id,
    )
    console.log(
      'find 7:',
      (await all.asyncFind(7))?.region,
      '- pick on no row:',
      await all.where('id', '<', 0).asyncPick('id'),
    )

    // The exact average (Σsum / Σcount) beside the wrong one (the mean of the shards' means).
    const exact = await all.asyncAvg('score')
    const means = await Promise.all(SHARDS.map((s) => shards.withShard(s, () => User.asyncAvg('score'))))
    const meanOfMeans = means.reduce((a: number, m) => a + (m ?? 0), 0) / means.length
    console.log(`average score: exact ${exact?.toFixed(3)}, mean of means ${meanOfMeans.toFixed(3)} (wrong)`)

    // Writes report rows per shard. There is no cross-shard atomicity.
    const touched = await all.where({ active: false }).asyncTouchAll()
    console.log('touched:', touched.total, Object.fromEntries(touched.byShard))

    // A shard that cannot be reached: 'fail' (the default) rejects with every failed shard,
    // 'partial' answers from the healthy ones and names the rest.
    const missing = join(dir, 'offline', 'gone.sqlite')
    const degraded = new ShardManager(
      {
        ...Object.fromEntries(SHARDS.map((s) => [s, shards.database(s)])),
        offline: new Kysely<any>({
          dialect: new SqliteDialect({
            database: async () => new BetterSqlite3(missing, { fileMustExist: true }),
          }),
        }),
      },
      { ownsDatabases: false },
    )
    const failed = await User.acrossShards({ manager: degraded })
      .asyncCount()
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    console.log('fail:', isShardError(failed) ? failed.message : failed)
    const partial = await User.acrossShards({ manager: degraded, onShardError: 'partial' }).asyncCount()
    console.log(
      'partial:',
      partial.value,
      'failed:',
      partial.failedShards.map((f) => f.shard),
    )
    await degraded.database('offline').destroy()
    await degraded.close()

    // A directory table says where each tenant lives; answers are cached for the ttl.
    const central = open(join(dir, 'directory.sqlite'))
    await sql`create table shard_directory (key text primary key, shard text not null)`.execute(central)
    await sql`insert into shard_directory values ('acme', 'eu'), ('globex', 'us_west')`.execute(central)
    const directory = AsyncShardResolver.fromDirectory<string>(central, { ttl: 30 })
    const home = await directory.resolveAsync('acme')
    console.log(
      'acme lives on',
      home,
      '- users there:',
      await shards.withShard(home, () => User.asyncCount()),
    )
    await central.destroy()
  } finally {
    await shards.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
