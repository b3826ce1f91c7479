// Models on SQLite (no server needed): npx ts-node --transpile-only examples/models.ts
// (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import {
  AsyncCoordinator,
  AsyncMetrics,
  Column,
  Model,
  Table,
  isInvalidColumnError,
  isRecordNotFoundError,
  withDatabase,
} from '../src'

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() email!: string
  @Column() active!: boolean
  @Column() score!: number
  @Column({ name: 'updated_at', type: Date }) updatedAt!: Date | null
}

@Table('orders')
class Order extends Model {
  @Column({ primary: true }) id!: number
  @Column({ name: 'user_id' }) userId!: number
  @Column() total!: number
}

async function main(): Promise<void> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
  await sql`create table users (id integer primary key, email text not null, active integer not null,
    score integer not null, updated_at text)`.execute(db)
  await sql`create table orders (id integer primary key, user_id integer not null, total real not null)`.execute(
    db,
  )
  Model.use(db) // every model; User.use(otherDb) would bind only User

  await User.asyncInsert([
    { email: 'ada@example.com', active: true, score: 90 },
    { email: 'bob@example.com', active: false, score: 40 },
    { email: 'cy@example.com', active: true, score: 75 },
  ])
  await Order.asyncInsert([
    { userId: 1, total: 12.5 },
    { userId: 3, total: 30 },
  ])

  // Helpers start at once and return AsyncResults; await them (or .wait()) when needed.
  const count = User.where({ active: true }).asyncCount()
  const top = User.where('score', '>=', 50).orderBy('score', 'desc').asyncPluck('email')
  console.log('active users:', await count)
  console.log('top scorers:', await top)

  const coordinator = new AsyncCoordinator()
  coordinator.add(User.asyncAvg('score'))
  coordinator.add(Order.asyncSum('total'))
  coordinator.add(User.asyncFind(1))
  const [avg, revenue, ada] = await coordinator.waitAll()
  console.log('average score:', avg, 'revenue:', revenue, 'first user:', ada)

  // Groups with having, order and limit; count distinct; pick gives null on no row (Rails' nil).
  console.log(
    'by activity:',
    await User.groupBy('active')
      .having('users', '>=', 1)
      .orderBy('best', 'desc')
      .asyncAggregate({ users: 'count', best: { max: 'score' } }),
  )
  console.log('distinct scores:', await User.asyncCountDistinct('score'))
  console.log('pick on no row:', await User.where('score', '>', 1_000).asyncPick('email'))

  console.log('touched:', await User.where({ active: false }).asyncTouchAll())
  console.log(
    'bob updated at a Date:',
    (await User.asyncFindBy({ email: 'bob@example.com' }))?.updatedAt instanceof Date,
  )

  // asyncFind gives undefined for a missing row; asyncFindOrFail rejects with a RecordNotFoundError.
  console.log('find 99:', await User.asyncFind(99))
  const missing = await User.asyncFindOrFail(99).catch((e: unknown) => e)
  console.log('findOrFail 99:', isRecordNotFoundError(missing), (missing as Error).message)

  // Reads cached for 60 s in a QueryStore; a write through a model marks them stale.
  const cached = User.where({ active: true }).cached({ ttl: 60 })
  console.log('cached count:', await cached.asyncCount(), await cached.asyncCount())
  await User.where({ email: 'bob@example.com' }).asyncUpdate({ active: true })
  console.log('after a write:', await cached.asyncCount())

  // In a transaction, helpers run on its connection, in order.
  await db.transaction().execute((trx) =>
    withDatabase(trx, async () => {
      await User.where({ active: false }).asyncDelete()
      console.log('inside the transaction:', await User.asyncCount())
    }),
  )

  // Column names are checked before any SQL is built.
  const refused = await User.asyncSum('score; drop table users' as never).catch((e: unknown) => e)
  console.log('refused:', isInvalidColumnError(refused), (refused as Error).message)

  const { operations } = AsyncMetrics.snapshot()
  console.log('User.asyncCount calls:', operations['User.asyncCount']?.total)
  await db.destroy()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
