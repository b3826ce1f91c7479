/**
 * A Kysely on the PostgreSQL dialect whose driver answers at once with canned rows: the
 * benchmarks' "client work alone" cases, where no server time hides the client's own CPU.
 */
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely'

/** The rows a query's SQL is answered with. */
export type CannedAnswer = (sql: string) => readonly unknown[]

/** A Kysely whose every query resolves at once with `answer(sql)` (`pg_backend_pid()` too). */
export function instantPostgres(answer: CannedAnswer): Kysely<any> {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      if (query.sql.includes('pg_backend_pid')) return { rows: [{ pid: 1 }] as R[] }
      return { rows: answer(query.sql) as R[] }
    },
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {},
  }
  const driver: Driver = {
    init: async () => undefined,
    acquireConnection: async () => connection,
    beginTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
    releaseConnection: async () => undefined,
    destroy: async () => undefined,
  }
  return new Kysely({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })
}
