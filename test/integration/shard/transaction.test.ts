import { Kysely, PostgresDialect, sql } from 'kysely'
import { Pool } from 'pg'
import {
  Column,
  isAsyncCancelledError,
  isPreparedTransactionsDisabledError,
  isShardError,
  isShardTransactionError,
  Model,
  recoverShardTransactions,
  ShardManager,
  shardTransaction,
  Table,
  type ShardRecoveryReport,
  type ShardTransactionError,
} from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'
import { describeWithPostgresServer, ownPostgres, type OwnPostgres } from '../../support/own-postgres'
import { createShardDatabases, ids, preparedCount, shardManager } from '../../support/own-postgres-shards'

const NAMES = ['s0', 's1', 's2']
const insert = async (db: Promise<import('kysely').Kysely<any>>, id: number): Promise<void> =>
  void (await sql`insert into accounts (id) values (${id})`.execute(await db))

describeWithPostgresServer('shardTransaction (two-phase commit, own PostgreSQL)', () => {
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

  it('commits on every shard touched, leaving no prepared transaction or log row', async () => {
    const value = await shardTransaction(manager, async (tx) => {
      for (const name of NAMES) await insert(tx.database(name), 1)
      return tx.shards
    })
    expect(value).toEqual(NAMES)
    expect(await ids(manager)).toEqual({ s0: [1], s1: [1], s2: [1] })
    expect(await preparedCount(manager)).toBe(0)
    const { rows } = await sql`select * from tributary_transactions`.execute(manager.database('s0'))
    expect(rows).toEqual([])
  })

  it('writes nothing anywhere when the callback throws, and says so per shard', async () => {
    const error = (await shardTransaction(manager, async (tx) => {
      await insert(tx.database('s0'), 2)
      await insert(tx.database('s1'), 2)
      throw new Error('boom')
    }).catch((e: unknown) => e)) as ShardTransactionError
    expect(isShardTransactionError(error)).toBe(true)
    expect(error.decision).toBe('rolled back')
    expect(error.outcomes.map((o) => [o.shard, o.state])).toEqual([
      ['s0', 'rolled back'],
      ['s1', 'rolled back'],
    ])
    expect((error.cause as Error).message).toBe('boom')
    expect((await ids(manager)).s0).not.toContain(2)
    expect((await ids(manager)).s1).not.toContain(2)
  })

  it('rolls back every shard when one fails to prepare (a deferred unique check)', async () => {
    await sql`insert into accounts (id) values (3)`.execute(manager.database('s2'))
    const error = (await shardTransaction(manager, async (tx) => {
      for (const name of NAMES) await insert(tx.database(name), 3)
    }).catch((e: unknown) => e)) as ShardTransactionError
    expect(isShardTransactionError(error)).toBe(true)
    expect(error.decision).toBe('rolled back')
    const s2 = error.outcomes.find((o) => o.shard === 's2')
    expect((s2?.cause as { code?: string }).code).toBe('23505')
    expect(error.outcomes.every((o) => o.state === 'rolled back')).toBe(true)
    const after = (await ids(manager)) as Record<'s0' | 's1' | 's2', number[]>
    expect([after.s0.includes(3), after.s1.includes(3), after.s2.filter((i) => i === 3).length]).toEqual([
      false,
      false,
      1,
    ])
    expect(await preparedCount(manager)).toBe(0)
  })

  it("rolls back every shard when the log's own shard fails its deferred check (it commits in one phase)", async () => {
    await sql`insert into accounts (id) values (6)`.execute(manager.database('s0'))
    const error = (await shardTransaction(manager, async (tx) => {
      for (const name of NAMES) await insert(tx.database(name), 6)
    }).catch((e: unknown) => e)) as ShardTransactionError
    expect(isShardTransactionError(error)).toBe(true)
    expect(error.decision).toBe('rolled back')
    expect((error.outcomes.find((o) => o.shard === 's0')?.cause as { code?: string }).code).toBe('23505')
    expect(error.outcomes.every((o) => o.state === 'rolled back')).toBe(true)
    const after = (await ids(manager)) as Record<'s0' | 's1' | 's2', number[]>
    expect([after.s0.filter((i) => i === 6).length, after.s1.includes(6), after.s2.includes(6)]).toEqual([
      1,
      false,
      false,
    ])
    expect(await preparedCount(manager)).toBe(0)
    expect((await sql`select * from tributary_transactions`.execute(manager.database('s0'))).rows).toEqual([])
  })

  it("never waits for a second connection of the log's shard: 6 at once on pools of 2", async () => {
    const small = new ShardManager(
      Object.fromEntries(
        NAMES.map((name) => {
          const pool = new Pool({ connectionString: server.url(name), max: 2 })
          pool.on('error', () => undefined)
          return [name, new Kysely<any>({ dialect: new PostgresDialect({ pool }) })]
        }),
      ),
    )
    try {
      const runs = Array.from({ length: 6 }, (_, i) =>
        shardTransaction(small, async (tx) => {
          // The log's shard (s0) first, then the other.
          await insert(tx.database('s0'), 100 + i)
          await insert(tx.database('s1'), 100 + i)
        }),
      )
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(runs),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('deadlocked')), 10_000))),
      ]).finally(() => clearTimeout(timer))
      const after = await ids(manager)
      for (let i = 0; i < 6; i++) {
        expect([after.s0?.includes(100 + i), after.s1?.includes(100 + i)]).toEqual([true, true])
      }
      expect(await preparedCount(manager)).toBe(0)
    } finally {
      await small.close()
    }
  }, 20_000)

  it('rolls back a shard whose statement failed inside the callback even if the callback went on', async () => {
    const error = await shardTransaction(manager, async (tx) => {
      await insert(tx.database('s0'), 4)
      await sql`select 1/0`.execute(await tx.database('s1')).catch(() => undefined) // aborts s1's transaction
      await insert(tx.database('s2'), 4).catch(() => undefined)
    }).catch((e: unknown) => e)
    expect(isShardTransactionError(error)).toBe(true)
    expect((await ids(manager)).s0).not.toContain(4)
  })

  it('commits one shard plainly, without a log row', async () => {
    await shardTransaction(manager, async (tx) => insert(tx.database('s1'), 5), {
      log: { table: 'single_only' },
    })
    expect((await ids(manager)).s1).toContain(5)
    const { rows } = await sql<{
      n: string
    }>`select count(*) as n from pg_tables where tablename = 'single_only'`.execute(manager.database('s0'))
    expect(Number(rows[0]?.n)).toBe(0)
  })
})

