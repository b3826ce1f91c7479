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
 * A `mysql://` URL makes that shard MySQL/MariaDB (XA: `XA PREPARE` / `XA COMMIT` are held
 * the same way); each of its sessions prints `conn <id>` first, so the parent can wait until
 * the server has ended them.
 *
 * `TRIBUTARY_LOG_TABLE` names the log table (default `tributary_transactions`).
 *
 * Without a crash point it prints `done` and exits 0.
 */
import { Kysely, PostgresDialect, type MysqlPool, type PostgresPool, type PostgresPoolClient } from 'kysely'
import { createPool } from 'mysql2'
import { Pool } from 'pg'
import { sql } from 'kysely'
import { createMysqlDatabase } from '../../src/model/mysql'
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

/** The statement `text` is, if it is one that can be held. */
const statementOf = (text: string): 'prepare' | 'commit' | undefined =>
  /^(prepare transaction|xa prepare)/i.test(text)
    ? 'prepare'
    : /^(commit prepared|xa commit)/i.test(text)
      ? 'commit'
      : undefined

/** True (after announcing it) when `text` is held for `shard`. */
function held(shard: string, text: string): boolean {
  const statement = statementOf(text)
  if (!statement || !hold.has(`${statement}@${shard}`)) return false
  process.stdout.write(`held ${statement}@${shard}\n`)
  happened('held')
  return true
}

/** A mysql2 pool whose connections never send the statements held for `shard`. */
function holdingMysqlPool(shard: string, url: string): MysqlPool {
  const pool = createPool({ uri: url, supportBigNumbers: true, bigNumberStrings: true, timezone: 'Z' })
  const announced = new WeakSet<object>()
  return {
    getConnection(callback) {
      pool.getConnection((error, connection) => {
        if (error) return callback(error, connection as never)
        const wrapped = {
          query: (text: string, parameters: unknown[], done: (e: unknown, r: unknown) => void) => {
            if (held(shard, text)) return {}
            return connection.query(text, parameters, done as never)
          },
          release: () => connection.release(),
        }
        if (announced.has(connection)) return callback(null, wrapped as never)
        announced.add(connection)
        process.stdout.write(`conn ${connection.threadId}\n`)
        callback(null, wrapped as never)
      })
    },
    end: (callback) => pool.end(callback),
  } as MysqlPool
}

/** A pg pool whose clients never send the statements held for `shard`. */
function holdingPool(shard: string, url: string): PostgresPool {
  const pool = new Pool({ connectionString: url, max: 4 })
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect()
      return {
        query: ((text: string, parameters: readonly unknown[]) => {
          if (held(shard, text)) return forever()
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
        url.startsWith('mysql:')
          ? createMysqlDatabase<any>(holdingMysqlPool(`s${i}`, url))
          : new Kysely<any>({ dialect: new PostgresDialect({ pool: holdingPool(`s${i}`, url) }) }),
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
      ...(process.env.TRIBUTARY_LOG_TABLE ? { log: { table: process.env.TRIBUTARY_LOG_TABLE } } : {}),
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
