/**
 * `consulSource(clientOrOptions)`: components read from the Consul KV store.
 */
import { EventEmitter } from 'node:events'
import { abortError, throwIfAborted } from '../../core/abort'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectField,
  type ComponentRequest,
  type ComponentSource,
  type SourceContext,
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

/** Connection options from which {@link consulSource} builds its own `consul` client. */
export interface ConsulSourceOptions {
  /** A base URL such as `'http://127.0.0.1:8500'`; wins over host/port/secure. Defaults to none. */
  readonly url?: string
  /** Defaults to `'127.0.0.1'`. */
  readonly host?: string
  /** Defaults to `8500`. */
  readonly port?: number
  /** Use HTTPS. Defaults to `false`. */
  readonly secure?: boolean
  /** An ACL token, sent as `X-Consul-Token`; never printed. Defaults to none (anonymous). */
  readonly token?: string
  /** Request timeout in milliseconds. Defaults to none (the component's `timeout` applies). */
  readonly timeout?: number
  /** The name `fetchFrom` refers to. Defaults to `'consul'`. */
  readonly name?: string
}

/** A client you own plus source options; the source never destroys a client it was given. */
export interface ConsulSourceClientOptions {
  readonly client: ConsulClientLike
  /** An ACL token sent with every read (overrides the client's default). Defaults to none. */
  readonly token?: string
  /** The name `fetchFrom` refers to. Defaults to `'consul'`. */
  readonly name?: string
}

type ConsulConstructor = new (options: Record<string, unknown>) => ConsulClientLike

/**
 * A source reading Consul KV through the `consul` 2.x client: pass your client (or
 * `{ client, token }`), or connection options from which the source creates one (the optional
 * peer dependency `consul` is loaded then) and destroys it on `close()`. A missing key is a
 * `SourceNotFoundError`, an ACL 403 a `SourcePermissionError`, a 5xx or a refused connection a
 * `SourceUnavailableError`. `field` parses the value as JSON and picks the dotted path. The
 * request's signal aborts the HTTP request. Tokens never appear in error messages.
 *
 * @example
 * ```ts
 * import { Component, consulSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'consul', key: 'app/port' }) port!: number
 * }
 * const consul = consulSource({ host: '127.0.0.1', port: 8500, token: process.env.CONSUL_HTTP_TOKEN })
 * const config = await resolve(AppConfig, { sources: [consul] })
 * await consul.close?.()
 * ```
 */
export function consulSource(
  clientOrOptions: ConsulClientLike | ConsulSourceClientOptions | ConsulSourceOptions = {},
): ComponentSource {
  const given = isClient(clientOrOptions)
    ? { client: clientOrOptions }
    : 'client' in clientOrOptions && isClient(clientOrOptions.client)
      ? (clientOrOptions as ConsulSourceClientOptions)
      : undefined
  const options = (given ? {} : clientOrOptions) as ConsulSourceOptions
  const name = given?.name ?? options.name ?? 'consul'
  const token = given ? given.token : undefined
  const secrets = [given?.token, options.token].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  )
  let owned: ConsulClientLike | undefined
  const client = (): ConsulClientLike => {
    if (given) return given.client
    owned ??= createClient(options)
    return owned
  }

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const key = (request.key ?? request.property).replace(/^\/+/, '')
      const details = { source: name, key }
      const ctx = new EventEmitter()
      const onAbort = (): void => {
        ;(ctx as EventEmitter & { canceled?: boolean }).canceled = true
        ctx.emit('cancel')
      }
      context.signal.addEventListener('abort', onAbort, { once: true })
      let entry: ConsulKvEntry | null | undefined
      try {
        entry = await client().kv.get({ key, ctx, ...(token === undefined ? {} : { token }) })
      } catch (error) {
        if (context.signal.aborted) throw abortError(context.signal, `${name} fetch`)
        throw consulError(error, name, key, secrets)
      } finally {
        context.signal.removeEventListener('abort', onAbort)
      }
      if (entry === undefined || entry === null) {
        throw new SourceNotFoundError(details, `${name}: key ${JSON.stringify(key)} not found`)
      }
      return consulValue(entry, request.field, name, key)
    },
    async close(): Promise<void> {
      owned?.destroy?.()
      owned = undefined
    },
  }
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
  const details = { source: name, key }
  let document: unknown
  try {
    document = JSON.parse(value)
  } catch {
    throw new SourceError(
      `${name}: the value of ${JSON.stringify(key)} is not valid JSON, so field ${JSON.stringify(field)} cannot be read`,
      details,
    )
  }
  return selectField(document, field, details)
}

function isClient(value: unknown): value is ConsulClientLike {
  const kv = (value as { kv?: { get?: unknown } } | null | undefined)?.kv
  return typeof kv?.get === 'function'
}

function createClient(options: ConsulSourceOptions): ConsulClientLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('consul') as ConsulConstructor | { default: ConsulConstructor }
  const Consul = typeof loaded === 'function' ? loaded : loaded.default
  const settings: Record<string, unknown> = {}
  if (options.url !== undefined) settings.baseUrl = `${options.url.replace(/\/+$/, '')}/v1`
  else {
    settings.host = options.host ?? '127.0.0.1'
    settings.port = options.port ?? 8500
    settings.secure = options.secure ?? false
  }
  if (options.timeout !== undefined) settings.timeout = options.timeout
  if (options.token !== undefined) settings.defaults = { token: options.token }
  return new Consul(settings)
}

const UNAVAILABLE_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
] as const

/**
 * Maps a `consul`/papi error to a typed {@link SourceError}; `action` is `'reading'` or
 * `'watching'`. The cause kept is a plain copy (papi errors hold the request headers, tokens
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
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown; isTimeout?: unknown }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
  let reason = typeof e.message === 'string' ? e.message : String(error)
  for (const secret of secrets) if (secret) reason = reason.split(secret).join('***')
  const code = typeof e.code === 'string' ? e.code : UNAVAILABLE_CODES.find((c) => reason.includes(c))
  const cause = Object.assign(new Error(reason), { statusCode: status, code })
  const details = { source: name, key, cause }
  const where = JSON.stringify(key)
  if (status === 403 || status === 401) {
    return new SourcePermissionError(
      details,
      `${name}: permission denied ${action} ${where} (ACL, ${status})`,
    )
  }
  if (
    (status !== undefined && (status >= 500 || status === 429)) ||
    (code !== undefined && (UNAVAILABLE_CODES as readonly string[]).includes(code)) ||
    e.isTimeout === true ||
    /socket hang up|timeout/i.test(reason)
  ) {
    return new SourceUnavailableError(details, `${name}: unavailable while ${action} ${where}: ${reason}`)
  }
  return new SourceError(`${name}: ${action} ${where} failed: ${reason}`, details)
}
