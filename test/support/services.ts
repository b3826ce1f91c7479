/**
 * Where the integration suites find PostgreSQL and Redis, and whether they are up.
 *
 * `global-setup.ts` probes both once per run and records the answer in the environment that
 * every test worker inherits. Without `CI`, a missing service skips its suites (with one printed
 * line saying how to start it); with `CI` set, a missing service fails the run.
 */

/** A PostgreSQL URL for an administrative connection. */
export const pgUrl = process.env.TRIBUTARY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A Redis URL. */
export const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** True when global setup reached PostgreSQL. */
export const hasPostgres = process.env.TRIBUTARY_PG_AVAILABLE === '1'

/** True when global setup reached Redis. */
export const hasRedis = process.env.TRIBUTARY_REDIS_AVAILABLE === '1'

/** `describe` when PostgreSQL is up, else a skipped describe (global setup printed why). */
export const describeWithPostgres: jest.Describe = hasPostgres ? describe : describe.skip

/** `describe` when Redis is up, else a skipped describe (global setup printed why). */
export const describeWithRedis: jest.Describe = hasRedis ? describe : describe.skip

/** The SQL dialects the model suites loop over: `TRIBUTARY_DIALECTS` (default `sqlite,postgres`). */
export function testDialects(): Array<'sqlite' | 'postgres'> {
  const wanted = (process.env.TRIBUTARY_DIALECTS ?? 'sqlite,postgres')
    .split(',')
    .map((d) => d.trim())
    .filter((d): d is 'sqlite' | 'postgres' => d === 'sqlite' || d === 'postgres')
  return wanted.filter((d) => d === 'sqlite' || hasPostgres)
}
