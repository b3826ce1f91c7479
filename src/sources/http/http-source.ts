/**
 * `httpSource()`: components fetched over HTTP with the built-in `fetch`.
 */
import { abortError } from '../../core/abort'
import { hasErrorKind } from '../../core/errors'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectField,
  type ComponentRequest,
  type ComponentSource,
  type SourceContext,
  type SourceErrorDetails,
} from '../source'

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

/** A non-2xx HTTP answer that is none of the more specific cases below. Carries `status`. */
export class HttpStatusError extends SourceError {
  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(message, details)
  }
}

/** A 404 or 410 answer: the key is a {@link SourceNotFoundError} that carries `status`. */
export class HttpNotFoundError extends SourceNotFoundError {
  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** A 401 or 403 answer: a {@link SourcePermissionError} that carries `status`. */
export class HttpPermissionError extends SourcePermissionError {
  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** A 429, 502, 503 or 504 answer: a {@link SourceUnavailableError} that carries `status`. */
export class HttpUnavailableError extends SourceUnavailableError {
  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** Any error {@link httpSource} throws for a non-2xx answer; all carry `status`. */
export type HttpSourceStatusError =
  HttpStatusError | HttpNotFoundError | HttpPermissionError | HttpUnavailableError

/** True when `error` came from a non-2xx HTTP answer (it then has a numeric `status`). */
export function isHttpStatusError(error: unknown): error is HttpSourceStatusError {
  return ['HttpStatusError', 'HttpNotFoundError', 'HttpPermissionError', 'HttpUnavailableError'].some(
    (kind) => hasErrorKind(error, kind),
  )
}

/**
 * A source doing one GET per component: the key is the URL (absolute, or relative to
 * `baseUrl`). A JSON content type (`application/json`, `*+json`) is parsed, anything else is
 * returned as text; `field` picks a dotted path from the JSON. Non-2xx answers become errors
 * carrying `status` (404 is a `SourceNotFoundError`, 401/403 a `SourcePermissionError`,
 * 429/502/503/504 a `SourceUnavailableError`). The request's `AbortSignal` cancels the request.
 * The bearer token and any credentials in the URL never appear in an error message.
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
export function httpSource(options: HttpSourceOptions = {}): ComponentSource {
  const name = options.name ?? 'http'
  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.8' }
  for (const [header, value] of Object.entries(options.headers ?? {})) headers[header.toLowerCase()] = value
  if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`
  const secrets = [options.bearerToken].filter((s): s is string => typeof s === 'string' && s.length > 0)
  const redact = (text: string): string =>
    secrets.reduce((out, secret) => out.split(secret).join('***'), text)

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      const key = request.key ?? request.property
      let url: URL
      try {
        url = new URL(key, options.baseUrl)
      } catch {
        throw new SourceError(`${name}: ${JSON.stringify(redact(key))} is not a valid URL`, {
          source: name,
          key,
        })
      }
      const shown = redact(displayUrl(url))
      const details = { source: name, key: shown }
      let response: Response
      try {
        response = await fetch(url, { headers, signal: context.signal, redirect: 'follow' })
      } catch (error) {
        if (context.signal.aborted) throw abortError(context.signal, `${name} fetch`)
        const reason = describeFetchFailure(error)
        throw new SourceUnavailableError(
          { ...details, cause: new Error(redact(reason)) },
          `${name}: GET ${shown} failed: ${redact(reason)}`,
        )
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined)
        throw statusError(response.status, name, shown)
      }
      const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
      const isJson = type === 'application/json' || type.endsWith('+json')
      let text: string
      try {
        text = await response.text()
      } catch (error) {
        if (context.signal.aborted) throw abortError(context.signal, `${name} fetch`)
        throw new SourceUnavailableError(
          { ...details, cause: error },
          `${name}: reading the body of ${shown} failed`,
        )
      }
      if (!isJson) {
        if (request.field !== undefined) {
          throw new SourceError(
            `${name}: ${shown} answered ${type || 'without a content type'}, so field ${JSON.stringify(request.field)} cannot be read`,
            details,
          )
        }
        return text
      }
      let document: unknown
      try {
        document = JSON.parse(text)
      } catch {
        throw new SourceError(`${name}: ${shown} answered ${type} that is not valid JSON`, details)
      }
      return request.field === undefined ? document : selectField(document, request.field, details)
    },
  }
}

function statusError(status: number, name: string, shown: string): SourceError {
  const details = { source: name, key: shown }
  const message = `${name}: GET ${shown} answered ${status}`
  if (status === 404 || status === 410) return new HttpNotFoundError(status, details, message)
  if (status === 401 || status === 403) return new HttpPermissionError(status, details, message)
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return new HttpUnavailableError(status, details, message)
  }
  return new HttpStatusError(status, details, message)
}

/** The URL without credentials, query or fragment (either may carry a secret). */
function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`
}

function describeFetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause
  if (cause && typeof cause.code === 'string') return cause.code
  if (cause && typeof cause.message === 'string') return cause.message
  return error instanceof Error ? error.message : String(error)
}
