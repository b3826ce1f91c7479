/**
 * `vaultSource(clientOrOptions)`: components read from HashiCorp Vault KV (v1 and v2).
 */
import { raceAbort, throwIfAborted } from '../../core/abort'
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

/** The part of a `node-vault` client this source uses. A `vault({ ... })` client fits. */
export interface VaultClientLike {
  /** GET `/v1/<path>`; resolves the response body, rejects for any non-2xx status. */
  read(path: string): Promise<unknown>
  /** The client's token, if any (used only to keep it out of error messages). */
  token?: string
}

/** Connection options from which {@link vaultSource} builds its own `node-vault` client. */
export interface VaultSourceOptions {
  /** Defaults to `process.env.VAULT_ADDR`, then `'http://127.0.0.1:8200'` (node-vault's default). */
  readonly endpoint?: string
  /** Sent as `X-Vault-Token`; never printed. Defaults to `process.env.VAULT_TOKEN`. */
  readonly token?: string
  /** Sent as `X-Vault-Namespace` (Vault Enterprise). Defaults to none. */
  readonly namespace?: string
  /** The name `fetchFrom` refers to. Defaults to `'vault'`. */
  readonly name?: string
}

/** A client you own plus source options. */
export interface VaultSourceClientOptions {
  readonly client: VaultClientLike
  /** The name `fetchFrom` refers to. Defaults to `'vault'`. */
  readonly name?: string
}

type NodeVaultFactory = (options: Record<string, unknown>) => VaultClientLike

/**
 * A source reading Vault secrets through `node-vault`: pass your client (or `{ client }`), or
 * options from which the source creates one (the optional peer dependency `node-vault` is
 * loaded then). The key is the API path without `/v1/`: `secret/data/app` reads KV v2 (the
 * source unwraps the `data.data` envelope), `kv/app` reads KV v1. Without `field` the whole
 * secret map is returned; `field` picks one value (a dotted path for nested JSON).
 * 404 (including a soft-deleted v2 version) is a `SourceNotFoundError`, 403 a
 * `SourcePermissionError`, 503 (sealed, standby) or a refused connection a
 * `SourceUnavailableError`. The token never appears in an error message or its cause.
 * node-vault cannot cancel a request: an aborted signal rejects at once and the reply is ignored.
 *
 * @example
 * ```ts
 * import { Component, vaultSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'vault', key: 'secret/data/app', field: 'apiKey', secret: true }) apiKey!: string
 * }
 * const vault = vaultSource({ endpoint: 'http://127.0.0.1:8200', token: process.env.VAULT_TOKEN })
 * const config = await resolve(AppConfig, { sources: [vault] })
 * ```
 */
export function vaultSource(
  clientOrOptions: VaultClientLike | VaultSourceClientOptions | VaultSourceOptions = {},
): ComponentSource {
  const given = isClient(clientOrOptions)
    ? { client: clientOrOptions }
    : 'client' in clientOrOptions && isClient(clientOrOptions.client)
      ? (clientOrOptions as VaultSourceClientOptions)
      : undefined
  const options = (given ? {} : clientOrOptions) as VaultSourceOptions
  const name = given?.name ?? options.name ?? 'vault'
  let owned: VaultClientLike | undefined
  const client = (): VaultClientLike => {
    if (given) return given.client
    owned ??= createClient(options)
    return owned
  }
  const redact = (text: string): string =>
    [options.token, client().token, process.env.VAULT_TOKEN]
      .filter((s): s is string => typeof s === 'string' && s.length >= 4)
      .reduce((out, secret) => out.split(secret).join('***'), text)

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const path = (request.key ?? request.property).replace(/^\/+/, '').replace(/^v1\//, '')
      const details = { source: name, key: path }
      let body: unknown
      try {
        body = await raceAbort(client().read(path), context.signal)
      } catch (error) {
        if (context.signal.aborted) throw error
        throw vaultError(error, name, path, redact)
      }
      const secret = unwrap(body, path)
      if (secret === null || secret === undefined) {
        throw new SourceNotFoundError(details, `${name}: secret ${JSON.stringify(path)} has no data`)
      }
      return request.field === undefined ? secret : selectField(secret, request.field, details)
    },
    async close(): Promise<void> {
      owned = undefined
    },
  }
}

function isClient(value: unknown): value is VaultClientLike {
  return typeof (value as { read?: unknown } | null | undefined)?.read === 'function'
}

function createClient(options: VaultSourceOptions): VaultClientLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('node-vault') as NodeVaultFactory | { default: NodeVaultFactory }
  const factory = typeof loaded === 'function' ? loaded : loaded.default
  const settings: Record<string, unknown> = { apiVersion: 'v1' }
  if (options.endpoint !== undefined) settings.endpoint = options.endpoint
  if (options.token !== undefined) settings.token = options.token
  if (options.namespace !== undefined) settings.namespace = options.namespace
  return factory(settings)
}

/** The secret map: `data` for KV v1, `data.data` for a KV v2 `<mount>/data/<path>` read. */
function unwrap(body: unknown, path: string): unknown {
  const data = (body as { data?: unknown } | null | undefined)?.data
  if (isKvV2Path(path) && isV2Envelope(data)) return data.data
  return data
}

function isKvV2Path(path: string): boolean {
  return path.split('/')[1] === 'data'
}

function isV2Envelope(data: unknown): data is { data: unknown; metadata: Record<string, unknown> } {
  if (data === null || typeof data !== 'object') return false
  const metadata = (data as { metadata?: unknown }).metadata
  return 'data' in data && metadata !== null && typeof metadata === 'object' && 'version' in metadata
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
])

/**
 * Maps a node-vault error (its classes are not exported: an API error has
 * `response.statusCode` and `response.body`; a network error is an axios error, whose `config`
 * holds the token header, so it is never kept as the cause).
 */
function vaultError(
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
  if (status === undefined && code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new SourceUnavailableError(details, `${name}: cannot reach Vault while reading ${where} (${code})`)
  }
  const what = status === undefined ? (code ?? reason) : `${status}: ${reason}`
  return new SourceError(`${name}: reading ${where} failed (${what})`, details)
}
