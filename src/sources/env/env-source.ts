/**
 * `envSource()`: components read from environment variables (or any string record).
 */
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { throwIfAborted } from '../../core/abort'
import {
  SourceError,
  SourceNotFoundError,
  selectField,
  type ComponentRequest,
  type SourceContext,
} from '../source'
import type { WatchableSource } from '../watch'
import { watchEnv } from './env-watcher'

/** Options of {@link envSource}. */
export interface EnvSourceOptions {
  /**
   * The variables to read. Read at every fetch, so later changes are seen.
   * Defaults to `process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Prepended to every key, e.g. `'APP_'` turns key `PORT` into `APP_PORT`. Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'env'`. */
  readonly name?: string
}

/** What `envSource(options)` may hold. */
const ENV_OPTIONS: OptionSpec = {
  env: checks.object,
  prefix: checks.string,
  name: checks.name,
}

/**
 * A source reading environment variables. The key (or, without one, the property name) names
 * the variable; a missing variable is a `SourceNotFoundError`. With `field`, the variable is
 * parsed as JSON and the dotted field picked from it. `watch` polls the variable (see
 * `watchEnv`).
 *
 * @example
 * ```ts
 * import { Component, envSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'PORT', fallback: 8080 }) port!: number
 * }
 * const config = await resolve(AppConfig, { sources: [envSource({ prefix: 'APP_' })] })
 * ```
 */
export function envSource(options: EnvSourceOptions = {}): WatchableSource {
  checkOptions('envSource(options)', options, ENV_OPTIONS)
  const name = options.name ?? 'env'
  const prefix = options.prefix ?? ''
  const source: WatchableSource = {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const variable = `${prefix}${request.key ?? request.property}`
      const env = options.env ?? process.env
      const value = Object.prototype.hasOwnProperty.call(env, variable) ? env[variable] : undefined
      if (value === undefined) {
        throw new SourceNotFoundError(
          { source: name, key: variable },
          `${name}: variable ${variable} is not set`,
        )
      }
      if (request.field === undefined) return value
      let document: unknown
      try {
        document = JSON.parse(value)
      } catch {
        throw new SourceError(
          `${name}: variable ${variable} is not valid JSON, so field ${JSON.stringify(request.field)} cannot be read`,
          { source: name, key: variable },
        )
      }
      return selectField(document, request.field, { source: name, key: variable })
    },
    watch: (request, watchOptions) => watchEnv(source, request, watchOptions),
  }
  return source
}
