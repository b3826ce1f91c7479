// Streamed ordered merges and batched lookups, on SQLite files (no server needed):
// npx ts-node --transpile-only examples/shard-stream.ts
// (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql, type LogEvent } from 'kysely'
import { Column, Model, ShardManager, Table } from '../src'

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() email!: string
  @Column() score!: number
}

const SHARDS = ['s0', 's1', 's2', 's3']
let selects = 0
const countSelects = (event: LogEvent): void => {
  if (event.query.sql.startsWith('select')) selects++
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-stream-'))
  const open = (name: string): Kysely<any> =>
    new Kysely<any>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(join(dir, `${name}.sqlite`)) }),
      log: countSelects,
    })
  const shards = new ShardManager(Object.fromEntries(SHARDS.map((name) => [name, open(name)])))
  try {
    for (const [i, name] of SHARDS.entries()) {
      const db = shards.database(name)
      await sql`create table users (id integer primary key, email text not null, score integer not null)`.execute(
        db,
      )
      const rows = Array.from({ length: 2_500 }, (_, k) => {
        const id = k * SHARDS.length + i + 1
        return { id, email: `u${id}@example.com`, score: (id * 37) % 1_000 }
      })
      for (let k = 0; k < rows.length; k += 500)
        await db
          .insertInto('users')
          .values(rows.slice(k, k + 500))
          .execute()
    }
    User.use(shards)

    // 10,000 rows merged in order from 4 shards, 200 rows per shard in memory at a time.
    let n = 0
    let previous = Number.POSITIVE_INFINITY
    for await (const user of User.acrossShards()
      .orderBy('score', 'desc')
      .orderBy('id')
      .stream({ batchSize: 200 })) {
      if (user.score > previous) throw new Error('out of order')
      previous = user.score
      if (n++ < 3) console.log('top:', user.id, user.score)
    }
    console.log(`streamed ${n} rows in score order`)

    // Breaking out closes every shard's reader.
    for await (const user of User.acrossShards().orderBy('id').stream()) {
      console.log('first id across shards:', user.id)
      break
    }

    // 100 lookups started together on one shard: one `where id in (…)` query.
    selects = 0
    const found = await shards.withShard('s1', () =>
      Promise.all(Array.from({ length: 100 }, (_, k) => User.asyncFind(k * SHARDS.length + 2))),
    )
    console.log(`100 asyncFind: ${found.filter(Boolean).length} found with ${selects} query`)
    selects = 0
    await shards.withShard('s1', () =>
      Promise.all([2, 6, 10].map((id) => User.asyncFind(id, { batch: false }))),
    )
    console.log(`3 asyncFind with { batch: false }: ${selects} queries`)
  } finally {
    await shards.close()
    User.use(null)
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
