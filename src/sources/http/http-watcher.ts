/**
 * The HTTP source's watcher: conditional polling (`If-None-Match` / `If-Modified-Since`) that
 * keeps the value on 304 and never polls sooner than the answer's `Cache-Control: max-age`.
 */
import { linkSignals } from '../../core/abort'
import { SourceError, SourceUnavailableError, isSourceNotFoundError, type ComponentRequest } from '../source'
import { createWatcherScope, type SourceWatchOptions, type SourceWatcher } from '../watch'
import { httpStatusError } from './http-errors'
import { fetchFailure, httpTarget, readHttpValue, type HttpSettings } from './http-exchange'

/** How often the HTTP watcher polls when the component sets no `pollInterval`, in ms. */
export const HTTP_POLL_INTERVAL_MS = 30_000
/** Each poll's timeout, so a server that never answers is an error, not a stuck watcher, in ms. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000

/**
 * How long an answer stays fresh by its headers, in ms: `Cache-Control: max-age` minus `Age`;
 * 0 with `no-store`, `no-cache`, no `max-age`, or none left.
 *
 * @example
 * ```ts
 * import { freshnessOf } from 'tributary'
 * freshnessOf(new Headers({ 'cache-control': 'public, max-age=60', age: '15' })) // 45_000
 * ```
 */
export function freshnessOf(headers: Headers): number {
  const directives = (headers.get('cache-control') ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim())
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)?.[1]).find((v) => v !== undefined)
  if (maxAge === undefined) return 0
  const age = Number(headers.get('age') ?? 0)
  return Math.max(0, Number(maxAge) - (Number.isFinite(age) ? age : 0)) * 1_000
}

/**
 * The `Last-Modified` of an answer when it can serve as a validator, else `undefined`: RFC 9110
 * (section 8.8.2.2) calls a modification date less than a second before the answer's `Date`
 * (or, without `Date`, before `receivedAt`) weak, since a second change in that same second would
 * carry the same date — a server comparing at 1 s resolution would answer 304 to it forever.
 * An unparsable date is no validator either.
 *
 * @example
 * ```ts
 * import { strongLastModified } from 'tributary'
 * const h = new Headers({ 'last-modified': 'Thu, 01 Jan 2026 00:00:09 GMT', date: 'Thu, 01 Jan 2026 00:00:10 GMT' })
 * strongLastModified(h) // 'Thu, 01 Jan 2026 00:00:09 GMT' (a second old: strong)
 * ```
 */
export function strongLastModified(headers: Headers, receivedAt: number = Date.now()): string | undefined {
  const lastModified = headers.get('last-modified')
  if (lastModified === null) return undefined
  const modifiedAt = Date.parse(lastModified)
  if (Number.isNaN(modifiedAt)) return undefined
  const date = Date.parse(headers.get('date') ?? '')
  const answeredAt = Number.isNaN(date) ? receivedAt : date
  return answeredAt - modifiedAt >= 1_000 ? lastModified : undefined
}

/**
 * Watches one URL by polling it every `pollInterval` ms (defaults to 30_000), or less often
 * when the last answer said it stays fresh longer (`Cache-Control: max-age`, less `Age`, is the
 * minimum interval). Each poll after the first sends the last `ETag` as `If-None-Match` (and
 * `Last-Modified` as `If-Modified-Since`, unless it was less than a second older than the
 * answer: such a date is weak, see {@link strongLastModified}, and the next poll is an
 * unconditional GET); a 304 keeps the value and reports nothing. A 404 or
 * 410, or a missing field, is a removal; a body that cannot be read (bad JSON) is one error
 * report, not an outage. A server that is down or answers 5xx is reported once, then polled
 * with capped backoff; each request times out after 30_000 ms. `stop()` aborts a request in
 * flight. Reached through `httpSource(...).watch`, which builds the settings. @internal
 *
 * @example
 * ```ts
 * import { httpSource } from 'tributary'
 * const http = httpSource({ baseUrl: 'http://127.0.0.1:8080' })
 * const watcher = http.watch({ className: 'C', property: 'beta', key: '/flags', field: 'beta', secret: false }, {
 *   signal, pollInterval: 10_000, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchHttp(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: HttpSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { reporter } = scope
  const pollInterval = Math.max(0, options.pollInterval ?? HTTP_POLL_INTERVAL_MS)
  let fresh = 0
  let validators: { etag?: string; lastModified?: string } = {}

  const run = async (signal: AbortSignal): Promise<void> => {
    const target = httpTarget(request.key ?? request.property, settings)
    const headers: Record<string, string> = { ...target.headers }
    if (validators.etag !== undefined) headers['if-none-match'] = validators.etag
    if (validators.lastModified !== undefined) headers['if-modified-since'] = validators.lastModified
    const linked = linkSignals(signal)
    const timer = setTimeout(() => linked.abort(), HTTP_REQUEST_TIMEOUT_MS)
    try {
      let response: Response
      try {
        response = await fetch(target.url, { headers, signal: linked.signal, redirect: 'follow' })
      } catch (error) {
        if (linked.signal.aborted && !signal.aborted) {
          // Our timeout aborted the request: the server's failure, not a stop.
          throw new SourceUnavailableError(
            target.details,
            `${settings.name}: GET ${target.shown} timed out after ${HTTP_REQUEST_TIMEOUT_MS} ms`,
          )
        }
        throw fetchFailure(error, signal, target, settings)
      }
      fresh = freshnessOf(response.headers)
      if (response.status === 304) {
        await response.body?.cancel().catch(() => undefined)
        return reporter.ok()
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined)
        const error = httpStatusError(response.status, settings.name, target.shown)
        if (!isSourceNotFoundError(error)) throw error
        validators = {}
        return reporter.removed()
      }
      const etag = response.headers.get('etag')
      const lastModified = strongLastModified(response.headers)
      let value: unknown
      try {
        value = await readHttpValue(response, request.field, target, settings, signal)
      } catch (error) {
        if (signal.aborted || !(error instanceof SourceError)) throw error
        // A document that cannot be read is reported once (until a good one or a 304), and
        // its validators kept, so an unchanged bad document is not reported again.
        if (isSourceNotFoundError(error)) reporter.removed()
        else reporter.error(error)
        validators = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) }
        return
      }
      validators = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) }
      reporter.value(value)
    } finally {
      clearTimeout(timer)
      linked.dispose()
    }
  }

  void scope.poll(() => Math.max(pollInterval, fresh), run)
  return scope.watcher
}
