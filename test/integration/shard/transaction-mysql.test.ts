/**
 * Cross-shard transactions on MySQL/MariaDB shards (XA START / END / PREPARE / COMMIT /
 * ROLLBACK, recovery from XA RECOVER): three databases of the suite's own on the MariaDB
 * server, so every shard's XA RECOVER lists every shard's branches and recovery must finish
 * each from its own shard. The coordinator SIGKILLed is test/support/shard-transaction-child.ts.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import {
  Column,
  createMysqlDatabase,
  isShardTransactionError,
  Model,
  recoverShardTransactions,
  ShardManager,
  shardTransaction,
  Table,
  type ShardRecoveryReport,
  type ShardTransactionError,
} from 'tributary'
import { describeWithMysql, mysqlUrl } from '../../support/services'

const NAMES = ['s0', 's1', 's2']
const tag = randomBytes(4).toString('hex')
const DATABASES = NAMES.map((name) => `trib_xa_${tag}_${name}`)
/** A log table of this run's own: its name is part of every gid, so XA RECOVER shows only ours. */
const LOG = `xa_log_${tag}`

const urlOf = (database: string): string => {
  const url = new URL(mysqlUrl)
  url.pathname = `/${database}`
  return url.toString()
}

describeWithMysql('cross-shard transactions on MySQL/MariaDB (XA)', () => {
  @Table('accounts')
  class Account extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: Number }) balance!: number
  }

  let admin: Kysely<any>
  let manager: ShardManager<any>
  let prefix: string

  beforeAll(async () => {
    admin = createMysqlDatabase(mysqlUrl)
    for (const database of DATABASES) {
      await sql`create database ${sql.id(database)}`.execute(admin)
      await sql`create table ${sql.id(database)}.accounts (id integer primary key, balance integer not null default 0) engine = InnoDB`.execute(
        admin,
      )
    }
    manager = new ShardManager(
      Object.fromEntries(NAMES.map((name, i) => [name, createMysqlDatabase(urlOf(DATABASES[i] as string))])),
    ).attach(Account)
    // The gid prefix of LOG: a transaction's id starts with it.
    prefix = await shardTransaction(manager, async (tx) => tx.id.slice(0, -20), { log: { table: LOG } })
  }, 60_000)
  afterAll(async () => {
    await manager?.close()
    // Never leave a branch of ours prepared on the shared server.
    for (const gid of await branches().catch(() => [])) await sql.raw(`xa rollback '${gid}'`).execute(admin)
    for (const database of DATABASES) await sql`drop database if exists ${sql.id(database)}`.execute(admin)
    await admin?.destroy()
  })

  /** Our prepared XA branches on the server. */
  async function branches(): Promise<string[]> {
    const { rows } = await sql<{ data: string }>`xa recover`.execute(admin)
    return rows.map((r) => String(r.data)).filter((gid) => gid.startsWith(prefix))
  }
  const branchesOf = async (id: string): Promise<string[]> =>
    (await branches())
      .filter((gid) => gid.startsWith(`${id}_`))
      // A gid ends with 8 hex digits of its shard's name.
      .map(
        (gid) =>
          NAMES.find((n) =>
            createHash('sha256')
              .update(n)
              .digest('hex')
              .startsWith(gid.slice(id.length + 1)),
          ) as string,
      )
      .sort()
  const holders = async (id: number): Promise<string[]> => {
    const out: string[] = []
    for (const name of NAMES) {
      const { rows } = await sql`select id from accounts where id = ${id}`.execute(manager.database(name))
      if (rows.length > 0) out.push(name)
    }
    return out
  }
  const logRows = async (): Promise<Array<{ id: string; state: string }>> =>
    (
      await sql<{ id: string; state: string }>`select id, state from ${sql.id(LOG)}`.execute(
        manager.database('s0'),
      )
    ).rows
  const insert = async (db: Promise<Kysely<any>>, id: number): Promise<void> =>
    void (await sql`insert into accounts (id) values (${id})`.execute(await db))
  const shardsOf = (list: ShardRecoveryReport['committed']): string[] => list.map((e) => e.shard).sort()

  it('commits on every shard by XA, leaving no prepared branch and an empty log', async () => {
    const phases: string[] = []
    await shardTransaction(
      manager,
      async (tx) => {
        for (const name of NAMES) await insert(tx.database(name), 1)
        // Not visible outside the transaction until the commit.
        expect(await holders(1)).toEqual([])
      },
      { log: { table: LOG }, onProgress: (p) => void phases.push(p.phase) },
    )
    // s0 holds the log: it commits in one phase with the decision, the others are prepared.
    expect(phases.filter((p) => p === 'prepared')).toHaveLength(2)
    expect(phases).toContain('decided')
    expect(await holders(1)).toEqual(NAMES)
    expect(await branches()).toEqual([])
    expect(await logRows()).toEqual([])
  })

  it('keeps nothing when the callback throws (XA ROLLBACK on every shard)', async () => {
    const error = (await shardTransaction(
      manager,
      async (tx) => {
        for (const name of NAMES) await insert(tx.database(name), 2)
        throw new Error('boom')
      },
      { log: { table: LOG } },
    ).catch((e: unknown) => e)) as ShardTransactionError
    expect(isShardTransactionError(error)).toBe(true)
    expect(error.outcomes.map((o) => o.state)).toEqual(['rolled back', 'rolled back', 'rolled back'])
    expect(await holders(2)).toEqual([])
    expect(await branches()).toEqual([])
    // The pooled sessions are usable afterwards (no XA left open on them).
    expect(await manager.withShard('s1', () => Account.asyncCount())).toBeGreaterThanOrEqual(1)
  })

  it('Model.acrossShards().transaction: scope writes and model inserts (read back on the XA session)', async () => {
    const inserted = await Account.acrossShards().transaction(
      async (tx) => {
        await tx.asyncUpdate({ balance: 5 })
        const rows = await tx.withShard('s2', () => Account.asyncInsert({ id: 3, balance: 30 }))
        expect(await tx.withShard('s2', () => Account.where({ id: 3 }).asyncPluck('balance'))).toEqual([30])
        return rows.map((a) => a.id)
      },
      { log: { table: LOG } },
    )
    expect(inserted).toEqual([3])
    expect(await manager.withShard('s2', () => Account.orderBy('id').asyncPluck('balance'))).toEqual([5, 30])
    expect(await manager.withShard('s0', () => Account.asyncPluck('balance'))).toEqual([5])
    expect(await branches()).toEqual([])
  })

  it("a recovery during a callback that holds the log's shard leaves it alone (the row is locked)", async () => {
    let report: ShardRecoveryReport | undefined
    await shardTransaction(
      manager,
      async (tx) => {
        for (const name of NAMES) await insert(tx.database(name), 6)
        report = await recoverShardTransactions(manager, { log: { table: LOG }, minAge: 0 })
      },
      { log: { table: LOG } },
    )
    expect(report).toEqual({ committed: [], rolledBack: [], skipped: [], forgotten: [], failures: [] })
    expect(await holders(6)).toEqual(NAMES)
    expect(await logRows()).toEqual([])
  })

  it('one shard commits in one phase (XA COMMIT … ONE PHASE)', async () => {
    await shardTransaction(manager, async (tx) => insert(tx.database('s1'), 4), { log: { table: LOG } })
    expect(await holders(4)).toEqual(['s1'])
    expect(await branches()).toEqual([])
  })

  it('recovery leaves a live coordinator its branches (still on its sessions) and aborts its row (the log on a shard it does not touch); the coordinator rolls back and removes the row', async () => {
    let prepared = 0
    let report: ShardRecoveryReport | undefined
    const error = await shardTransaction(
      manager,
      async (tx) => {
        for (const name of ['s1', 's2']) await insert(tx.database(name), 5)
      },
      {
        log: { table: LOG },
        onProgress: async ({ phase }) => {
          if (phase === 'prepared' && ++prepared === 2) {
            report = await recoverShardTransactions(manager, { log: { table: LOG }, minAge: 0 })
          }
        },
      },
    ).catch((e: unknown) => e)
    expect(shardsOf(report?.skipped ?? [])).toEqual(['s1', 's2']) // held by the coordinator's sessions
    expect(report?.forgotten).toEqual([])
    expect(isShardTransactionError(error)).toBe(true)
    expect((error as ShardTransactionError).decision).toBe('rolled back')
    expect(await holders(5)).toEqual([])
    expect(await branches()).toEqual([])
    // The coordinator, having rolled back every branch itself, removed the aborted row.
    expect(await logRows()).toEqual([])
    const next = await recoverShardTransactions(manager, { log: { table: LOG } })
    expect(next).toEqual({ committed: [], rolledBack: [], skipped: [], forgotten: [], failures: [] })
  })

  /** The child coordinator on the three databases, SIGKILLed at `crashAt`; waits until the server ended its sessions. */
  async function crash(row: number, crashAt: string, hold: readonly string[] = []): Promise<string> {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        'test/support/shard-transaction-child.ts',
        String(row),
        ...DATABASES.map(urlOf),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          TS_NODE_TRANSPILE_ONLY: '1',
          TRIBUTARY_CRASH_AT: crashAt,
          TRIBUTARY_HOLD: hold.join(','),
          TRIBUTARY_LOG_TABLE: LOG,
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
    const sessions = [...output.matchAll(/^conn (\d+)$/gm)].map((m) => Number(m[1]))
    for (let i = 0; i < 200 && sessions.length > 0; i++) {
      const { rows } = await sql<{
        n: number | string
      }>`select count(*) as n from information_schema.processlist
        where id in (${sql.join(sessions)})`.execute(admin)
      if (Number(rows[0]?.n) === 0) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return id
  }

  it('coordinator killed after XA PREPARE on s1 (s2 not yet): recovery rolls it back', async () => {
    const id = await crash(11, 'prepared:1', ['prepare@s2'])
    expect(await branchesOf(id)).toEqual(['s1'])
    const report = await recoverShardTransactions(manager, { log: { table: LOG }, minAge: 0 })
    expect(shardsOf(report.rolledBack)).toEqual(['s1'])
    expect([report.committed, report.skipped, report.failures]).toEqual([[], [], []])
    expect(report.forgotten).toEqual([id])
    expect(await holders(11)).toEqual([])
    expect(await branches()).toEqual([])
    expect(await logRows()).toEqual([])
  }, 60_000)

  it('coordinator killed right after the commit point: recovery commits every shard', async () => {
    const id = await crash(12, 'decided:1')
    expect(await branchesOf(id)).toEqual(['s1', 's2'])
    expect(await holders(12)).toEqual(['s0']) // the log's shard commits with the decision
    const report = await recoverShardTransactions(manager, { log: { table: LOG } })
    expect(shardsOf(report.committed)).toEqual(['s1', 's2'])
    expect(report.forgotten).toEqual([id])
    expect(await holders(12)).toEqual(NAMES)
    expect(await branches()).toEqual([])
    expect(await logRows()).toEqual([])
  }, 60_000)

  it('coordinator killed after XA COMMIT on s1, before s2: recovery commits s2', async () => {
    const id = await crash(13, 'committed:2', ['commit@s2'])
    expect(await branchesOf(id)).toEqual(['s2'])
    expect(await holders(13)).toEqual(['s0', 's1'])
    const report = await recoverShardTransactions(manager, { log: { table: LOG } })
    expect(shardsOf(report.committed)).toEqual(['s2'])
    expect(report.forgotten).toEqual([id])
    expect(await holders(13)).toEqual(NAMES)
    expect(await branches()).toEqual([])
    expect(await logRows()).toEqual([])
  }, 60_000)
})
