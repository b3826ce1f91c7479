import { sql } from 'kysely'
import {
  isPreparedTransactionsDisabledError,
  isShardTransactionError,
  type ShardTransactionError,
} from '../../../src/shard/errors'
import { ShardManager } from '../../../src/shard/shard-manager'
import { shardTransaction } from '../../../src/shard/transaction'
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
