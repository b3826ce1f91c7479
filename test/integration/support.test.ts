import { sql } from 'kysely'
import { createPgDatabase, createSqliteDatabase } from '../support/database'
import { createTestRedis } from '../support/redis'
import { describeWithPostgres, describeWithRedis } from '../support/services'

describeWithPostgres('test support: PostgreSQL', () => {
  it('gives each caller its own database and drops it', async () => {
    const a = await createPgDatabase('support')
    const b = await createPgDatabase('support')
    expect(a.name).not.toBe(b.name)
    await sql`CREATE TABLE t (x int)`.execute(a.db)
    await sql`INSERT INTO t VALUES (1), (2)`.execute(a.db)
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM t`.execute(a.db)
    expect(Number(rows[0]?.n)).toBe(2)
    await expect(sql`SELECT * FROM t`.execute(b.db)).rejects.toThrow(/does not exist/)
    await a.drop()
    await b.drop()
    const check = await createPgDatabase('support')
    const { rows: dbs } = await sql<{
      datname: string
    }>`SELECT datname FROM pg_database WHERE datname IN (${a.name}, ${b.name})`.execute(check.db)
    expect(dbs).toEqual([])
    await check.drop()
  })
})

describe('test support: SQLite', () => {
  it('creates a file database', async () => {
    const s = createSqliteDatabase()
    await sql`CREATE TABLE t (x int)`.execute(s.db)
    await sql`INSERT INTO t VALUES (1)`.execute(s.db)
    const { rows } = await sql<{ x: number }>`SELECT x FROM t`.execute(s.db)
    expect(rows).toEqual([{ x: 1 }])
    await s.drop()
  })
})

describeWithRedis('test support: Redis', () => {
  it('deletes every key under its prefix on cleanup', async () => {
    const r = await createTestRedis('support')
    await r.client.set(`${r.prefix}a`, '1')
    await r.client.set(`${r.prefix}b`, '2')
    const other = await createTestRedis('support')
    expect(await other.client.get(`${r.prefix}a`)).toBe('1')
    await r.cleanup()
    expect(await other.client.exists(`${r.prefix}a`, `${r.prefix}b`)).toBe(0)
    await other.cleanup()
  })
})
