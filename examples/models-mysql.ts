// Models on MySQL/MariaDB. Needs a server: TRIBUTARY_MYSQL_URL, default mysql://root@127.0.0.1:3306/test
// (docker compose up -d mariadb). Without one it says so and exits 0.
//   npx ts-node --transpile-only examples/models-mysql.ts
// (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { Column, createMysqlDatabase, Model, Table, withDatabase } from '../src'

@Table('accounts')
class Account extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ type: String }) email!: string
  @Column({ type: Boolean }) active!: boolean
  @Column({ type: Number }) balance!: number | null
  @Column({ type: BigInt }) points!: bigint
  @Column({ name: 'updated_at', type: Date }) updatedAt!: Date | null
}

async function main(): Promise<void> {
  const url = process.env.TRIBUTARY_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
  const admin = createMysqlDatabase(url)
  try {
    await sql`select 1`.execute(admin)
  } catch (error) {
    console.log(`MariaDB/MySQL is not reachable at ${url} (${(error as Error).message}): nothing to show.`)
    await admin.destroy()
    return
  }
  // A database of its own, dropped at the end.
  const name = `tributary_example_${randomBytes(4).toString('hex')}`
  await sql`create database ${sql.id(name)}`.execute(admin)
  const target = new URL(url)
  target.pathname = `/${name}`
  const db = createMysqlDatabase(target.toString()) // BIGINT and DECIMAL as exact text, UTC
  try {
    await sql`create table accounts (id integer auto_increment primary key, email varchar(255) not null,
      active boolean not null, balance decimal(12,2), points bigint not null default 0,
      updated_at datetime(3))`.execute(db)
    Account.use(db)
    // No RETURNING on MySQL: the inserted rows are read back by their generated ids.
    const inserted = await Account.asyncInsert([
      { email: 'a@example.com', active: true, balance: 10.1, points: 2n ** 60n },
      { email: 'b@example.com', active: false, balance: null },
      { email: 'c@example.com', active: true, balance: 0.2, points: 5n },
    ])
    console.log(
      'inserted ids',
      inserted.map((a) => a.id),
    )
    const [count, sum, points] = await Promise.all([
      Account.where({ active: true }).asyncCount(),
      Account.asyncSum('balance'), // DECIMAL: 10.30, not 10.299999…
      Account.asyncSum('points'), // past 2^53: a bigint
    ])
    console.log({ count, sum, points })
    // MySQL sorts NULL first ascending; an offset needs no limit.
    console.log('by balance', await Account.orderBy('balance').asyncPluck('email'))
    console.log('after the first', await Account.orderBy('id').offset(1).asyncPluck('email'))
    console.log('touched', await Account.orderBy('id', 'desc').limit(2).asyncTouchAll())
    const moved = await db.transaction().execute((trx) =>
      withDatabase(trx, async () => {
        await Account.where({ email: 'b@example.com' }).asyncUpdate({ active: true })
        return Account.where({ active: true }).asyncCount()
      }),
    )
    console.log('active inside the transaction', moved)
  } finally {
    Account.use(null)
    await db.destroy()
    await sql`drop database if exists ${sql.id(name)}`.execute(admin)
    await admin.destroy()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
