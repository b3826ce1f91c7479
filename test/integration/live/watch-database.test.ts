import { sql } from 'kysely'
import { Component, databaseSource, watch } from 'tributary'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'
import { lastIs, logUpdates } from './live-log'

describe.each(testDialects())('watch() on a database (%s)', (dialect) => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase(dialect, 'tributary_watch')
  })
  afterAll(() => database.drop())

  it('a change, a deletion, an outage reported once, and the recovery', async () => {
    const { db } = database
    const create = () => sql`CREATE TABLE config (key varchar(100) PRIMARY KEY, value text)`.execute(db)
    await create()
    await sql`INSERT INTO config (key, value) VALUES ('limit', '10'), ('flags', '["a"]')`.execute(db)
    class DbConfig {
      @Component({ fetchFrom: 'database', key: 'limit', required: false, pollInterval: 20 }) limit?: number
      @Component({ fetchFrom: 'database', key: 'flags', pollInterval: 20 }) flags!: string[]
    }
    const sources = [databaseSource(db)]
    const live = await watch(DbConfig, { sources, backoff: { initialDelay: 20, maxDelay: 100 } })
    const log = logUpdates(live)
    try {
      await sql`UPDATE config SET value = '20' WHERE key = 'limit'`.execute(db)
      await log.until(lastIs('updated limit 10→20'))
      await sql`UPDATE config SET value = '["a","b"]' WHERE key = 'flags'`.execute(db)
      await log.until(lastIs('updated flags ["a"]→["a","b"]'))
      await sql`DELETE FROM config WHERE key = 'limit'`.execute(db)
      await log.until(lastIs('removed limit 20→undefined'))
      await sql`DROP TABLE config`.execute(db)
      await log.until((u) => u.filter((x) => x.kind === 'error').length >= 2)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(live.current).toMatchObject({ limit: undefined, flags: ['a', 'b'] })
      await create()
      await sql`INSERT INTO config (key, value) VALUES ('limit', '30'), ('flags', '["a","b"]')`.execute(db)
      await log.until(lastIs('added limit 30'))
    } finally {
      await live.stop()
    }
    // one error per component for the whole outage
    expect(
      log
        .lines()
        .filter((l) => l.startsWith('error'))
        .sort(),
    ).toEqual(['error flags', 'error limit'])
    expect(log.lines().at(-1)).toBe('added limit 30')
  })
})
