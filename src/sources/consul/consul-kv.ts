/**
 * Consul KV as the `consul` 2.x client exposes it: the client shape the source and its watcher
 * use, the value of an entry, and the mapping of client errors to typed source errors.
 */
import { redactSecrets } from '../../core/redact'
import type { EventEmitter } from 'node:events'
import {
  NETWORK_UNAVAILABLE_CODES,
  SourceError,
  SourcePermissionError,
  SourceUnavailableError,
  selectJsonField,
} from '../source'

/** One KV entry as the `consul` client returns it (`Value` already base64-decoded). */
export interface ConsulKvEntry {
  readonly Key: string
  readonly Value: string | null
  readonly ModifyIndex: number
  readonly CreateIndex?: number
  readonly LockIndex?: number
  readonly Flags?: number
}

/** Options this source passes to `kv.get`; `ctx` is the `consul` client's cancellation emitter. */
export interface ConsulGetOptions {
  key: string
  token?: string
  ctx?: EventEmitter
}

/** The part of a `consul` 2.x client this source uses. A `new Consul(...)` instance fits. */
export interface ConsulClientLike {
  readonly kv: {
    /** Resolves `undefined` for a missing key (HTTP 404). */
    get(options: ConsulGetOptions): Promise<ConsulKvEntry | null | undefined>
  }
  /** Releases the client's keep-alive agent. */
  destroy?(): void
}

/**
 * The value of a KV entry: the decoded string, or with `field` the dotted path inside it parsed
 * as JSON (a value that is not JSON is a {@link SourceError} naming the key, not the value).
 */
export function consulValue(
  entry: ConsulKvEntry,
  field: string | undefined,
  name: string,
  key: string,
): unknown {
  const value = entry.Value ?? ''
  if (field === undefined) return value
  return selectJsonField(value, field, { source: name, key })
}

/**
 * Maps a `consul`/papi error to a typed {@link SourceError}; `action` is `'reading'` or
 * `'watching'`. A 403 names Consul's reason (`ACL not found` for an unknown token,
 * `Permission denied: …` for one without the right). The cause kept is a plain copy (papi errors hold the request headers, tokens
 * included), with every secret redacted. The network `code` is read from the message when the
 * client lost it (consul's error wrapper re-creates errors that fail `instanceof Error`, as
 * errors from another realm do).
 */
export function consulError(
  error: unknown,
  name: string,
  key: string,
  secrets: readonly string[],
  action: 'reading' | 'watching' = 'reading',
): SourceError {
  const e = error as {
    statusCode?: unknown
    code?: unknown
    message?: unknown
    isTimeout?: unknown
    response?: { body?: unknown }
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
  const reason = redactSecrets(typeof e.message === 'string' ? e.message : String(error), secrets)
  const code =
    typeof e.code === 'string' ? e.code : [...NETWORK_UNAVAILABLE_CODES].find((c) => reason.includes(c))
  const cause = Object.assign(new Error(reason), { statusCode: status, code })
  const details = { source: name, key, cause }
  const where = JSON.stringify(key)
  if (status === 403 || status === 401) {
    // Consul says which: `ACL not found` (a token it does not know) or `Permission denied: …`
    // (a known token, or the anonymous one, without `key:read`).
    const body = e.response?.body
    let said = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : ''
    said = redactSecrets(said, secrets).trim().split('\n')[0]?.slice(0, 200) ?? ''
    return new SourcePermissionError(
      details,
      `${name}: permission denied ${action} ${where} (ACL, ${status}${said ? `: ${said}` : ''})`,
    )
  }
  if (
    (status !== undefined && (status >= 500 || status === 429)) ||
    (code !== undefined && NETWORK_UNAVAILABLE_CODES.has(code)) ||
    e.isTimeout === true ||
    /socket hang up|timeout/i.test(reason)
  ) {
    return new SourceUnavailableError(details, `${name}: unavailable while ${action} ${where}: ${reason}`)
  }
  return new SourceError(`${name}: ${action} ${where} failed: ${reason}`, details)
}
