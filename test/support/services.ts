/**
 * Where the integration suites find PostgreSQL, Redis, NATS (JetStream), MariaDB/MySQL and the
 * etcd binary, and whether they are there.
 *
 * `global-setup.ts` probes each once per run and records the answer in the environment that
 * every test worker inherits. Without `CI`, a missing service skips its suites (with one printed
 * line saying how to start it); with `CI` set, a missing service fails the run.
 */
import { spawnSync } from 'node:child_process'

/** A PostgreSQL URL for an administrative connection. */
export const pgUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A Redis URL. */
export const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A NATS server URL (JetStream enabled). */
export const natsUrl = process.env.TRIBUTARY_NATS_URL ?? 'nats://127.0.0.1:4222'

/** A MySQL/MariaDB URL for an administrative connection. */
export const mysqlUrl = process.env.TRIBUTARY_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** The etcd server binary the etcd suites start their own members with. */
export const etcdBinary = process.env.TRIBUTARY_ETCD_BIN ?? 'etcd'

/** True when global setup reached PostgreSQL. */
export const hasPostgres = process.env.TRIBUTARY_PG_AVAILABLE === '1'

/** True when global setup reached Redis. */
export const hasRedis = process.env.TRIBUTARY_REDIS_AVAILABLE === '1'

/** True when global setup reached NATS with JetStream. */
export const hasNats = process.env.TRIBUTARY_NATS_AVAILABLE === '1'

/** True when global setup reached MariaDB/MySQL. */
export const hasMysql = process.env.TRIBUTARY_MYSQL_AVAILABLE === '1'

/** True when global setup found the etcd binary. */
export const hasEtcd = process.env.TRIBUTARY_ETCD_AVAILABLE === '1'

/** `describe` when PostgreSQL is up, else a skipped describe (global setup printed why). */
export const describeWithPostgres: jest.Describe = hasPostgres ? describe : describe.skip

/** `describe` when Redis is up, else a skipped describe (global setup printed why). */
export const describeWithRedis: jest.Describe = hasRedis ? describe : describe.skip

/** `describe` when NATS with JetStream is up, else a skipped describe (global setup printed why). */
export const describeWithNats: jest.Describe = hasNats ? describe : describe.skip

/** `describe` when MariaDB/MySQL is up, else a skipped describe (global setup printed why). */
export const describeWithMysql: jest.Describe = hasMysql ? describe : describe.skip

/** `describe` when the etcd binary is installed, else a skipped describe (global setup printed why). */
export const describeWithEtcd: jest.Describe = hasEtcd ? describe : describe.skip

/**
 * `it` when Redis is up, else a skipped `it`. Never skipped under `CI`: global setup fails the
 * run when a service is missing there.
 */
export const itWithRedis: jest.It = hasRedis ? it : it.skip

/** `it` when Redis and NATS with JetStream are both up (never skipped under `CI`, as above). */
export const itWithRedisAndNats: jest.It = hasRedis && hasNats ? it : it.skip

/** True when `binary --version` runs here. */
export function canRun(binary: string): boolean {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

/**
 * A `describe` for a suite that starts its own server from `binary`: when the binary cannot
 * run, a skipped describe with one printed line saying `missing` — or, with `CI` set, a
 * describe whose one test fails saying it (CI must not skip).
 */
export function describeWithBinary(
  binary: string,
  missing: string,
): (name: string, body: () => void) => void {
  const available = canRun(binary)
  return (name, body) => {
    if (available) return describe(name, body)
    if (process.env.CI) {
      return describe(name, () => {
        it(`needs ${binary}`, () => {
          throw new Error(missing)
        })
      })
    }
    console.log(`skipping "${name}": ${missing}`)
    describe.skip(name, body)
  }
}

/** A SQL dialect the model and shard suites can run on. */
export type TestDialect = 'sqlite' | 'postgres' | 'mysql'

/**
 * The SQL dialects a suite loops over: `TRIBUTARY_DIALECTS` (default `sqlite,postgres,mysql`)
 * among those the suite `supports` (default `sqlite,postgres`), each server dialect only when
 * its server is up.
 */
export function testDialects(): Array<'sqlite' | 'postgres'>
export function testDialects<D extends TestDialect>(supports: readonly D[]): D[]
export function testDialects(supports: readonly TestDialect[] = ['sqlite', 'postgres']): TestDialect[] {
  const wanted = (process.env.TRIBUTARY_DIALECTS ?? 'sqlite,postgres,mysql').split(',').map((d) => d.trim())
  return supports.filter(
    (d) => wanted.includes(d) && (d === 'sqlite' || (d === 'postgres' ? hasPostgres : hasMysql)),
  )
}
