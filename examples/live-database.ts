/**
 * Live components from PostgreSQL, pushed with LISTEN/NOTIFY: installChangeNotifier puts a
 * trigger on the config table, databaseSource's `notify` listens on its channel, and a change
 * arrives in milliseconds although the watchers poll only every 30 s (the safety net). Two
 * classes watch the same key: one shared watcher serves both.
 * Needs PostgreSQL: TRIBUTARY_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres (a
 * scratch database is created and dropped). Without a server it says so and exits with 0.
 * Run: npx ts-node --transpile-only examples/live-database.ts
 * (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
 */
import { performance } from 'node:perf_hooks'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Client, Pool } from 'pg'
import { Component, databaseSource, installChangeNotifier, sharedWatchStats, watch } from '../src'

class RateLimits {
  @Component({ fetchFrom: 'database', key: 'rps' }) rps!: number
  @Component({ fetchFrom: 'database', key: 'mode', fallback: 'normal' }) mode!: string
}

class Gateway {
  @Component({ fetchFrom: 'database', key: 'rps' }) maxRequestsPerSecond!: number
}

async function main(): Promise<void> {
  const adminUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 })
  try {
    await admin.connect()
  } catch (error) {
    console.log(
      `PostgreSQL is not reachable at ${new URL(adminUrl).host} (${(error as Error).message}); nothing to show.`,
    )
    return
  }
  const name = `tributary_example_${process.pid}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const pool = new Pool({ connectionString: url.toString(), max: 4 })
  pool.on('error', () => undefined)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  try {
    await sql`CREATE TABLE config (key text PRIMARY KEY, value text)`.execute(db)
    await sql`INSERT INTO config VALUES ('rps', '100')`.execute(db)
    // Once, at deploy time: AFTER INSERT/UPDATE/DELETE/TRUNCATE triggers that NOTIFY config_changed.
    await installChangeNotifier(db, { table: 'config', channel: 'config_changed' })

    const source = databaseSource(db, { notify: { channel: 'config_changed', connection: url.toString() } })
    const limits = await watch(RateLimits, { sources: [source] })
    const gateway = await watch(Gateway, { sources: [source] })
    console.log('start:', { ...limits.current }, { ...gateway.current })
    console.log('shared watchers:', sharedWatchStats(source)) // { upstreams: 2, subscribers: 3 }

    const started = performance.now()
    const arrived = new Promise<void>((resolve) =>
      gateway.onUpdate((u) => {
        if (u.kind === 'updated') resolve()
      }),
    )
    await sql`UPDATE config SET value = '250' WHERE key = 'rps'`.execute(db)
    await arrived
    console.log(
      `rps 100 → ${gateway.current.maxRequestsPerSecond} in ${(performance.now() - started).toFixed(1)} ms`,
    )

    const added = new Promise<void>((resolve) =>
      limits.onUpdate((u) => {
        if (u.property === 'mode') resolve()
      }),
    )
    await sql`INSERT INTO config VALUES ('mode', 'strict')`.execute(db)
    await added
    console.log('now:', { ...limits.current })

    await Promise.all([limits.stop(), gateway.stop()])
    console.log('stopped; shared watchers:', sharedWatchStats(source))
  } finally {
    await db.destroy()
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