describeWithPostgresServer('Model.acrossShards().transaction (two-phase commit, own PostgreSQL)', () => {
  @Table('wallets')
  class Wallet extends Model {
    @Column({ primary: true, type: Number }) id!: number
    @Column({ type: Number }) owner!: number
    @Column({ type: Number }) balance!: number
  }

  let server: OwnPostgres
  let manager: ShardManager<any>
  /** Every shard's wallets as `id:owner:balance`, by shard. */
  const wallets = async (): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {}
    for (const name of NAMES) {
      const { rows } = await sql<{
        id: number
        owner: number
        balance: number
      }>`select id, owner, balance from wallets order by id`.execute(manager.database(name))
      out[name] = rows.map((r) => `${r.id}:${r.owner}:${r.balance}`)
    }
    return out
  }

  beforeAll(async () => {
    server = await ownPostgres()
    await createShardDatabases(server, NAMES)
    manager = shardManager(server, NAMES).attach(Wallet)
    for (const name of NAMES) {
      await sql`create table wallets (id integer primary key, owner integer not null, balance integer not null)`.execute(
        manager.database(name),
      )
    }
  }, 60_000)
  beforeEach(async () => {
    for (const [i, name] of NAMES.entries()) {
      await sql`delete from wallets`.execute(manager.database(name))
      await sql`insert into wallets (id, owner, balance) values (${10 * i + 1}, 1, 100), (${10 * i + 2}, 2, 100)`.execute(
        manager.database(name),
      )
    }
  })
  afterAll(async () => {
    await manager?.close()
    await server?.kill()
  })

  it("commits the scope's writes and the callback's model writes on every shard, and returns fn's value", async () => {
    const total = await Wallet.acrossShards()
      .where({ owner: 1 })
      .transaction(async (tx) => {
        expect(tx.scopeShards).toEqual(NAMES)
        const { total, byShard } = await tx.asyncUpdate({ balance: 0 })
        expect([...byShard]).toEqual([
          ['s0', 1],
          ['s1', 1],
          ['s2', 1],
        ])
        await tx.withShard('s1', () => Wallet.asyncInsert({ id: 99, owner: 3, balance: 300 }))
        // Reads inside the transaction see its own writes; outside, nothing yet.
        expect(await tx.withShard('s0', () => Wallet.where({ owner: 1 }).asyncPluck('balance'))).toEqual([0])
        expect(await manager.withShard('s0', () => Wallet.where({ owner: 1 }).asyncPluck('balance'))).toEqual(
          [100],
        )
        return total
      })
    expect(total).toBe(3)
    expect(await wallets()).toEqual({
      s0: ['1:1:0', '2:2:100'],
      s1: ['11:1:0', '12:2:100', '99:3:300'],
      s2: ['21:1:0', '22:2:100'],
    })
    expect(await preparedCount(manager)).toBe(0)
    expect((await sql`select * from tributary_transactions`.execute(manager.database('s0'))).rows).toEqual([])
  })

  it('keeps nothing of a callback that throws after writing on every shard', async () => {
    const before = await wallets()
    const error = await Wallet.acrossShards()
      .transaction(async (tx) => {
        await tx.asyncDelete()
        await tx.eachShard((shard) => Wallet.asyncInsert({ id: 50, owner: 5, balance: shard.length }))
        throw new Error('changed my mind')
      })
      .catch((e: unknown) => e)
    expect(isShardTransactionError(error)).toBe(true)
    expect((error as ShardTransactionError).outcomes.map((o) => o.state)).toEqual([
      'rolled back',
      'rolled back',
      'rolled back',
    ])
    expect(await wallets()).toEqual(before)
  })

  it('a write failing on one shard is a ShardError naming it; the transaction then rolls back everywhere', async () => {
    await sql`insert into wallets (id, owner, balance) values (60, 6, 6)`.execute(manager.database('s2'))
    const before = await wallets()
    let inner: unknown
    const error = await Wallet.acrossShards()
      .transaction(async (tx) => {
        await tx.asyncUpdate({ balance: 1 })
        inner = await tx
          .eachShard(() => Wallet.asyncInsert({ id: 60, owner: 6, balance: 6 }))
          .catch((e: unknown) => e)
        throw inner
      })
      .catch((e: unknown) => e)
    expect(isShardError(inner)).toBe(true)
    expect((inner as { failedShards: string[] }).failedShards).toEqual(['s2'])
    expect(isShardTransactionError(error)).toBe(true)
    expect((error as ShardTransactionError).decision).toBe('rolled back')
    expect(await wallets()).toEqual(before)
    expect(await preparedCount(manager)).toBe(0)
  })

  it('routes the scope writes by shardKey: only the named shard takes part (a plain commit)', async () => {
    const resolver = { resolve: (id: unknown) => NAMES[Math.floor(Number(id) / 10)] as string }
    const scope = Wallet.acrossShards({ shardKey: { column: 'id', resolver } }).where({ id: 12 })
    const touched = await scope.transaction(async (tx) => {
      await tx.asyncUpdate({ balance: 7 })
      return tx.shards
    })
    expect(touched).toEqual(['s1'])
    expect((await wallets()).s1).toEqual(['11:1:100', '12:2:7'])
  })

  it("a recovery during a long callback that holds the log's shard leaves it alone (the row is locked)", async () => {
    let report: ShardRecoveryReport | undefined
    await Wallet.acrossShards().transaction(async (tx) => {
      await tx.asyncUpdate({ balance: 9 })
      await new Promise((resolve) => setTimeout(resolve, 20))
      report = await recoverShardTransactions(manager, { minAge: 0 }) // the row is older than 0 ms
    })
    expect(report).toEqual({ committed: [], rolledBack: [], skipped: [], forgotten: [], failures: [] })
    expect(
      Object.values(await wallets())
        .flat()
        .every((w) => w.endsWith(':9')),
    ).toBe(true)
    expect((await sql`select * from tributary_transactions`.execute(manager.database('s0'))).rows).toEqual([])
  })

  it('cancel() before the commit point rolls back every shard', async () => {
    const before = await wallets()
    let started!: () => void
    const inside = new Promise<void>((resolve) => (started = resolve))
    const result = Wallet.acrossShards().transaction(async (tx) => {
      try {
        await tx.asyncUpdate({ balance: 5 })
      } finally {
        started()
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    })
    await inside
    result.cancel()
    const error = await result.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isShardTransactionError(error)).toBe(true)
    expect(isAsyncCancelledError((error as Error).cause)).toBe(true)
    expect(await wallets()).toEqual(before)
    expect(await preparedCount(manager)).toBe(0)
  })

  it('a recovery that aborts an undecided transaction (the log on a shard it does not touch) wins over its live coordinator', async () => {
    const before = await wallets()
    let prepared = 0
    let report: ShardRecoveryReport | undefined
    const error = await Wallet.acrossShards({ shards: ['s1', 's2'] })
      .transaction(async (tx) => void (await tx.asyncUpdate({ balance: 42 })), {
        onProgress: async ({ phase }) => {
          if (phase === 'prepared' && ++prepared === 2) {
            report = await recoverShardTransactions(manager, { minAge: 0 })
          }
        },
      })
      .catch((e: unknown) => e)
    expect(report?.rolledBack.map((r) => r.shard).sort()).toEqual(['s1', 's2'])
    expect(report?.forgotten).toHaveLength(1)
    expect(isShardTransactionError(error)).toBe(true)
    expect((error as Error).cause).toEqual(
      expect.objectContaining({ message: expect.stringMatching(/aborted by recoverShardTransactions/) }),
    )
    expect((error as ShardTransactionError).decision).toBe('rolled back')
    expect((error as ShardTransactionError).outcomes.every((o) => o.state === 'rolled back')).toBe(true)
    expect(await wallets()).toEqual(before)
    expect(await preparedCount(manager)).toBe(0)
  })
})

