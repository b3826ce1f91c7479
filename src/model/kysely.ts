/**
 * The values models and shards take from `kysely` (`sql`, `CompiledQuery`), loaded on first
 * use instead of at import: `kysely` is an optional peer dependency, so an application that
 * uses only components (env and file sources) loads tributary without it, and a model or
 * shard call made without it fails with a `MissingDependencyError` that says
 * `npm install kysely`. Types come from `import type` and cost nothing at run time.
 */
import type * as KyselyModule from 'kysely'
import { requireOptional } from '../core/optional'

/** What needs kysely, for the error's message. */
const FEATURE = 'models and shards'

/** The `kysely` module, loaded the first time it is needed. Throws a `MissingDependencyError` when it is not installed. */
export function loadKysely(): typeof KyselyModule {
  return requireOptional<typeof KyselyModule>('kysely', FEATURE)
}

/**
 * kysely's `sql` template tag and its helpers (`sql.id`, `sql.raw`, `sql.lit`, `sql.join`…),
 * each call forwarded to the real one, which is loaded on the first call.
 */
export const sql: typeof KyselyModule.sql = new Proxy(
  (() => undefined) as unknown as typeof KyselyModule.sql,
  {
    apply: (_target, thisArg, args: unknown[]) => Reflect.apply(loadKysely().sql, thisArg, args),
    get: (_target, property) => Reflect.get(loadKysely().sql, property),
  },
)

/** A compiled query (the type of kysely's `CompiledQuery`). */
export type CompiledQuery<R = unknown> = KyselyModule.CompiledQuery<R>

/** kysely's `CompiledQuery` helpers, loaded on first call. */
export const CompiledQuery = {
  /** `CompiledQuery.raw(sql, parameters)`: a query run as written. */
  raw<R = unknown>(sql: string, parameters?: unknown[]): CompiledQuery<R> {
    return loadKysely().CompiledQuery.raw(sql, parameters) as CompiledQuery<R>
  },
}
