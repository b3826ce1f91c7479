/**
 * `dependsOn` across real sources: the database URL is a secret in Vault; the database source
 * opens its connection from that resolved value (`context.resolved`) and a later component
 * queries it. On SQLite (the URL is a file path) and on PostgreSQL.
 */
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import vault from 'node-vault'
import { Pool } from 'pg'
import { Component, databaseSource, explain, resolve, vaultSource, type ComponentSource } from 'tributary'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'

type AnyKysely = Kysely<Record<string, Record<string, unknown>>>

/**
 * What a user writes: `databaseSource` with a factory that opens the connection from the
 * resolved `databaseUrl` (called once, on the first fetch; `close()` destroys what it opened).
 * The URLs it was given are recorded for the assertions.
 */
function databaseFromResolved(open: (url: string) => AnyKysely): ComponentSource & {
  readonly urls: string[]
  close(): Promise<void>
} {
  const urls: string[] = []
  const source = databaseSource(({ databaseUrl }) => {
    if (typeof databaseUrl !== 'string')
      throw new Error('no databaseUrl resolved (add dependsOn: "databaseUrl")')
    urls.push(databaseUrl)
    return open(databaseUrl)
  })
  const close = source.close!.bind(source)
  return Object.assign(source, { urls, close })
}

function suite(dialect: 'sqlite' | 'postgres'): void {
  let database: TestDatabase
  let double: VaultDouble
  let vaultSrc: ComponentSource

  beforeAll(async () => {
    database = await createTestDatabase(dialect, 'tributary_depends_on')
    await sql`CREATE TABLE config (key varchar(100) PRIMARY KEY, value text)`.execute(database.db)
    await sql`INSERT INTO config (key, value) VALUES ('max_connections', '40'), ('region', 'eu-west')`.execute(
      database.db,
    )
    double = await startVaultDouble()
    double.setSecret('secret/app/db', { url: database.url, user: 'app' })
    vaultSrc = vaultSource(vault({ endpoint: double.url, token: double.token }))
  })
  afterAll(async () => {
    await double.close()
    await database.drop()
  })

  const open = (url: string): AnyKysely =>
    dialect === 'sqlite'
      ? new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(url) }) })
      : new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: url, max: 2 }) }) })

  it('opens the connection from the URL resolved from Vault, then queries it', async () => {
    class AppConfig {
      @Component({ fetchFrom: 'vault', key: 'secret/data/app/db', field: 'url', secret: true })
      databaseUrl!: string
      @Component({ fetchFrom: 'database', key: 'max_connections', dependsOn: 'databaseUrl' })
      maxConnections!: number
      @Component({
        fetchFrom: 'database',
        query: "SELECT value FROM config WHERE key = 'region'",
        dependsOn: 'databaseUrl',
      })
      region!: string
    }
    const db = databaseFromResolved(open)
    try {
      const config = await resolve(AppConfig, { sources: [vaultSrc, db] })
      expect(config).toMatchObject({ databaseUrl: database.url, maxConnections: 40, region: 'eu-west' })
      // One connection, opened from the secret; the secret stays masked.
      expect(db.urls).toEqual([database.url])
      expect(explain(config).databaseUrl).toMatchObject({ value: '***', origin: 'source' })
      expect(JSON.stringify(config)).not.toContain(database.url)
    } finally {
      await db.close()
    }
  })

  it('a factory that cannot open the database is one error per dependent, never printing the URL', async () => {
    class AppConfig {
      @Component({ fetchFrom: 'vault', key: 'secret/data/app/db', field: 'url', secret: true })
      databaseUrl!: string
      @Component({ fetchFrom: 'database', key: 'max_connections', dependsOn: 'databaseUrl' })
      maxConnections!: number
    }
    const failing = databaseSource(({ databaseUrl }) => {
      throw new Error(`cannot connect to ${String(databaseUrl)}`)
    })
    const error = await resolve(AppConfig, { sources: [vaultSrc, failing] }).catch((e: unknown) => e)
    expect((error as AggregateError).errors).toHaveLength(1)
    const message = (error as AggregateError).errors[0].message as string
    expect(message).toContain('database: opening the database failed: cannot connect to ***')
    expect(message).not.toContain(database.url)
    await failing.close?.()
  })

  it('a failed URL leaves its dependents unfetched, each reported', async () => {
    class Broken {
      @Component({ fetchFrom: 'vault', key: 'secret/data/app/missing', field: 'url', secret: true })
      databaseUrl!: string
      @Component({ fetchFrom: 'database', key: 'region', dependsOn: 'databaseUrl' }) region!: string
    }
    const db = databaseFromResolved(open)
    try {
      const error = await resolve(Broken, { sources: [vaultSrc, db] }).catch((e: unknown) => e)
      expect(error).toMatchObject({
        errors: [
          expect.objectContaining({ property: 'databaseUrl', source: 'vault', attempts: 1 }),
          expect.objectContaining({ property: 'region', source: 'database', attempts: 0 }),
        ],
      })
      expect((error as AggregateError).errors[1].message).toBe(
        'Broken.region (source "database", key "region"): not fetched: it depends on databaseUrl, which failed',
      )
      expect(db.urls).toEqual([])
    } finally {
      await db.close()
    }
  })
}

describe('dependsOn: a database URL from Vault (SQLite)', () => suite('sqlite'))
describeWithPostgres('dependsOn: a database URL from Vault (PostgreSQL)', () => suite('postgres'))