describeWithPostgres('shardTransaction on a PostgreSQL with max_prepared_transactions = 0', () => {
  let dbs: TestDatabase[]
  let manager: ShardManager<any>
  beforeAll(async () => {
    dbs = await Promise.all([
      createPgDatabase('trib_2pc_a', { max: 2 }),
      createPgDatabase('trib_2pc_b', { max: 2 }),
    ])
    for (const d of dbs) await sql`create table accounts (id integer not null)`.execute(d.db)
    manager = new ShardManager({ a: dbs[0]!.db, b: dbs[1]!.db }, { ownsDatabases: false })
  })
  afterAll(async () => {
    await manager?.close()
    await Promise.all((dbs ?? []).map((d) => d.drop()))
  })

  it('rejects with a PreparedTransactionsDisabledError naming the shard and the setting, writing nothing', async () => {
    const { rows } = await sql<{ max_prepared_transactions: string }>`show max_prepared_transactions`.execute(
      dbs[0]!.db,
    )
    if (rows[0]?.max_prepared_transactions !== '0') return // a server configured for 2PC: nothing to show
    const error = await shardTransaction(manager, async (tx) => {
      await insert(tx.database('a'), 1)
      await insert(tx.database('b'), 1)
    }).catch((e: unknown) => e)
    expect(isPreparedTransactionsDisabledError(error)).toBe(true)
    expect(error).toMatchObject({ shard: 'a', setting: 'max_prepared_transactions' })
    expect((error as Error).message).toMatch(/max_prepared_transactions = 100/)
    for (const d of dbs) expect((await sql`select * from accounts`.execute(d.db)).rows).toEqual([])
  })
})
