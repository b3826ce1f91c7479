import { sql } from 'kysely'
import { envSource } from '../../../src/sources/env/env-source'
import { watchEnv } from '../../../src/sources/env/env-watcher'
import { databaseSource } from '../../../src/sources/database/database-source'
import { watchDatabase } from '../../../src/sources/database/database-watcher'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'
import { isValue, recorder, request } from './recorder'

describe('env watcher', () => {
  it('polls a record: a change, a removal, a return', async () => {
    const env: Record<string, string | undefined> = { APP_LEVEL: 'info' }
    const rec = recorder({ pollInterval: 10 })
    const watcher = watchEnv(envSource({ env, prefix: 'APP_' }), request('LEVEL'), rec.options)
    await rec.until(isValue('info'))
    env.APP_LEVEL = 'debug'
    await rec.until(isValue('debug'))
    delete env.APP_LEVEL
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    env.APP_LEVEL = 'warn'
    await rec.until(isValue('warn'))
    await watcher.stop()
    expect(rec.events.map((e) => e.kind)).toEqual(['value', 'value', 'removed', 'value'])
  })

  it('polls process.env by default', async () => {
    const name = `TRIBUTARY_LIVE_${process.pid}`
    process.env[name] = 'one'
    const rec = recorder({ pollInterval: 10 })
    const watcher = watchEnv(envSource(), request(name), rec.options)
    try {
      await rec.until(isValue('one'))
      process.env[name] = 'two'
      await rec.until(isValue('two'))
    } finally {
      delete process.env[name]
      await watcher.stop()
    }
  })
})

describe.each(testDialects())('database watcher (%s)', (dialect) => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase(dialect, 'tributary_live')
  })
  afterAll(() => database.drop())

  it('re-runs the query: a change, a deletion, an outage reported once, and the recovery', async () => {
    const { db } = database
    const create = () => sql`CREATE TABLE config (key varchar(100) PRIMARY KEY, value text)`.execute(db)
    await create()
    await sql`INSERT INTO config (key, value) VALUES ('limit', '10')`.execute(db)
    const rec = recorder({ pollInterval: 15 })
    const watcher = watchDatabase(databaseSource(db), request('limit'), rec.options)
    await rec.until(isValue('10'))
    await sql`UPDATE config SET value = '20' WHERE key = 'limit'`.execute(db)
    await rec.until(isValue('20'))
    await sql`DELETE FROM config WHERE key = 'limit'`.execute(db)
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    await sql`DROP TABLE config`.execute(db)
    await rec.until((events) => events.at(-1)?.kind === 'error')
    await new Promise((resolve) => setTimeout(resolve, 150))
    await create()
    await sql`INSERT INTO config (key, value) VALUES ('limit', '30')`.execute(db)
    await rec.until(isValue('30'))
    await watcher.stop()
    expect(rec.events.filter((e) => e.kind === 'error')).toHaveLength(1)
  })
})
