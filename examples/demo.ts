/**
 * `npm run demo`: every capability of tributary in one run, on embedded defaults — SQLite
 * files, env, a YAML file, a local HTTP endpoint, and the Consul and Vault protocol doubles
 * from test/support started on 127.0.0.1. No server needed. When TRIBUTARY_PG_URL or
 * TRIBUTARY_REDIS_URL are set, models and shards run on PostgreSQL and a component reads Redis.
 *
 * (Inside this repository the package is imported from '../src'; an application imports
 * 'tributary'.)
 */
import { createServer, type Server } from 'node:http'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import BetterSqlite3 from 'better-sqlite3'
import Redis from 'ioredis'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import { Client, Pool } from 'pg'
import {
  AsyncCoordinator,
  AsyncEventBus,
  Column,
  Component,
  Model,
  QueryStore,
  ShardManager,
  Table,
  consulSource,
  databaseSource,
  envSource,
  explain,
  fileSource,
  httpSource,
  redisSource,
  resolve,
  vaultSource,
  watch,
  type ComponentSource,
} from '../src'
import { explainTable } from '../src/cli/explain-command'
import { displayValue, formatTable } from '../src/cli/table'
import { updateLine } from '../src/cli/watch-command'
import { startConsulDouble } from '../test/support/consul-double'
import { startVaultDouble } from '../test/support/vault-double'

const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
const paint = (code: string) => (text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text)
const bold = paint('1')
const cyan = paint('1;36')
const dim = paint('2')
const red = paint('31')
const green = paint('32')

const cleanups: Array<() => Promise<unknown> | unknown> = []
const later = (cleanup: () => Promise<unknown> | unknown): void => void cleanups.unshift(cleanup)

function section(title: string, what: string): void {
  console.log(`\n${cyan(`━━ ${title} ━━`)} ${dim(what)}`)
}

function ms(since: number): string {
  return `${(performance.now() - since).toFixed(1)} ms`
}

/** A progress line while seeding: rewritten in place on a terminal, one line otherwise. */
function progress(label: string, total: number): (done: number) => void {
  if (!tty) console.log(dim(`${label}: ${total.toLocaleString('en')} rows`))
  return (done) => {
    if (!tty) return
    const width = 24
    const filled = Math.round((done / total) * width)
    process.stdout.write(
      `\r${dim(label)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')}`,
    )
    if (done >= total) process.stdout.write('\n')
  }
}

// ─── Components ──────────────────────────────────────────────────────────────────────────────

class AppConfig {
  @Component({ fetchFrom: 'env', key: 'DEMO_APP_HOST', fallback: 'localhost' }) host!: string
  @Component({ fetchFrom: 'consul', key: 'app/port' }) port!: number
  @Component({ fetchFrom: 'vault', key: 'secret/data/app', field: 'apiKey', secret: true }) apiKey!: string
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'log.level', debounce: 50 }) logLevel!: string
  @Component({ fetchFrom: 'database', query: "SELECT value FROM config WHERE key = 'max_upload_mb'" })
  maxUploadMb!: number
  @Component({ fetchFrom: 'http', key: '/flags', retry: 2, timeout: 2_000 }) flags!: string[]
  @Component({ fetchFrom: 'http', key: '/limits', field: 'rps', timeout: 2_000 }) rps!: number
}

/** With TRIBUTARY_REDIS_URL set: one more component, cached for an hour. */
class AppConfigWithRedis extends AppConfig {
  @Component({ fetchFrom: 'redis', key: 'settings', field: 'theme', ttl: 3600 }) theme!: string
}

