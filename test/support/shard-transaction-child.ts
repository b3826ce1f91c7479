/**
 * The coordinator that test/integration/shard/transaction-crash.test.ts kills: run as
 * `shard-transaction-child.ts <row id> <url of s0> <url of s1> …`, it runs one cross-shard
 * transaction inserting `<row id>` into `accounts` on every shard (shards `s0`, `s1`, … in
 * argument order; the log on `s0`) and is SIGKILLed by the parent at the moment it announces.
 *
 * - `TRIBUTARY_HOLD`: statements never sent, as if the coordinator stalled on the way to a
 *   shard: a comma list of `prepare@<shard>` / `commit@<shard>` (`PREPARE TRANSACTION`,
 *   `COMMIT PREPARED`). Each held statement prints `held <statement>@<shard>`.
 * - `TRIBUTARY_CRASH_AT`: `<event>:<count>`, the event being `prepared`, `decided`,
 *   `committed` (the progress phases of `shardTransaction`) or `held`. When the count-th such
 *   event happens, it prints `ready <transaction id>` and stops advancing (every later
 *   progress callback waits forever), so the parent kills it in exactly that state.
 *
 * Without a crash point it prints `done` and exits 0.
 */
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import { Pool } from 'pg'
import { sql } from 'kysely'
import { ShardManager } from '../../src/shard/shard-manager'
import { shardTransaction } from '../../src/shard/transaction'

const hold = new Set((process.env.TRIBUTARY_HOLD ?? '').split(',').filter(Boolean))
const [crashEvent, crashCount] = (process.env.TRIBUTARY_CRASH_AT ?? '').split(':') as [string, string?]
const counts = new Map<string, number>()
let id = '?'
let stopped = false
const forever = (): Promise<never> => new Promise<never>(() => undefined)

/** Counts `event`; true once the crash point is reached (announced once). */
function happened(event: string): boolean {
  const n = (counts.get(event) ?? 0) + 1
  counts.set(event, n)
  if (!stopped && event === crashEvent && n === Number(crashCount ?? 1)) {
    stopped = true
    process.stdout.write(`ready ${id}\n`)
  }
  return stopped
}

/** A pg pool whose clients never send the statements held for `shard`. */
function holdingPool(shard: string, url: string): PostgresPool {
  const pool = new Pool({ connectionString: url, max: 4 })
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect()
      return {
        query: ((text: string, parameters: readonly unknown[]) => {
          const statement = /^prepare transaction/i.test(text)
            ? 'prepare'
            : /^commit prepared/i.test(text)
              ? 'commit'
              : undefined
          if (statement && hold.has(`${statement}@${shard}`)) {
            process.stdout.write(`held ${statement}@${shard}\n`)
            happened('held')
            return forever()
          }
          return client.query(text, parameters as unknown[])
        }) as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      }
    },
    end: () => pool.end(),
  }
}

async function main(): Promise<void> {
  const [row, ...urls] = process.argv.slice(2)
  const manager = new ShardManager(
    Object.fromEntries(
      urls.map((url, i) => [
        `s${i}`,
        new Kysely<any>({ dialect: new PostgresDialect({ pool: holdingPool(`s${i}`, url) }) }),
      ]),
    ),
  )
  await shardTransaction(
    manager,
    async (tx) => {
      id = tx.id
      for (const name of manager.names)
        await sql`insert into accounts (id) values (${Number(row)})`.execute(await tx.database(name))
    },
    {
      onProgress: async ({ phase }) => {
        if (happened(phase)) await forever()
      },
    },
  )
  process.stdout.write('done\n')
  await manager.close()
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`)
  process.exit(1)
})
