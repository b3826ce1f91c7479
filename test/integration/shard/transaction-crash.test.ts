/**
 * A coordinator process SIGKILLed in the middle of a cross-shard transaction, then
 * `recoverShardTransactions`: every shard ends with the write or none does, no prepared
 * transaction is left and the log is emptied. The coordinator is
 * test/support/shard-transaction-child.ts, on a PostgreSQL of the test's own with
 * `max_prepared_transactions` raised.
 */
import { spawn } from 'node:child_process'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Pool } from 'pg'
import {
  isShardTransactionError,
  recoverShardTransactions,
  ShardManager,
  shardTransaction,
  type ShardRecoveryReport,
} from 'tributary'
import { describeWithPostgresServer, ownPostgres, type OwnPostgres } from '../../support/own-postgres'
import { createShardDatabases, ids, preparedCount, shardManager } from '../../support/own-postgres-shards'

const NAMES = ['s0', 's1', 's2']

interface Crash {
  /** The coordinator transaction's id the child announced. */
  readonly id: string
}

describeWithPostgresServer('cross-shard transactions: coordinator killed, then recovery', () => {
  let server: OwnPostgres
  let manager: ShardManager<any>

  beforeAll(async () => {
    server = await ownPostgres()
    await createShardDatabases(server, NAMES)
    manager = shardManager(server, NAMES)
  }, 60_000)
  afterAll(async () => {
    await manager?.close()
    await server?.kill()
  })

  /**
   * Runs the child coordinator inserting `row` on every shard, waits for it to reach
   * `crashAt` (with `hold` statements never sent), SIGKILLs it by pid and waits for its exit
   * and for the server to have closed its sessions.
   */
  async function crash(row: number, crashAt: string, hold: readonly string[] = []): Promise<Crash> {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        'test/support/shard-transaction-child.ts',
        String(row),
        ...NAMES.map((name) => server.url(name)),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          TS_NODE_TRANSPILE_ONLY: '1',
          TRIBUTARY_CRASH_AT: crashAt,
          TRIBUTARY_HOLD: hold.join(','),
        },
      },
    )
    let output = ''
    let errors = ''
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const id = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const ready = /^ready (\S+)$/m.exec(output)
        if (ready) resolve(ready[1] as string)
      })
      child.once('exit', (code, signal) =>
        reject(new Error(`coordinator exited (${code ?? signal}) before ${crashAt}: ${output}${errors}`)),
      )
    })
    process.kill(child.pid as number, 'SIGKILL')
    await exited
    // The server ends the dead coordinator's sessions (rolling back what was not prepared).
    for (let i = 0; i < 200; i++) {
      let open = 0
      for (const name of NAMES) {
        const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
            and application_name = '' and state is not null and xact_start is not null`.execute(
          manager.database(name),
        )
        open += Number(rows[0]?.n)
      }
      if (open === 0) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return { id }
  }

  /** The shards holding a prepared part of transaction `id`. */
  async function preparedOn(id: string): Promise<string[]> {
    const out: string[] = []
    for (const name of NAMES) {
      const { rows } = await sql<{ n: string }>`select count(*) as n from pg_prepared_xacts
        where database = current_database() and gid like ${`${id}\\_%`}`.execute(manager.database(name))
      if (Number(rows[0]?.n) > 0) out.push(name)
    }
    return out
  }

  /** The decision log's row of `id`, if any. */
  async function logState(id: string): Promise<string | undefined> {
    const { rows } = await sql<{
      state: string
    }>`select state from tributary_transactions where id = ${id}`.execute(manager.database('s0'))
    return rows[0]?.state
  }

  /** Which shards hold row `row`. */
  async function holders(row: number): Promise<string[]> {
    const all = await ids(manager)
    return NAMES.filter((name) => all[name]?.includes(row))
  }

  const logRows = async (): Promise<number> =>
    Number(
      (
        await sql<{ n: string }>`select count(*) as n from tributary_transactions`.execute(
          manager.database('s0'),
        )
      ).rows[0]?.n,
    )

  const shardsOf = (list: ShardRecoveryReport['committed']): string[] => list.map((e) => e.shard).sort()

  // s0 holds the log: it is never prepared, but commits in one phase with the decision.
  it('killed after prepare on s1 (s2 not yet, s0 active): recovery rolls s1 back (no shard has the row)', async () => {
    const { id } = await crash(1, 'prepared:1', ['prepare@s2'])
    expect(await preparedOn(id)).toEqual(['s1'])
    expect(await logState(id)).toBe('prepare')

    // Too young to be abandoned by the default minAge (60 s): left alone.
    const early = await recoverShardTransactions(manager)
    expect(shardsOf(early.skipped)).toEqual(['s1'])
    expect([early.committed, early.rolledBack, early.forgotten, early.failures]).toEqual([[], [], [], []])
    expect(await preparedOn(id)).toEqual(['s1'])

    const report = await recoverShardTransactions(manager, { minAge: 0 })
    expect(shardsOf(report.rolledBack)).toEqual(['s1'])
    expect(report.committed).toEqual([])
    expect(report.forgotten).toEqual([id])
    expect(report.failures).toEqual([])
    expect(await holders(1)).toEqual([])
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('killed after prepare on every shard but the log’s, before the commit point: recovery rolls back everywhere', async () => {
    const { id } = await crash(2, 'prepared:2')
    expect(await preparedOn(id)).toEqual(['s1', 's2'])
    expect(await logState(id)).toBe('prepare')

    const report = await recoverShardTransactions(manager, { minAge: 0 })
    expect(shardsOf(report.rolledBack)).toEqual(['s1', 's2'])
    expect(report.committed).toEqual([])
    expect(await holders(2)).toEqual([])
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('killed after the log row, before any shard prepared: recovery aborts and forgets the row', async () => {
    const { id } = await crash(3, 'held:2', ['prepare@s1', 'prepare@s2'])
    expect(await preparedOn(id)).toEqual([])
    expect(await logState(id)).toBe('prepare')

    const report = await recoverShardTransactions(manager, { minAge: 0 })
    expect([report.committed, report.rolledBack, report.skipped]).toEqual([[], [], []])
    expect(report.forgotten).toEqual([id])
    expect(await holders(3)).toEqual([])
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('killed right after the commit point: recovery commits the prepared shards (all have the row)', async () => {
    const { id } = await crash(4, 'decided:1')
    expect(await preparedOn(id)).toEqual(['s1', 's2'])
    expect(await logState(id)).toBe('commit')
    expect(await holders(4)).toEqual(['s0']) // committed with the decision

    const report = await recoverShardTransactions(manager) // a decided transaction needs no minAge
    expect(shardsOf(report.committed)).toEqual(['s1', 's2'])
    expect(report.rolledBack).toEqual([])
    expect(report.forgotten).toEqual([id])
    expect(await holders(4)).toEqual(NAMES)
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('killed after COMMIT PREPARED on s1, before s2: recovery commits s2', async () => {
    const { id } = await crash(5, 'committed:2', ['commit@s2'])
    expect(await preparedOn(id)).toEqual(['s2'])
    expect(await holders(5)).toEqual(['s0', 's1'])
    expect(await logState(id)).toBe('commit')

    const report = await recoverShardTransactions(manager)
    expect(shardsOf(report.committed)).toEqual(['s2'])
    expect(report.forgotten).toEqual([id])
    expect(await holders(5)).toEqual(NAMES)
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('40 transactions racing recoveries that run all along with minAge 0: each one is everywhere or nowhere', async () => {
    // Pools larger than the transactions running at once (see the README: a transaction holding
    // one shard's connection may wait for another shard's, and for the log's).
    const wide = new ShardManager(
      Object.fromEntries(
        NAMES.map((name) => {
          const pool = new Pool({ connectionString: server.url(name), max: 12 })
          pool.on('error', () => undefined)
          return [name, new Kysely<any>({ dialect: new PostgresDialect({ pool }) })]
        }),
      ),
    )
    let running = true
    const recoveries = (async () => {
      let runs = 0
      while (running) {
        await recoverShardTransactions(wide, { minAge: 0 })
        runs++
      }
      return runs
    })()
    const outcome = new Map<number, string>()
    try {
      for (let batch = 0; batch < 5; batch++) {
        await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            const row = 1000 + batch * 8 + i
            // Half touch the log's shard (s0), half only s1 and s2.
            const shards = i % 2 === 0 ? NAMES : ['s1', 's2']
            try {
              await shardTransaction(wide, async (tx) => {
                for (const name of shards)
                  await sql`insert into accounts (id) values (${row})`.execute(await tx.database(name))
              })
              outcome.set(row, 'committed')
            } catch (error) {
              if (!isShardTransactionError(error)) throw error
              outcome.set(row, error.decision)
            }
          }),
        )
      }
    } finally {
      running = false
      await recoveries
    }
    await recoverShardTransactions(wide, { minAge: 0 })
    await wide.close()
    const all = await ids(manager)
    for (const [row, decision] of outcome) {
      const expected = row % 2 === 0 ? NAMES : ['s1', 's2']
      const on = NAMES.filter((name) => all[name]?.includes(row))
      expect([row, on.length === 0 || on.join() === expected.join()]).toEqual([row, true])
      if (decision === 'committed') expect([row, on]).toEqual([row, expected])
      if (decision === 'rolled back') expect([row, on]).toEqual([row, []])
    }
    expect([...outcome.values()].filter((d) => d === 'committed').length).toBeGreaterThan(0)
    expect(await preparedCount(manager)).toBe(0)
    expect(await logRows()).toBe(0)
  }, 60_000)

  it('a second recovery finds nothing to do, and the rows stay as they were', async () => {
    const before = await ids(manager)
    const report = await recoverShardTransactions(manager, { minAge: 0 })
    expect(report).toEqual({ committed: [], rolledBack: [], skipped: [], forgotten: [], failures: [] })
    expect(await ids(manager)).toEqual(before)
  })
})
