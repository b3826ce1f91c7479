// PostgreSQL LISTEN/NOTIFY for the database watcher, on the real server: every watcher here
// polls every 10 minutes, so only a notification (or the re-read after a reconnect) can bring a
// change in time; a channel without a trigger still polls; stop() releases the connection.
import { sql } from 'kysely'
import { Component, databaseSource, installChangeNotifier, isSourceUnavailableError, watch } from 'tributary'
import { createPgDatabase, type TestDatabase } from '../../support/database'
import { describeWithPostgres } from '../../support/services'
import { isValue, recorder, request, sleep } from './recorder'

const NEVER = 600_000

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describeWithPostgres('database watcher with LISTEN/NOTIFY (real PostgreSQL)', () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createPgDatabase('tributary_notify')
    await sql`CREATE TABLE config (key varchar(100) PRIMARY KEY, value text)`.execute(database.db)
    await sql`CREATE TABLE quiet (key varchar(100) PRIMARY KEY, value text)`.execute(database.db)
    await installChangeNotifier(database.db, { table: 'config', channel: 'config_changed' })
    // twice: it is idempotent
    await installChangeNotifier(database.db, { table: 'config', channel: 'config_changed' })
  })
  afterAll(() => database.drop())

  const set = (table: 'config' | 'quiet', key: string, value: string) =>
    sql`INSERT INTO ${sql.table(table)} (key, value) VALUES (${key}, ${value})
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`.execute(database.db)
  /** Backends of this database that are LISTENing (the watcher's connection). */
  const listeners = async (): Promise<number[]> => {
    const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE datname = ${database.name} AND query ILIKE 'LISTEN%'`.execute(database.db)
    return rows.map((r) => r.pid)
  }
  const notifying = (channel = 'config_changed', safetyPollInterval = NEVER) =>
    databaseSource(database.db, { notify: { channel, connection: database.url, safetyPollInterval } })

  it('a change, a deletion and a return arrive by NOTIFY, without waiting for a poll', async () => {
    await set('config', 'limit', '10')
    const source = notifying()
    const rec = recorder({ pollInterval: NEVER })
    const watcher = source.watch(request('limit'), rec.options)
    try {
      await rec.until(isValue('10'))
      await waitFor(async () => (await listeners()).length === 1)
      await set('config', 'limit', '20')
      await rec.until(isValue('20'))
      await sql`DELETE FROM config WHERE key = 'limit'`.execute(database.db)
      await rec.until((events) => events.at(-1)?.kind === 'removed')
      await set('config', 'limit', '30')
      await rec.until(isValue('30'))
    } finally {
      await watcher.stop()
    }
    expect(rec.events.map((e) => e.kind)).toEqual(['value', 'value', 'removed', 'value'])
    // stop() released the LISTEN connection
    await waitFor(async () => (await listeners()).length === 0)
  })

  it('every watcher of a source shares one LISTEN connection; a query component hears it too', async () => {
    await set('config', 'a', '1')
    await set('config', 'b', '1')
    class Settings {
      @Component({ fetchFrom: 'database', key: 'a', pollInterval: NEVER }) a!: number
      @Component({ fetchFrom: 'database', key: 'b', pollInterval: NEVER }) b!: number
      @Component({ fetchFrom: 'database', query: 'SELECT count(*)::int FROM config', pollInterval: NEVER })
      rows!: number
    }
    const live = await watch(Settings, { sources: [notifying()] })
    try {
      await waitFor(async () => (await listeners()).length === 1)
      const before = live.current.rows
      await set('config', 'b', '2')
      await set('config', 'c', '1')
      await waitFor(() => live.current.b === 2 && live.current.rows === before + 1)
      expect(live.current.a).toBe(1)
      expect(await listeners()).toHaveLength(1)
    } finally {
      await live.stop()
    }
    await waitFor(async () => (await listeners()).length === 0)
  })

  it('after pg_terminate_backend of the listener: one error, a re-read on reconnect, then NOTIFY again', async () => {
    await set('config', 'mode', 'a')
    const source = notifying()
    const rec = recorder({ pollInterval: NEVER, backoff: { initialDelay: 50, maxDelay: 200 } })
    const watcher = source.watch(request('mode'), rec.options)
    try {
      await rec.until(isValue('a'))
      await waitFor(async () => (await listeners()).length === 1)
      const [pid] = await listeners()
      await sql`SELECT pg_terminate_backend(${pid}::int)`.execute(database.db)
      // written while nobody listens (or just as the listener is back): the reconnect's re-read finds it
      await set('config', 'mode', 'b')
      await rec.until(isValue('b'))
      await waitFor(async () => {
        const now = await listeners()
        return now.length === 1 && now[0] !== pid
      })
      await set('config', 'mode', 'c')
      await rec.until(isValue('c'))
    } finally {
      await watcher.stop()
    }
    const errors = rec.events.flatMap((e) => (e.kind === 'error' ? [e.error] : []))
    expect(errors).toHaveLength(1)
    expect(isSourceUnavailableError(errors[0])).toBe(true)
    expect((errors[0] as Error).message).toMatch(
      /cannot LISTEN on channel "config_changed".*polling meanwhile/,
    )
    expect((errors[0] as Error).message).not.toContain(database.url)
  })

  it('a channel no trigger notifies still polls at the safety interval; a NOTIFY of your own wakes it', async () => {
    await set('quiet', 'level', 'info')
    const polled = databaseSource(database.db, {
      table: 'quiet',
      notify: { channel: 'quiet_changed', connection: database.url, safetyPollInterval: 30 },
    })
    const rec = recorder({ pollInterval: NEVER })
    const watcher = polled.watch(request('level'), rec.options)
    const manual = databaseSource(database.db, {
      table: 'quiet',
      notify: { channel: 'quiet_manual', connection: database.url, safetyPollInterval: NEVER },
    })
    const own = recorder({ pollInterval: NEVER })
    const ownWatcher = manual.watch(request('level'), own.options)
    try {
      await rec.until(isValue('info'))
      await own.until(isValue('info'))
      await waitFor(async () => (await listeners()).length === 2)
      await set('quiet', 'level', 'debug')
      await rec.until(isValue('debug'))
      await sleep(100)
      expect(own.values()).toEqual(['info'])
      await sql`NOTIFY quiet_manual, 'anything'`.execute(database.db)
      await own.until(isValue('debug'))
    } finally {
      await Promise.all([watcher.stop(), ownWatcher.stop()])
    }
    await waitFor(async () => (await listeners()).length === 0)
  })

  it('a LISTEN connection that cannot open is one error; the watcher keeps polling at pollInterval', async () => {
    await set('config', 'port', '1')
    const source = databaseSource(database.db, {
      notify: { channel: 'config_changed', connection: 'postgres://postgres@127.0.0.1:1/nothing' },
    })
    const rec = recorder({ pollInterval: 30, backoff: { initialDelay: 20, maxDelay: 50 } })
    const watcher = source.watch(request('port'), rec.options)
    try {
      await rec.until((events) => events.some((e) => e.kind === 'error'))
      await set('config', 'port', '2')
      await rec.until(isValue('2'))
      await sleep(200) // reconnect attempts keep failing meanwhile
    } finally {
      await watcher.stop()
    }
    expect(rec.events.filter((e) => e.kind === 'error')).toHaveLength(1)
  })

  it('bad notify options are refused by the shared options check, naming the source and option', () => {
    const bad = (notify: unknown) => () =>
      databaseSource(database.db, { notify: notify as { channel: string; connection: string } })
    expect(bad({ channel: '', connection: 'x' })).toThrow(/notify\.channel/)
    expect(bad({ channel: 'c' })).toThrow(/notify\.connection/)
    expect(bad({ channel: 'c', connection: 'x', safetyPollInterval: -1 })).toThrow(
      /notify\.safetyPollInterval/,
    )
    expect(bad({ channel: '', connection: 'x' })).toThrow(TypeError)
    expect(bad({ channel: '', connection: 'x' })).toThrow(/databaseSource/)
    expect(bad({ channel: 'c', connection: 'x', safetyPollInterval: -1 })).toThrow(RangeError)
  })
})
