/**
 * Run by test/integration/shard/transaction-crash.test.ts in a child process: starts a
 * cross-shard transaction over the databases in argv[3..], inserting row argv[2] on each, and
 * at the phase named by TRIBUTARY_CRASH_AT (`prepared`, `decided`, `committed`) prints `ready`
 * and waits forever for the parent's SIGKILL.
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Pool } from 'pg'
import { ShardManager } from '../../src/shard/shard-manager'
import { shardTransaction } from '../../src/shard/transaction'

async function main(): Promise<void> {
  const [id, ...urls] = process.argv.slice(2)
  const at = process.env.TRIBUTARY_CRASH_AT
  const manager = new ShardManager(
    Object.fromEntries(
      urls.map((url, i) => [
        `s${i}`,
        new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: url }) }) }),
      ]),
    ),
  )
  await shardTransaction(
    manager,
    async (tx) => {
      for (const name of manager.names)
        await sql`insert into accounts (id) values (${Number(id)})`.execute(await tx.database(name))
    },
    {
      onProgress: async (progress) => {
        if (progress.phase !== at) return
        process.stdout.write(`ready ${progress.id}\n`)
        await new Promise(() => undefined)
      },
    },
  )
  process.stdout.write('done\n')
  await manager.close()
}

void main()
