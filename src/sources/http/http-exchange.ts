/**
 * One HTTP exchange of the HTTP source and its watcher: the URL a key names (and how it is
 * shown in errors, without credentials), a failed request as a typed error, and an answer's
 * body as a component value.
 */
import { abortError } from '../../core/abort'
import { maskUrlCredentials } from '../../core/redact'
import { SourceError, SourceUnavailableError, selectField, type SourceErrorDetails } from '../source'

/** What the HTTP source and its watcher share, built once by `httpSource`. */
export interface HttpSettings {
  /** The source name. */
  readonly name: string
  /** Headers sent with every request (lower-case names, the bearer token included). */
  readonly headers: Readonly<Record<string, string>>
  /** Relative keys resolve against this URL. Defaults to none (keys must be absolute URLs). */
  readonly baseUrl?: string
  /** Removes secrets (the bearer token) from a text before it goes into an error. */
  redact(text: string): string
}

/** The URL a component reads, as requested and as shown in errors. */
export interface HttpTarget {
  readonly url: URL
  /** The URL without credentials, query or fragment, secrets redacted. */
  readonly shown: string
  /** `{ source, key: shown }` for error details. */
  readonly details: SourceErrorDetails
  /**
   * The headers to send: the source's, plus `authorization: Basic …` when the URL held
   * `user:password@` (which `fetch` refuses in a URL); `url` then has no credentials.
   */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The target of a key (absolute, or relative to `baseUrl`); a key that is not a URL is a
 * {@link SourceError} naming the redacted key.
 *
 * @example
 * ```ts
 * const { url, shown } = httpTarget('/flags', settings) // shown: 'http://127.0.0.1:8080/flags'
 * ```
 */
export function httpTarget(key: string, settings: HttpSettings): HttpTarget {
  const { name, redact } = settings
  let url: URL
  try {
    url = new URL(key, settings.baseUrl)
  } catch {
    throw new SourceError(`${name}: ${JSON.stringify(redact(key))} is not a valid URL`, {
      source: name,
      key,
    })
  }
  const shown = redact(displayUrl(url))
  let headers = settings.headers
  if (url.username !== '' || url.password !== '') {
    const user = safeDecode(url.username)
    const password = safeDecode(url.password)
    headers = { ...headers, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
    url.username = ''
    url.password = ''
  }
  return { url, shown, details: { source: name, key: shown }, headers }
}

/**
 * The error to throw when `fetch` itself failed: the signal's reason when it was aborted, else
 * a {@link SourceUnavailableError} naming the network failure (redacted), never the request.
 *
 * @example
 * ```ts
 * try { await fetch(url, { signal }) } catch (e) { throw fetchFailure(e, signal, target, settings) }
 * ```
 */
export function fetchFailure(
  error: unknown,
  signal: AbortSignal,
  target: HttpTarget,
  settings: HttpSettings,
): unknown {
  if (signal.aborted) return abortError(signal, `${settings.name} fetch`)
  const reason = maskUrlCredentials(settings.redact(describeFetchFailure(error)))
  return new SourceUnavailableError(
    { ...target.details, cause: new Error(reason) },
    `${settings.name}: GET ${target.shown} failed: ${reason}`,
  )
}

/**
 * The component value of a 2xx answer: JSON (`application/json`, `*+json`) parsed and `field`
 * picked from it, anything else the text (a `field` on text is a {@link SourceError}).
 *
 * @example
 * ```ts
 * const value = await readHttpValue(response, 'beta', target, settings, signal)
 * ```
 */
export async function readHttpValue(
  response: Response,
  field: string | undefined,
  target: HttpTarget,
  settings: HttpSettings,
  signal: AbortSignal,
): Promise<unknown> {
  const { name } = settings
  const { shown, details } = target
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  const isJson = type === 'application/json' || type.endsWith('+json')
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    if (signal.aborted) throw abortError(signal, `${name} fetch`)
    throw new SourceUnavailableError(
      { ...details, cause: error },
      `${name}: reading the body of ${shown} failed`,
    )
  }
  if (!isJson) {
    if (field !== undefined) {
      throw new SourceError(
        `${name}: ${shown} answered ${type || 'without a content type'}, so field ${JSON.stringify(field)} cannot be read`,
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
  return field === undefined ? document : selectField(document, field, details)
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
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
