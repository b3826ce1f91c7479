/**
 * Runs once before all tests: probes PostgreSQL and Redis and records the result in
 * `process.env`, which the test workers inherit (see services.ts).
 */
import { Client } from 'pg'
import Redis from 'ioredis'

const pgUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function probePostgres(): Promise<string | undefined> {
  const client = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message || String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function probeRedis(): Promise<string | undefined> {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.ping()
    return undefined
  } catch (error) {
    return (error as Error).message || String(error)
  } finally {
    client.disconnect()
  }
}

export default async function globalSetup(): Promise<void> {
  const [pgError, redisError] = await Promise.all([probePostgres(), probeRedis()])
  process.env.TRIBUTARY_PG_AVAILABLE = pgError ? '0' : '1'
  process.env.TRIBUTARY_REDIS_AVAILABLE = redisError ? '0' : '1'
  const missing: string[] = []
  if (pgError) {
    missing.push(
      `PostgreSQL is not reachable at ${pgUrl.replace(/:[^:@/]*@/, ':***@')} (${pgError}); start it with ` +
        '`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or `docker compose up -d postgres`, ' +
        'or set TRIBUTARY_PG_URL',
    )
  }
  if (redisError) {
    missing.push(
      `Redis is not reachable at ${redisUrl} (${redisError}); start it with ` +
        '`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no` or ' +
        '`docker compose up -d redis`, or set TRIBUTARY_REDIS_URL',
    )
  }
  if (missing.length === 0) return
  if (process.env.CI) {
    throw new Error(`CI is set, so integration suites must not skip:\n- ${missing.join('\n- ')}`)
  }
  for (const line of missing) console.log(`\n[tributary] skipping its suites: ${line}`)
}
