/**
 * Components: one config class drawing from env, a YAML file, SQLite, Consul, Vault (and Redis
 * when it runs), resolved concurrently, then `explain()` printed as a table. No server needed:
 * the Consul and Vault protocol doubles from test/support are started in this process on
 * 127.0.0.1, and Redis is used only if it answers at TRIBUTARY_REDIS_URL (default
 * redis://127.0.0.1:6379). Run: npx ts-node --transpile-only examples/components.ts
 *
 * (Inside this repository the package is imported from '../src'; an application imports
 * 'tributary'.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import Consul from 'consul'
import Redis from 'ioredis'
import { Kysely, SqliteDialect, sql } from 'kysely'
import vault from 'node-vault'
import {
  Component,
  ComponentCache,
  consulSource,
  databaseSource,
  envSource,
  explain,
  fileSource,
  isComponentResolutionError,
  redisSource,
  resolve,
  vaultSource,
  type ComponentExplanation,
  type ComponentSource,
} from '../src'
import { startConsulDouble } from '../test/support/consul-double'
import { startVaultDouble } from '../test/support/vault-double'

class Limits {
  rps = 0
  burst = 0
  get perMinute(): number {
    return this.rps * 60
  }
}

class AppConfig {
  @Component({ fetchFrom: 'env', key: 'HOST', fallback: 'localhost' }) host!: string
  @Component({ fetchFrom: 'env', key: 'DEBUG', fallback: false }) debug!: boolean
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'server.port' }) port!: number
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'features' }) features!: string[]
  @Component({ fetchFrom: 'consul', key: 'app/limits', ttl: 60, retry: 2, timeout: 1_000 }) limits!: Limits
  @Component({ fetchFrom: 'vault', key: 'secret/data/app', field: 'apiKey', secret: true }) apiKey!: string
  @Component({ fetchFrom: 'database', query: 'SELECT max(version) FROM migrations' }) schema!: number
  @Component({ fetchFrom: 'database', key: 'maintenance_until', required: false }) maintenanceUntil?: Date
}

/** The same, plus a Redis hash field (used when Redis answers). Inheritance keeps the rest. */
class AppConfigWithRedis extends AppConfig {
  @Component({ fetchFrom: 'redis', key: 'settings', field: 'theme', ttl: 3600 }) theme!: string
}

/** `explain()` as an aligned table. */
function table(rows: Record<string, ComponentExplanation>): string {
  const header = ['property', 'source', 'key', 'value', 'origin', 'ms', 'attempts']
  const cells = Object.values(rows).map((r) => [
    r.property,
    r.source,
    r.key ?? '',
    typeof r.value === 'string' ? r.value : (JSON.stringify(r.value) ?? 'undefined'),
    r.origin,
    r.durationMs.toFixed(1),
    String(r.attempts),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] as string).length)))
  const right = new Set([5, 6]) // ms, attempts
  const line = (row: string[]): string =>
    row
      .map((cell, i) =>
        right.has(i) ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}

/** A Redis client when Redis answers within a second, else undefined. */
async function reachableRedis(): Promise<Redis | undefined> {
  const redis = new Redis(process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    return redis
  } catch {
    redis.disconnect()
    return undefined
  }
}

async function main(): Promise<void> {
  const cleanup: Array<() => unknown> = []
  try {
    // A YAML file.
    const dir = mkdtempSync(join(tmpdir(), 'tributary-example-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'app.yaml'), 'server:\n  port: 8443\nfeatures: [search, billing]\n')

    // SQLite in memory.
    const db = new Kysely<never>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
    cleanup.push(() => db.destroy())
    await sql`CREATE TABLE migrations (version integer)`.execute(db)
    await sql`INSERT INTO migrations (version) VALUES (1), (2), (7)`.execute(db)
    await sql`CREATE TABLE config (key text PRIMARY KEY, value text)`.execute(db)

    // Consul and Vault, as protocol doubles on 127.0.0.1, written through their real clients.
    const consulServer = await startConsulDouble()
    cleanup.push(() => consulServer.close())
    const consul = new Consul({ host: consulServer.host, port: consulServer.port })
    cleanup.push(() => consul.destroy())
    await consul.kv.set('app/limits', JSON.stringify({ rps: 25, burst: 50 }))
    const vaultServer = await startVaultDouble()
    cleanup.push(() => vaultServer.close())
    const vaultClient = vault({ endpoint: vaultServer.url, token: vaultServer.token })
    await vaultClient.write('secret/data/app', { data: { apiKey: 'k-7f3a9c' } })

    const sources: ComponentSource[] = [
      envSource({ env: { APP_DEBUG: 'yes' }, prefix: 'APP_' }),
      fileSource({ baseDir: dir }),
      consulSource(consul),
      vaultSource(vaultClient),
      databaseSource(db),
    ]
    let Config: typeof AppConfig = AppConfig
    const redis = await reachableRedis()
    if (redis) {
      cleanup.push(() => redis.quit())
      const prefix = `tributary-example-${process.pid}:`
      await redis.hset(`${prefix}settings`, { theme: 'dark' })
      cleanup.push(() => redis.del(`${prefix}settings`))
      sources.push(redisSource(redis, { prefix }))
      Config = AppConfigWithRedis
    } else {
      console.log('(Redis is not reachable: resolving without the Redis component)\n')
    }

    const cache = new ComponentCache({ maxEntries: 100 })
    const config = await resolve(Config, { sources, cache, timeout: 5_000 })
    console.log(table(explain(config)))
    console.log(`\nlimits: ${config.limits.rps} rps = ${config.limits.perMinute}/min (a Limits instance)`)
    console.log(`config.apiKey holds the real value; JSON.stringify masks it:\n${JSON.stringify(config)}`)

    // Again, sharing the cache: `limits` (ttl 60 s) comes from the cache, without a request.
    const again = await resolve(Config, { sources, cache })
    const limits = explain(again).limits
    console.log(`\nsecond resolve: limits from ${limits?.origin}, ${limits?.attempts} attempts`)

    // Failures are collected, named by property, source and key — never showing the secret.
    class Broken {
      @Component({ fetchFrom: 'consul', key: 'app/missing' }) missing!: string
      @Component({ fetchFrom: 'vault', key: 'secret/data/app', field: 'apiKey', secret: true }) pin!: number
      @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'server.port' }) port!: number
    }
    await resolve(Broken, { sources }).catch((error: unknown) => {
      if (!isComponentResolutionError(error)) throw error
      console.log(`\n${error.message}\n(resolved anyway: ${error.resolved.join(', ')})`)
    })
  } finally {
    for (const step of cleanup.reverse()) await step()
  }
}

void main()
