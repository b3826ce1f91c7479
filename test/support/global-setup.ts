/**
 * Runs once before all tests: probes PostgreSQL, Redis, NATS, MariaDB/MySQL and the etcd binary
 * and records the result in
 * `process.env`, which the test workers inherit (see services.ts).
 */
import { Client } from 'pg'
import Redis from 'ioredis'
import { execFile } from 'node:child_process'
import { createConnection } from 'node:net'

const pgUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.TRIBUTARY_NATS_URL ?? 'nats://127.0.0.1:4222'
const mysqlUrl = process.env.TRIBUTARY_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const etcdBinary = process.env.TRIBUTARY_ETCD_BIN ?? 'etcd'

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

/** NATS greets every client with an INFO line; JetStream-enabled servers say `"jetstream":true`. */
function probeNats(): Promise<string | undefined> {
  const url = new URL(natsUrl)
  return new Promise((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 4222) })
    let greeting = ''
    const done = (problem: string | undefined): void => {
      socket.destroy()
      resolve(problem)
    }
    socket.setTimeout(3_000, () => done('timed out waiting for INFO'))
    socket.on('error', (error) => done(error.message || String(error)))
    socket.on('data', (chunk) => {
      greeting += chunk.toString('utf8')
      if (!greeting.includes('\n')) return
      done(
        /"jetstream"\s*:\s*true/.test(greeting)
          ? undefined
          : 'the server has JetStream off (start it with -js)',
      )
    })
  })
}

async function probeMysql(): Promise<string | undefined> {
  try {
    const mysql = await import('mysql2/promise')
    const connection = await mysql.createConnection({ uri: mysqlUrl, connectTimeout: 3_000 })
    try {
      await connection.query('SELECT 1')
    } finally {
      await connection.end().catch(() => undefined)
    }
    return undefined
  } catch (error) {
    return (error as Error).message || String(error)
  }
}

function probeEtcd(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(etcdBinary, ['--version'], { timeout: 5_000 }, (error) =>
      resolve(error ? error.message || String(error) : undefined),
    )
  })
}

export default async function globalSetup(): Promise<void> {
  const [pgError, redisError, natsError, mysqlError, etcdError] = await Promise.all([
    probePostgres(),
    probeRedis(),
    probeNats(),
    probeMysql(),
    probeEtcd(),
  ])
  process.env.TRIBUTARY_PG_AVAILABLE = pgError ? '0' : '1'
  process.env.TRIBUTARY_REDIS_AVAILABLE = redisError ? '0' : '1'
  process.env.TRIBUTARY_NATS_AVAILABLE = natsError ? '0' : '1'
  process.env.TRIBUTARY_MYSQL_AVAILABLE = mysqlError ? '0' : '1'
  process.env.TRIBUTARY_ETCD_AVAILABLE = etcdError ? '0' : '1'
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
  if (natsError) {
    missing.push(
      `NATS with JetStream is not reachable at ${natsUrl} (${natsError}); start it with ` +
        '`start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js ' +
        '-sd /var/lib/nats-server -l /var/log/nats-server.log` or `docker compose up -d nats`, or set TRIBUTARY_NATS_URL',
    )
  }
  if (mysqlError) {
    missing.push(
      `MariaDB/MySQL is not reachable at ${mysqlUrl.replace(/:[^:@/]*@/, ':***@')} (${mysqlError}); start it with ` +
        '`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` or `docker compose up -d mariadb`, ' +
        'or set TRIBUTARY_MYSQL_URL',
    )
  }
  if (etcdError) {
    missing.push(
      `the etcd binary \`${etcdBinary}\` is not installed (${etcdError}); install it with ` +
        '`apt-get install etcd-server`, or set TRIBUTARY_ETCD_BIN',
    )
  }
  if (missing.length === 0) return
  if (process.env.CI) {
    throw new Error(`CI is set, so integration suites must not skip:\n- ${missing.join('\n- ')}`)
  }
  for (const line of missing) console.log(`\n[tributary] skipping its suites: ${line}`)
}
