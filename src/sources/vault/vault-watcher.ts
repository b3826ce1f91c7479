/**
 * The Vault source's watcher: re-reads the secret at `pollInterval`, or before its lease runs
 * out, and reports KV v2 version changes and soft deletes.
 */
import { Agent } from 'node:http'
import { raceAbort } from '../../core/abort'
import { isSourceNotFoundError, type ComponentRequest } from '../source'
import { createWatcherScope, type SourceWatchOptions, type SourceWatcher } from '../watch'
import { vaultError, vaultValue, type VaultClientLike, type VaultRequestOptions } from './vault-kv'

/** Settings of {@link watchVault}, taken from the Vault source. */
export interface VaultWatchSettings {
  /** The source name. */
  readonly name: string
  /** The client (created lazily by the source). */
  client(): VaultClientLike
  /** Removes tokens from a text before it goes into an error. Defaults to no change. */
  redact?(text: string): string
}

/** How often the Vault watcher re-reads a secret without a (shorter) lease, in ms. */
export const VAULT_POLL_INTERVAL_MS = 60_000
/** Each read's timeout, so a server that never answers is an error, not a stuck watcher, in ms. */
export const VAULT_REQUEST_TIMEOUT_MS = 30_000
/** The part of a lease after which a leased secret is read again. */
export const VAULT_LEASE_FRACTION = 0.9
/** The shortest wait between two reads, whatever the lease says, in ms. */
export const VAULT_MIN_INTERVAL_MS = 100

/**
 * When to read a secret again after `body` (a Vault answer), in ms. A real lease (`lease_id`
 * set: a dynamic secret, where every read issues new credentials) is read again at 90% of
 * `lease_duration`, whatever `pollInterval` says. A secret without a lease id but with a
 * `lease_duration` (KV v1 returns one as a refresh hint, from its `ttl` key or the mount's
 * default) is read at `pollInterval` or at 90% of `lease_duration`, whichever comes first;
 * without a duration (KV v2) at `pollInterval`. Never sooner than 100 ms.
 *
 * @example
 * ```ts
 * import { vaultRereadDelay } from 'tributary'
 * vaultRereadDelay({ lease_id: 'database/creds/app/abc', lease_duration: 3600 }, 60_000) // 3_240_000
 * vaultRereadDelay({ lease_id: '', lease_duration: 30 }, 60_000) // 27_000
 * ```
 */
export function vaultRereadDelay(body: unknown, pollInterval: number): number {
  const envelope = (body ?? {}) as { lease_id?: unknown; lease_duration?: unknown }
  const seconds = typeof envelope.lease_duration === 'number' ? envelope.lease_duration : 0
  if (!(seconds > 0)) return Math.max(VAULT_MIN_INTERVAL_MS, pollInterval)
  const beforeExpiry = seconds * 1_000 * VAULT_LEASE_FRACTION
  const leased = typeof envelope.lease_id === 'string' && envelope.lease_id !== ''
  return Math.max(VAULT_MIN_INTERVAL_MS, leased ? beforeExpiry : Math.min(pollInterval, beforeExpiry))
}

/**
 * Watches one secret (or one field of it) by reading it through the client, then again after
 * {@link vaultRereadDelay}: at `pollInterval` (defaults to 60_000 ms), or at about 90% of the
 * secret's `lease_duration` when it has one. A new KV v2 version with other data is a change;
 * a soft-deleted or destroyed latest version, a missing secret or a missing field is a removal;
 * an undelete brings the value back. A sealed or unreachable Vault is reported once, then
 * retried with capped backoff. Each read times out after 30_000 ms; for an `http:` endpoint the
 * watcher uses its own agent and destroys it on `stop()`, so no socket is left open.
 *
 * @example
 * ```ts
 * import { vaultSource } from 'tributary'
 * const vault = vaultSource({ endpoint: 'http://127.0.0.1:8200', token: process.env.VAULT_TOKEN })
 * const watcher = vault.watch({ className: 'C', property: 'apiKey', key: 'secret/data/app', field: 'apiKey', secret: true }, {
 *   signal, pollInterval: 30_000, onChange: rotate, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchVault(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: VaultWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { reporter } = scope
  const { name } = settings
  const redact = (text: string): string => settings.redact?.(text) ?? text
  const path = (request.key ?? request.property).replace(/^\/+/, '').replace(/^v1\//, '')
  const pollInterval = Math.max(0, options.pollInterval ?? VAULT_POLL_INTERVAL_MS)
  const idle = Math.max(VAULT_MIN_INTERVAL_MS, pollInterval)
  let next = idle
  let agent: Agent | undefined
  scope.onStop(() => agent?.destroy())

  const requestOptions = (client: VaultClientLike): VaultRequestOptions => {
    if (!client.endpoint?.startsWith('http:')) return { timeout: VAULT_REQUEST_TIMEOUT_MS }
    agent ??= new Agent({ keepAlive: false })
    return { timeout: VAULT_REQUEST_TIMEOUT_MS, httpAgent: agent }
  }

  const run = async (signal: AbortSignal): Promise<void> => {
    const client = settings.client()
    const pending = client.read(path, requestOptions(client))
    // node-vault cannot abort: stop() waits for the request (its socket is destroyed on stop).
    void scope.track(pending)
    let body: unknown
    try {
      body = await raceAbort(pending, signal)
    } catch (error) {
      if (signal.aborted) return
      const mapped = vaultError(error, name, path, redact)
      if (!isSourceNotFoundError(mapped)) throw mapped
      next = idle
      reporter.removed()
      return
    }
    next = vaultRereadDelay(body, pollInterval)
    let value: unknown
    try {
      value = vaultValue(body, path, request.field, name)
    } catch (error) {
      if (isSourceNotFoundError(error)) return reporter.removed()
      throw error
    }
    reporter.value(value)
  }

  void scope.poll(() => next, run)
  return scope.watcher
}
