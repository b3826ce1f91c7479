/**
 * `vaultSource(clientOrOptions)`: components read from HashiCorp Vault KV (v1 and v2).
 */
import { redactSecrets } from '../../core/redact'
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { raceAbort, throwIfAborted } from '../../core/abort'
import type { ComponentRequest, SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import { vaultError, vaultValue, type VaultClientLike } from './vault-kv'
import { watchVault } from './vault-watcher'
import { requireOptional } from '../../core/optional'

export type { VaultClientLike, VaultRequestOptions } from './vault-kv'

/** What `vaultSource(options)` may hold. */
const VAULT_OPTIONS: OptionSpec = {
  endpoint: checks.string,
  token: checks.string,
  namespace: checks.string,
  name: checks.name,
}

/** What `vaultSource({ client, … })` may hold. */
const VAULT_CLIENT_OPTIONS: OptionSpec = {
  client: (value) => (isClient(value) ? undefined : 'must be a node-vault client (with read)'),
  name: checks.name,
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
 * `watch` re-reads at `pollInterval` or before the secret's lease runs out, and notices KV v2
 * version changes and soft deletes (see `watchVault`).
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
): WatchableSource {
  if (!isClient(clientOrOptions)) {
    const withClient =
      typeof clientOrOptions === 'object' && clientOrOptions !== null && 'client' in clientOrOptions
    checkOptions('vaultSource(options)', clientOrOptions, withClient ? VAULT_CLIENT_OPTIONS : VAULT_OPTIONS)
  }
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
    redactSecrets(text, [options.token, client().token, process.env.VAULT_TOKEN], 4)

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const path = (request.key ?? request.property).replace(/^\/+/, '').replace(/^v1\//, '')
      let body: unknown
      const vault = client() // outside the try: a missing `node-vault` package is not a failed read
      try {
        body = await raceAbort(vault.read(path), context.signal)
      } catch (error) {
        if (context.signal.aborted) throw error
        throw vaultError(error, name, path, redact)
      }
      return vaultValue(body, path, request.field, name)
    },
    watch: (request, watchOptions) => watchVault(request, watchOptions, { name, client, redact }),
    async close(): Promise<void> {
      owned = undefined
    },
  }
}

function isClient(value: unknown): value is VaultClientLike {
  return typeof (value as { read?: unknown } | null | undefined)?.read === 'function'
}

function createClient(options: VaultSourceOptions): VaultClientLike {
  const loaded = requireOptional<NodeVaultFactory | { default: NodeVaultFactory }>(
    'node-vault',
    'vaultSource',
  )
  const factory = typeof loaded === 'function' ? loaded : loaded.default
  const settings: Record<string, unknown> = { apiVersion: 'v1' }
  if (options.endpoint !== undefined) settings.endpoint = options.endpoint
  if (options.token !== undefined) settings.token = options.token
  if (options.namespace !== undefined) settings.namespace = options.namespace
  return factory(settings)
}
