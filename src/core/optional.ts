/**
 * The one loader of tributary's optional peer dependencies (`kysely`, `pg`, `better-sqlite3`,
 * `mysql2`, `consul`, `node-vault`, `ioredis`, `etcd3`, the NATS client, `ws`,
 * `@opentelemetry/api`, `tsx`). Nothing requires them at load time: a module that needs
 * one calls {@link requireOptional} when the feature is first used, so a config-only
 * application runs with none installed, and a feature used without its package fails with a
 * {@link MissingDependencyError} that says what to install.
 */
import { MissingDependencyError } from './errors'

/** The optional peer dependencies tributary may load. */
export type OptionalPackage =
  | 'kysely'
  | 'pg'
  | 'better-sqlite3'
  | 'mysql2'
  | 'consul'
  | 'node-vault'
  | 'ioredis'
  | 'etcd3'
  | '@nats-io/transport-node'
  | '@nats-io/jetstream'
  | 'ws'
  | '@opentelemetry/api'
  | 'tsx'

const loaded = new Map<OptionalPackage, unknown>()

/**
 * Loads the optional package `name` (once; later calls return the same module). `feature`
 * names what needs it, for the error's message. Throws a {@link MissingDependencyError} when
 * the package itself is not installed; any other failure while loading it (a broken native
 * build, a missing dependency of the package) is thrown as it is. @internal
 */
export function requireOptional<T>(name: OptionalPackage, feature: string): T {
  if (loaded.has(name)) return loaded.get(name) as T
  let module: unknown
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    module = require(name)
  } catch (error) {
    if (isNotFound(error, name)) throw new MissingDependencyError(name, feature, error)
    throw error
  }
  loaded.set(name, module)
  return module as T
}

/** True when `error` is Node's "Cannot find module" for `name` itself (not for one of its dependencies). */
function isNotFound(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`)
}
