// Atomic cross-shard writes: Model.acrossShards().transaction(fn) commits on every shard or on
// none, by two-phase commit (PostgreSQL PREPARE TRANSACTION / COMMIT PREPARED).
// Needs PostgreSQL with max_prepared_transactions > 0: TRIBUTARY_PG_URL, default
// postgres://postgres@127.0.0.1:5432/postgres. With max_prepared_transactions = 0 (PostgreSQL's
// default) or no server it says how to fix that and exits 0, having only read the setting.
//   npx ts-node --transpile-only examples/shard-transaction.ts
// (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
import { randomBytes } from 'node:crypto'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Pool } from 'pg'
import { Column, isShardTransactionError, Model, recoverShardTransactions, ShardManager, Table } from '../src'

@Table('accounts')
class Account extends Model {
  @Column({ primary: true, type: Number }) id!: number
  @Column({ type: String }) owner!: string
  @Column({ type: Number }) balance!: number
}

/** The shards' tables, for the raw Kysely each shard's transaction is. */
interface Tables {
  accounts: { id: number; owner: string; balance: number }
}

const SHARDS = ['us', 'eu']

async function main(): Promise<void> {
  const url = process.env.TRIBUTARY_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres'
  const admin = new Pool({ connectionString: url, max: 1 })
  let max: number
  try {
    const { rows } = await admin.query<{ max_prepared_transactions: string }>(
      'show max_prepared_transactions',
    )
    max = Number(rows[0]?.max_prepared_transactions)
  } catch (error) {
    console.log(`PostgreSQL is not reachable at ${url} (${(error as Error).message}): nothing to show.`)
    await admin.end()
    return
  }
  if (max === 0) {
    console.log(
      `max_prepared_transactions is 0 on ${url} (PostgreSQL's default), so no shard can take part in ` +
        'a two-phase commit: nothing to show. Set it to at least the number of cross-shard ' +
        'transactions that may run at once, e.g. `ALTER SYSTEM SET max_prepared_transactions = 100` (or ' +
        '`max_prepared_transactions = 100` in postgresql.conf), then restart PostgreSQL.',
    )
    await admin.end()
    return
  }

  // Two shard databases of the example's own, dropped at the end.
  const names = SHARDS.map((s) => `tributary_tx_${randomBytes(4).toString('hex')}_${s}`)
  for (const name of names) await admin.query(`create database "${name}"`)
  const shards = new ShardManager(
    Object.fromEntries(
      SHARDS.map((shard, i) => {
        const target = new URL(url)
        target.pathname = `/${names[i]}`
        const pool = new Pool({ connectionString: target.toString(), max: 4 })
        pool.on('error', () => undefined)
        return [shard, new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) })]
      }),
    ),
  ).attach(Account)
  try {
    for (const shard of SHARDS) {
      await sql`create table accounts (id integer primary key, owner text not null,
        balance integer not null check (balance >= 0))`.execute(shards.database(shard))
    }
    await shards.withShard('us', () => Account.asyncInsert({ id: 1, owner: 'ana', balance: 100 }))
    await shards.withShard('eu', () => Account.asyncInsert({ id: 2, owner: 'ben', balance: 50 }))
    const balances = async (): Promise<string> => {
      const all = await Account.acrossShards().orderBy('id').asyncAll()
      return all.map((a) => `${a.owner} ${a.balance}`).join(', ')
    }

    /** Moves `amount` from ana (us) to ben (eu): both shards or neither. */
    const transfer = (amount: number) =>
      Account.acrossShards().transaction<void, Tables>(
        async (tx) => {
          const eu = await tx.database('eu')
          await eu
            .updateTable('accounts')
            .set((eb) => ({ balance: eb('balance', '+', amount) }))
            .where('id', '=', 2)
            .execute()
          const us = await tx.database('us')
          await us
            .updateTable('accounts')
            .set((eb) => ({ balance: eb('balance', '-', amount) }))
            .where('id', '=', 1)
            .execute()
        },
        { onProgress: (p) => console.log(`  ${p.phase}${p.shard ? ` ${p.shard}` : ' (the commit point)'}`) },
      )

    console.log('before:', await balances())
    console.log('transfer 30:')
    await transfer(30)
    console.log('after:', await balances())

    console.log('transfer 500 (more than ana has):')
    try {
      await transfer(500)
    } catch (error) {
      if (!isShardTransactionError(error)) throw error
      console.log(
        `  ${error.decision}:`,
        error.outcomes.map((o) => `${o.shard} ${o.state}`).join(', '),
        `(${(error.cause as Error).message})`,
      )
    }
    console.log('after:', await balances(), '(ben was not credited)')

    // A scope's own writes, on each of its shards, in one transaction.
    const zeroed = await Account.acrossShards()
      .where({ owner: 'ben' })
      .transaction(async (tx) => (await tx.asyncUpdate({ balance: 0 })).total)
    console.log(`zeroed ${zeroed} account(s) atomically:`, await balances())

    // After a crash of a coordinator between prepare and commit, this finishes its transaction.
    const report = await recoverShardTransactions(shards)
    console.log(
      `recovery: ${report.committed.length} committed, ${report.rolledBack.length} rolled back, ` +
        `${report.forgotten.length} log rows forgotten`,
    )
  } finally {
    await shards.close()
    for (const name of names) await admin.query(`drop database if exists "${name}"`)
    await admin.end()
  }
}

void main()
