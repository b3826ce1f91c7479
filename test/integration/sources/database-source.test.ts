import { Kysely, PostgresDialect, sql } from 'kysely'
import { Pool } from 'pg'
import {
  Component,
  databaseSource,
  isSourceError,
  isSourceNotFoundError,
  isSourceUnavailableError,
  resolve,
  type ComponentSource,
} from 'tributary'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'
import { context, request } from './request'

/** Keys that would change the statement if they were spliced into the SQL text. */
const HOSTILE_KEYS = [
  "x' OR '1'='1",
  "'; DROP TABLE config; --",
  'a%',
  '_',
  "back\\slash'",
  '"double" quoted',
  'ключ 🔑',
]

function databaseSuite(dialect: 'sqlite' | 'postgres'): void {
  let database: TestDatabase
  let source: ComponentSource

  beforeAll(async () => {
    database = await createTestDatabase(dialect, 'tributary_db_source')
    const { db } = database
    await sql`CREATE TABLE config (key varchar(200) PRIMARY KEY, value text)`.execute(db)
    await sql`CREATE TABLE settings (name varchar(200) PRIMARY KEY, setting text, weight integer)`.execute(db)
    await sql`CREATE TABLE migrations (version integer, applied_at varchar(40))`.execute(db)
    await db
      .insertInto('config')
      .values([
        { key: 'db_url', value: 'postgres://db.internal/app' },
        { key: 'limits', value: '{"rps": 10, "burst": {"size": 3}}' },
        { key: 'not_json', value: 'hunter2' },
        { key: 'a\'b"c\\d;--', value: 'exact' },
      ])
      .execute()
    await db.insertInto('settings').values({ name: 'theme', setting: 'dark', weight: 3 }).execute()
    await db
      .insertInto('migrations')
      .values([
        { version: 1, applied_at: '2024-01-01' },
        { version: 7, applied_at: '2024-03-01' },
        { version: 3, applied_at: '2024-02-01' },
      ])
      .execute()
    source = databaseSource(db)
  })
  afterAll(() => database.drop())

  it('is named database (or as told) and applies fields itself', () => {
    expect(source.name).toBe('database')
    expect(databaseSource(database.db, { name: 'sql' }).name).toBe('sql')
    expect(source.appliesField).toBe(true)
  })

  it('a query runs as written and gives the first column of the first row', async () => {
    expect(
      await source.fetch(
        request({ query: 'SELECT version, applied_at FROM migrations ORDER BY version DESC' }),
        context(),
      ),
    ).toBe(7)
    expect(
      await source.fetch(request({ query: "SELECT value FROM config WHERE key = 'db_url'" }), context()),
    ).toBe('postgres://db.internal/app')
  })

  it('a query that returns no row is a SourceNotFoundError naming the query', async () => {
    const query = 'SELECT version FROM migrations WHERE version > 100'
    const error = await source.fetch(request({ query }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(error)).toBe(true)
    expect(error).toMatchObject({
      source: 'database',
      key: query,
      message: `database: query returned no row: ${query}`,
    })
  })

  it('a key reads the value column of the key/value table', async () => {
    expect(await source.fetch(request({ key: 'db_url' }), context())).toBe('postgres://db.internal/app')
    expect(await source.fetch(request({ property: 'db_url' }), context())).toBe('postgres://db.internal/app')
    const missing = await source.fetch(request({ key: 'nope' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    expect((missing as Error).message).toBe('database: key "nope" not found in table config')
  })

  it('the table and its columns are configurable', async () => {
    const settings = databaseSource(database.db, {
      table: 'settings',
      keyColumn: 'name',
      valueColumn: 'setting',
    })
    expect(await settings.fetch(request({ key: 'theme' }), context())).toBe('dark')
    const weights = databaseSource(database.db, {
      table: 'settings',
      keyColumn: 'name',
      valueColumn: 'weight',
    })
    expect(await weights.fetch(request({ key: 'theme' }), context())).toBe(3)
  })

  it('binds the key as a parameter: hostile keys match nothing, change nothing, and an odd key matches exactly', async () => {
    for (const key of HOSTILE_KEYS) {
      const error = await source.fetch(request({ key }), context()).catch((e: unknown) => e)
      expect(isSourceNotFoundError(error)).toBe(true)
    }
    expect(await source.fetch(request({ key: 'a\'b"c\\d;--' }), context())).toBe('exact')
    const count = await sql<{ n: number | string }>`SELECT count(*) AS n FROM config`.execute(database.db)
    expect(Number(count.rows[0]?.n)).toBe(4)
  })

  it('picks a dotted field from a JSON value; a value that is not JSON is an error without it', async () => {
    expect(await source.fetch(request({ key: 'limits', field: 'burst.size' }), context())).toBe(3)
    const error = await source
      .fetch(request({ key: 'not_json', field: 'x' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(error)).toBe(true)
    expect((error as Error).message).toBe(
      'database: the value of "not_json" is not valid JSON, so field "x" cannot be read',
    )
  })

  it('a failing statement is a SourceError naming the query or the table', async () => {
    const bad = await source
      .fetch(request({ query: 'SELECT nope FROM nowhere' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(bad)).toBe(true)
    expect((bad as Error).message).toMatch(
      /^database: reading query "SELECT nope FROM nowhere" failed: .*nowhere/,
    )
    const noTable = databaseSource(database.db, { table: 'missing_table' })
    const error = await noTable.fetch(request({ key: 'k' }), context()).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(
      /^database: reading key "k" from missing_table failed: .*missing_table/,
    )
  })

  it('rejects with the reason when the signal has aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(source.fetch(request({ key: 'db_url' }), context(controller.signal))).rejects.toThrow('stop')
  })

  it('resolves a class: coercion from SQL values, one failing component reported with the rest resolved', async () => {
    class Stored {
      @Component({ fetchFrom: 'database', query: 'SELECT max(version) FROM migrations' }) schema!: number
      @Component({ fetchFrom: 'database', key: 'db_url' }) databaseUrl!: URL
      @Component({ fetchFrom: 'database', key: 'limits' }) limits!: { rps: number }
      @Component({ fetchFrom: 'database', key: 'absent' }) absent!: string
    }
    const error = await resolve(Stored, { sources: [source] }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      errors: [expect.objectContaining({ property: 'absent', source: 'database', key: 'absent' })],
      resolved: ['schema', 'databaseUrl', 'limits'],
    })
    const partial = (error as { instance: Stored }).instance
    expect(partial.schema).toBe(7)
    expect(partial.databaseUrl.hostname).toBe('db.internal')
    expect(partial.limits.rps).toBe(10)
  })
}

describe('databaseSource on SQLite', () => databaseSuite('sqlite'))
describeWithPostgres('databaseSource on PostgreSQL', () => {
  databaseSuite('postgres')

  it('an unreachable server is a SourceUnavailableError', async () => {
    const pool = new Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 2_000,
    })
    pool.on('error', () => undefined)
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    try {
      const error = await databaseSource(db)
        .fetch(request({ key: 'k' }), context())
        .catch((e: unknown) => e)
      expect(isSourceUnavailableError(error)).toBe(true)
      expect((error as Error).message).toBe('database: database unavailable (ECONNREFUSED) while reading k')
    } finally {
      await db.destroy()
    }
  })
})
