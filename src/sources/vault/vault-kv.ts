/**
 * Vault KV as `node-vault` exposes it: the client shape the source and its watcher use, the
 * value of an answer (KV v1 or the KV v2 envelope), and the mapping of client errors to
 * typed source errors.
 */
import type { Agent } from 'node:http'
import {
  NETWORK_UNAVAILABLE_CODES,
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectField,
} from '../source'

/**
 * Per-request options `node-vault` forwards to its HTTP client (axios). The watcher passes
 * them; a client that ignores them still fits.
 */
export interface VaultRequestOptions {
  /** Request timeout in ms. Defaults to the client's own (none for node-vault). */
  readonly timeout?: number
  /** The agent for `http:` endpoints (the watcher destroys its own on `stop()`). Defaults to Node's global agent. */
  readonly httpAgent?: Agent
}

/** The part of a `node-vault` client this source uses. A `vault({ ... })` client fits. */
export interface VaultClientLike {
  /** GET `/v1/<path>`; resolves the response body, rejects for any non-2xx status. */
  read(path: string, requestOptions?: VaultRequestOptions): Promise<unknown>
  /** The client's token, if any (used only to keep it out of error messages). */
  token?: string
  /** The server's base URL, e.g. `'http://127.0.0.1:8200'` (node-vault sets it). Defaults to unknown. */
  readonly endpoint?: string
}

/**
 * The component value of a Vault answer: the secret map (`data` for KV v1 and other engines,
 * `data.data` for a KV v2 `<mount>/data/<path>` read), or with `field` the dotted path inside
 * it. An answer that holds no secret, or a missing field, is a {@link SourceNotFoundError}.
 *
 * @example
 * ```ts
 * vaultValue(await client.read('secret/data/app'), 'secret/data/app', 'apiKey', 'vault') // '…'
 * ```
 */
export function vaultValue(body: unknown, path: string, field: string | undefined, name: string): unknown {
  const details = { source: name, key: path }
  const data = (body as { data?: unknown } | null | undefined)?.data
  const secret = isKvV2Path(path) && isV2Envelope(data) ? data.data : data
  if (secret === null || secret === undefined) {
    throw new SourceNotFoundError(details, `${name}: secret ${JSON.stringify(path)} has no data`)
  }
  return field === undefined ? secret : selectField(secret, field, details)
}

function isKvV2Path(path: string): boolean {
  return path.split('/')[1] === 'data'
}

function isV2Envelope(data: unknown): data is { data: unknown; metadata: Record<string, unknown> } {
  if (data === null || typeof data !== 'object') return false
  const metadata = (data as { metadata?: unknown }).metadata
  return 'data' in data && metadata !== null && typeof metadata === 'object' && 'version' in metadata
}

/**
 * Maps a node-vault error (its classes are not exported: an API error has
 * `response.statusCode` and `response.body`; a network error is an axios error, whose `config`
 * holds the token header, so it is never kept as the cause). A 404 is a
 * {@link SourceNotFoundError} (a soft-deleted or destroyed KV v2 version says so), 401/403 a
 * {@link SourcePermissionError}, 429/502/503/504 and refused connections a
 * {@link SourceUnavailableError}; `redact` removes tokens from every text kept.
 *
 * @example
 * ```ts
 * try { await client.read('secret/data/app') } catch (e) { throw vaultError(e, 'vault', 'secret/data/app', redact) }
 * ```
 */
export function vaultError(
  error: unknown,
  name: string,
  path: string,
  redact: (text: string) => string,
): SourceError {
  const e = error as {
    response?: { statusCode?: unknown; status?: unknown; body?: unknown }
    code?: unknown
    message?: unknown
  }
  const rawStatus = e.response?.statusCode ?? e.response?.status
  const status = typeof rawStatus === 'number' ? rawStatus : undefined
  const code = typeof e.code === 'string' ? e.code : undefined
  const reason = redact(typeof e.message === 'string' ? e.message : String(error))
  const cause = Object.assign(new Error(reason), { statusCode: status, code })
  const details = { source: name, key: path, cause }
  const where = JSON.stringify(path)
  if (status === 404) {
    const data = (e.response?.body as { data?: unknown } | undefined)?.data
    if (isV2Envelope(data)) {
      const { version, deletion_time: deleted, destroyed } = data.metadata
      const state = destroyed === true ? 'destroyed' : deleted ? 'deleted' : 'empty'
      return new SourceNotFoundError(
        details,
        `${name}: secret ${where} version ${String(version)} is ${state}`,
      )
    }
    const warnings = (e.response?.body as { warnings?: unknown } | undefined)?.warnings
    const hint = Array.isArray(warnings) && warnings.length > 0 ? ` (${redact(String(warnings[0]))})` : ''
    return new SourceNotFoundError(details, `${name}: secret ${where} not found${hint}`)
  }
  if (status === 403 || status === 401) {
    return new SourcePermissionError(
      details,
      `${name}: permission denied reading ${where} (${status}: ${reason})`,
    )
  }
  if (status === 503 || status === 429 || status === 502 || status === 504) {
    return new SourceUnavailableError(
      details,
      `${name}: unavailable while reading ${where} (${status}: ${reason})`,
    )
  }
  if (status === undefined && code !== undefined && NETWORK_UNAVAILABLE_CODES.has(code)) {
    return new SourceUnavailableError(details, `${name}: cannot reach Vault while reading ${where} (${code})`)
  }
  const what = status === undefined ? (code ?? reason) : `${status}: ${reason}`
  return new SourceError(`${name}: reading ${where} failed (${what})`, details)
}