async function slowHttp(delayMs: number): Promise<Server> {
  const server = createServer((req, res) => {
    const body = req.url === '/flags' ? '["search","beta-checkout"]' : '{"rps":250}'
    setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end(body), delayMs)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return server
}

function writeYaml(dir: string, level: string): void {
  // An atomic replace, as editors and config managers do.
  writeFileSync(join(dir, '.app.yaml.tmp'), `log:\n  level: ${level}\nserver:\n  workers: 4\n`)
  renameSync(join(dir, '.app.yaml.tmp'), join(dir, 'app.yaml'))
}

async function components(dir: string): Promise<void> {
  section('Components', 'env, a YAML file, SQLite, HTTP, Consul and Vault (doubles), resolved at once')
  process.env.DEMO_APP_HOST = 'demo.tributary.local'
  writeYaml(dir, 'info')
  const consul = await startConsulDouble()
  later(() => consul.close())
  consul.set('app/port', '8080')
  const vault = await startVaultDouble()
  later(() => vault.close())
  vault.setSecret('secret/app', { apiKey: 'sk-live-7f3a9c2e' })
  const http = await slowHttp(120)
  later(() => new Promise((done) => http.close(done)))
  const configDb = new BetterSqlite3(join(dir, 'config.sqlite'))
  configDb.exec(
    "create table config (key text primary key, value text); insert into config values ('max_upload_mb', '25')",
  )
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: configDb }) })
  later(() => db.destroy())

  const sources: ComponentSource[] = [
    envSource(),
    fileSource({ baseDir: dir }),
    databaseSource(db),
    httpSource({ baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }),
    consulSource({ host: '127.0.0.1', port: consul.port }),
    vaultSource({ endpoint: vault.url, token: vault.token }),
  ]
  later(() => Promise.all(sources.map((s) => s.close?.())))
  let Config: new () => AppConfig = AppConfig
  const redisUrl = process.env.TRIBUTARY_REDIS_URL
  if (redisUrl) {
    const redis = new Redis(redisUrl)
    later(() => redis.quit())
    const prefix = `tributary:demo:${process.pid}:`
    await redis.set(`${prefix}settings`, '{"theme":"dark"}')
    later(() => redis.del(`${prefix}settings`))
    sources.push(redisSource(redis, { prefix }))
    Config = AppConfigWithRedis
  }

  // The first resolve also loads the client libraries (consul, node-vault, kysely…) on demand;
  // time the second, as a long-running service would see it.
  const warmUp = performance.now()
  await resolve(Config, { sources, timeout: 30_000, cache: false })
  console.log(dim(`(a first resolve, which also loaded the client libraries, took ${ms(warmUp)})`))
  const started = performance.now()
  const config = await resolve(Config, { sources, timeout: 30_000 })
  const took = performance.now() - started
  const rows = Object.values(explain(config))
  console.log(explainTable(Config.name, rows, tty).trimEnd())
  const sum = rows.reduce((total, r) => total + r.durationMs, 0)
  console.log(
    `resolved ${rows.length} components in ${bold(`${took.toFixed(1)} ms`)} — the slowest alone took ` +
      `${Math.max(...rows.map((r) => r.durationMs)).toFixed(1)} ms, one after another they would take ${sum.toFixed(1)} ms`,
  )
  console.log(dim(`JSON.stringify(config) masks the secret too: ${JSON.stringify(config).slice(0, 90)}…`))

  section('Live components', 'watch() keeps the instance current; the demo rewrites app.yaml')
  const live = await watch(Config, { sources })
  try {
    const arrived = new Promise<void>((done) => {
      const off = live.onUpdate((update) => {
        console.log(updateLine(update))
        if (update.property === 'logLevel') {
          off()
          done()
        }
      })
    })
    await new Promise((done) => setTimeout(done, 100)) // let the file watcher settle
    const rewritten = performance.now()
    writeYaml(dir, 'debug')
    await arrived
    console.log(
      `live.current.logLevel is now ${bold(live.current.logLevel)} (${ms(rewritten)} after the rewrite, 50 ms of it debounce)`,
    )
  } finally {
    await live.stop()
  }
}

// ─── Models ──────────────────────────────────────────────────────────────────────────────────

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() email!: string
  @Column() active!: boolean
  @Column() score!: number
  @Column() region!: string
}

type Database = { kind: 'sqlite' | 'postgres'; db: Kysely<unknown>; label: string }

