/**
 * `httpSource()`: components fetched over HTTP with the built-in `fetch`.
 */
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { maskUrlCredentials, redactSecrets } from '../../core/redact'
import type { ComponentRequest, SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import { httpStatusError } from './http-errors'
import { fetchFailure, httpTarget, readHttpValue, type HttpSettings } from './http-exchange'
import { watchHttp } from './http-watcher'

/** What `httpSource(options)` may hold. */
const HTTP_OPTIONS: OptionSpec = {
  headers: checks.either(
    'an object of header names to strings',
    (v) =>
      checks.object(v) ?? (Object.values(v as object).every((h) => typeof h === 'string') ? undefined : 'no'),
  ),
  bearerToken: checks.string,
  baseUrl: checks.string,
  name: checks.name,
}

export {
  HttpNotFoundError,
  HttpPermissionError,
  HttpStatusError,
  HttpUnavailableError,
  isHttpStatusError,
  type HttpSourceStatusError,
} from './http-errors'

/** Options of {@link httpSource}. */
export interface HttpSourceOptions {
  /** Headers sent with every request. Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>
  /** Sent as `Authorization: Bearer <token>`; never printed. Defaults to none. */
  readonly bearerToken?: string
  /** Relative keys resolve against this URL. Defaults to none (keys must be absolute URLs). */
  readonly baseUrl?: string
  /** The name `fetchFrom` refers to. Defaults to `'http'`. */
  readonly name?: string
}

/**
 * A source doing one GET per component: the key is the URL (absolute, or relative to
 * `baseUrl`). A JSON content type (`application/json`, `*+json`) is parsed, anything else is
 * returned as text; `field` picks a dotted path from the JSON. Non-2xx answers become errors
 * carrying `status` (404 is a `SourceNotFoundError`, 401/403 a `SourcePermissionError`,
 * 429/502/503/504 a `SourceUnavailableError`). The request's `AbortSignal` cancels the request.
 * The bearer token and any credentials in the URL never appear in an error message. `watch`
 * polls with `If-None-Match` and honours `Cache-Control: max-age` (see `watchHttp`).
 *
 * @example
 * ```ts
 * import { Component, httpSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'http', key: '/flags', field: 'beta', retry: 3, timeout: 2_000 }) beta!: boolean
 * }
 * const sources = [httpSource({ baseUrl: 'http://127.0.0.1:8080', bearerToken: process.env.TOKEN })]
 * const config = await resolve(AppConfig, { sources })
 * ```
 */
export function httpSource(options: HttpSourceOptions = {}): WatchableSource {
  checkOptions('httpSource(options)', options, HTTP_OPTIONS)
  const name = options.name ?? 'http'
  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.8' }
  for (const [header, value] of Object.entries(options.headers ?? {})) headers[header.toLowerCase()] = value
  if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`
  const secrets = [options.bearerToken].filter((s): s is string => typeof s === 'string' && s.length > 0)
  const settings: HttpSettings = {
    name,
    headers,
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
    redact: (text) => maskUrlCredentials(redactSecrets(text, secrets)),
  }

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      const target = httpTarget(request.key ?? request.property, settings)
      let response: Response
      try {
        response = await fetch(target.url, {
          headers: target.headers,
          signal: context.signal,
          redirect: 'follow',
        })
      } catch (error) {
        throw fetchFailure(error, context.signal, target, settings)
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined)
        throw httpStatusError(response.status, name, target.shown)
      }
      return readHttpValue(response, request.field, target, settings, context.signal)
    },
    watch: (request, watchOptions) => watchHttp(request, watchOptions, settings),
  }
}