async function openDatabase(dir: string, name: string): Promise<Database> {
  const pgUrl = process.env.TRIBUTARY_PG_URL
  if (!pgUrl) {
    const file = join(dir, `${name}.sqlite`)
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) })
    later(() => db.destroy())
    return { kind: 'sqlite', db, label: `SQLite ${name}.sqlite` }
  }
  const database = `tributary_demo_${name}_${process.pid}`
  const admin = new Client({ connectionString: pgUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${database}"`)
  await admin.end()
  const url = new URL(pgUrl)
  url.pathname = `/${database}`
  const pool = new Pool({ connectionString: url.toString(), max: 10 })
  pool.on('error', () => undefined)
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  later(async () => {
    await db.destroy()
    const drop = new Client({ connectionString: pgUrl })
    await drop.connect()
    await drop.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
    await drop.end()
  })
  return { kind: 'postgres', db, label: `PostgreSQL ${database}` }
}

async function seedUsers(
  target: Database,
  count: number,
  scoreOf: (i: number) => number,
  label: string,
): Promise<void> {
  const { db, kind } = target
  await sql`create table users (id integer primary key, email text not null, active boolean not null,
    score integer not null, region text not null)`.execute(db)
  const tick = progress(label, count)
  const batch = 500
  for (let start = 0; start < count; start += batch) {
    const rows = []
    for (let i = start; i < Math.min(count, start + batch); i++) {
      rows.push({
        id: i + 1,
        email: `user${i + 1}@example.com`,
        active: kind === 'sqlite' ? Number(i % 3 !== 0) : i % 3 !== 0,
        score: scoreOf(i),
        region: ['eu', 'us', 'apac'][i % 3]!,
      })
    }
    await (db as Kysely<{ users: Record<string, unknown> }>).insertInto('users').values(rows).execute()
    tick(Math.min(count, start + batch))
  }
}

async function models(dir: string): Promise<void> {
  const target = await openDatabase(dir, 'users')
  section('Models', `a Kysely-backed Model on ${target.label}: aggregates started together`)
  await seedUsers(target, 20_000, (i) => (i * 37) % 101, 'seeding users')
  User.use(target.db)
  const started = performance.now()
  const coordinator = new AsyncCoordinator()
  const handles = {
    'User.where({ active: true }).asyncCount()': User.where({ active: true }).asyncCount(),
    "User.asyncSum('score')": User.asyncSum('score'),
    "User.asyncAvg('score')": User.asyncAvg('score'),
    "User.where({ region: 'eu' }).asyncMax('score')": User.where({ region: 'eu' }).asyncMax('score'),
    "User.asyncFindBy({ email: 'user42@example.com' })": User.asyncFindBy({ email: 'user42@example.com' }),
    "User.where('score', '>', 99).asyncExists()": User.where('score', '>', 99).asyncExists(),
  }
  for (const handle of Object.values(handles)) coordinator.add(handle as PromiseLike<unknown>)
  console.log(dim(`${Object.keys(handles).length} helpers started; doing other work while they run…`))
  const values = await coordinator.waitAll()
  const rows = Object.keys(handles).map((helper, i) => ({ helper, value: values[i] }))
  console.log(
    formatTable(
      rows,
      [
        { heading: 'helper', cell: (r) => r.helper },
        {
          heading: 'answer',
          cell: (r) =>
            displayValue(r.value instanceof User ? { id: r.value.id, email: r.value.email } : r.value),
        },
      ],
      { colour: tty },
    ).trimEnd(),
  )
  console.log(
    `all ${rows.length} answered in ${bold(ms(started))} (each returns an AsyncResult: await it, or .wait())`,
  )
  User.use(null)
}

// ─── Shards ──────────────────────────────────────────────────────────────────────────────────

@Table('users')
class ShardedUser extends Model {
  @Column({ primary: true }) id!: number
  @Column() score!: number
}

async function shards(dir: string): Promise<void> {
  const sizes = { eu: 6_000, us: 500, apac: 500 } as const
  const scoreBase = { eu: 20, us: 80, apac: 90 } as const
  const opened: Record<string, Kysely<unknown>> = {}
  let label = ''
  for (const name of Object.keys(sizes) as Array<keyof typeof sizes>) {
    const target = await openDatabase(dir, `shard_${name}`)
    label = target.kind === 'sqlite' ? 'three SQLite files' : 'three PostgreSQL databases'
    await seedUsers(target, sizes[name], (i) => scoreBase[name] + (i % 11) - 5, `seeding shard ${name}`)
    opened[name] = target.db
  }
  section('Shards', `one query fanned out over ${label}, merged exactly`)
  const manager = new ShardManager(opened, { ownsDatabases: false })
  ShardedUser.use(manager)
  later(() => manager.close())
  const perShard = await Promise.all(
    manager.names.map(async (name) => {
      const started = performance.now()
      const [avg, count] = await manager.withShard(name, () =>
        Promise.all([ShardedUser.asyncAvg('score'), ShardedUser.asyncCount()]),
      )
      return { name, avg: avg ?? 0, count, ms: performance.now() - started }
    }),
  )
  const started = performance.now()
  const exact = await ShardedUser.acrossShards().asyncAvg('score')
  const mergedMs = performance.now() - started
  const meanOfMeans = perShard.reduce((total, s) => total + s.avg, 0) / perShard.length
  console.log(
    formatTable(
      [
        ...perShard,
        { name: 'merged', avg: exact ?? 0, count: perShard.reduce((t, s) => t + s.count, 0), ms: mergedMs },
      ],
      [
        { heading: 'shard', cell: (r) => r.name },
        { heading: 'avg(score)', cell: (r) => r.avg.toFixed(2), right: true },
        { heading: 'rows', cell: (r) => r.count.toLocaleString('en'), right: true },
        { heading: 'ms', cell: (r) => r.ms.toFixed(1), right: true },
      ],
      { colour: tty },
    ).trimEnd(),
  )
  console.log(
    `User.acrossShards().asyncAvg('score') = ${green((exact ?? 0).toFixed(2))} (Σsum/Σcount); ` +
      `the mean of the three shard averages would say ${red(meanOfMeans.toFixed(2))} — wrong, because eu holds most rows`,
  )
}

// ─── Event bus ───────────────────────────────────────────────────────────────────────────────

class OrderPlaced {
  constructor(
    readonly id: number,
    readonly total: number,
  ) {}
}

async function eventBus(): Promise<void> {
  section('Event bus', 'class-keyed events; a handler rate-limited to 4 per 200 ms, others unbounded')
  const bus = new AsyncEventBus()
  const started = performance.now()
  const receipts: Array<{ handler: string; id: number; at: number }> = []
  bus.on(
    OrderPlaced,
    async (e) => void receipts.push({ handler: 'audit', id: e.id, at: performance.now() - started }),
  )
  bus.on(
    OrderPlaced,
    async (e) => void receipts.push({ handler: 'mailer', id: e.id, at: performance.now() - started }),
    { rateLimit: { max: 4, windowMs: 200, onLimit: 'queue' }, concurrency: 2 },
  )
  const emits = []
  for (let id = 1; id <= 10; id++) emits.push(bus.emit(new OrderPlaced(id, id * 10)))
  await Promise.all(emits)
  const byHandler = (name: string) => receipts.filter((r) => r.handler === name)
  console.log(
    formatTable(
      ['audit', 'mailer'].map((name) => ({ name, list: byHandler(name) })),
      [
        { heading: 'handler', cell: (r) => r.name },
        { heading: 'events', cell: (r) => String(r.list.length), right: true },
        { heading: 'first at', cell: (r) => `${r.list[0]!.at.toFixed(0)} ms`, right: true },
        { heading: 'last at', cell: (r) => `${r.list.at(-1)!.at.toFixed(0)} ms`, right: true },
      ],
      { colour: tty },
    ).trimEnd(),
  )
  console.log(
    `10 awaited emits: every handler ran for every event; the mailer was paced by its rate limit (queue)`,
  )
  await bus.close()
}

// ─── Query store ─────────────────────────────────────────────────────────────────────────────

async function queryStore(): Promise<void> {
  section('Query store', 'keyed queries with staleTime, deduplication and a bounded cache')
  const store = new QueryStore({ maxEntries: 1_000, staleTime: 60_000 })
  let calls = 0
  const loadUser = async (id: number, signal: AbortSignal): Promise<{ id: number; name: string }> => {
    calls += 1
    await new Promise((done) => setTimeout(done, 80))
    signal.throwIfAborted()
    return { id, name: `Ada #${id}` }
  }
  const timed = async (label: string, work: () => Promise<unknown>) => {
    const started = performance.now()
    const value = await work()
    return { label, value, ms: performance.now() - started, calls }
  }
  const rows = [
    await timed("store.fetch(['user', 1], …)  first: a miss", () =>
      store.fetch(['user', 1], ({ signal }) => loadUser(1, signal)),
    ),
    await timed("store.fetch(['user', 1], …)  again: fresh, from the cache", () =>
      store.fetch(['user', 1], ({ signal }) => loadUser(1, signal)),
    ),
    await timed("100 concurrent fetches of ['user', 2]: made once", () =>
      Promise.all(
        Array.from({ length: 100 }, () => store.fetch(['user', 2], ({ signal }) => loadUser(2, signal))),
      ).then((all) => all[0]),
    ),
  ]
  console.log(
    formatTable(
      rows,
      [
        { heading: 'call', cell: (r) => r.label },
        { heading: 'answer', cell: (r) => displayValue(r.value) },
        { heading: 'ms', cell: (r) => r.ms.toFixed(1), right: true },
        { heading: 'loader calls so far', cell: (r) => String(r.calls), right: true },
      ],
      { colour: tty },
    ).trimEnd(),
  )
  store.close()
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  console.log(bold('tributary demo') + dim(' — every capability, no server needed'))
  const started = performance.now()
  try {
    await components(dir)
    await models(dir)
    await shards(dir)
    await eventBus()
    await queryStore()
    console.log(
      `\n${green('done')} in ${(performance.now() - started) / 1000 < 1 ? ms(started) : `${((performance.now() - started) / 1000).toFixed(1)} s`}. ` +
        `Next: README.md for each capability, \`npm run tributary -- explain <module>\` for your own config class.`,
    )
  } finally {
    for (const cleanup of cleanups.splice(0)) await Promise.resolve(cleanup()).catch(() => undefined)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
