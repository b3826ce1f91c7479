/**
 * `consulSource(clientOrOptions)`: components read from the Consul KV store.
 */
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { EventEmitter } from 'node:events'
import { abortError, throwIfAborted } from '../../core/abort'
import { SourceNotFoundError, type ComponentRequest, type SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import { consulError, consulValue, type ConsulClientLike, type ConsulKvEntry } from './consul-kv'
import { watchConsul } from './consul-watcher'
import { requireOptional } from '../../core/optional'

export type { ConsulClientLike, ConsulGetOptions, ConsulKvEntry } from './consul-kv'

/** What `consulSource(options)` may hold. */
const CONSUL_OPTIONS: OptionSpec = {
  url: checks.string,
  host: checks.string,
  port: checks.integer(1, 65_535),
  secure: checks.boolean,
  token: checks.string,
  timeout: checks.duration({ positive: true, finite: true }),
  name: checks.name,
  churnInterval: checks.duration({ finite: true }),
}

/** What `consulSource({ client, … })` may hold. */
const CONSUL_CLIENT_OPTIONS: OptionSpec = {
  client: (value) => (isClient(value) ? undefined : 'must be a consul client (with kv.get)'),
  token: checks.string,
  name: checks.name,
  churnInterval: checks.duration({ finite: true }),
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
  /**
   * A watched key's reads under sustained churn: after a burst of 2, one per this many ms
   * (Consul's blocking-query guidance; it suggests 15_000). Defaults to 1_000.
   */
  readonly churnInterval?: number
}

/** A client you own plus source options; the source never destroys a client it was given. */
export interface ConsulSourceClientOptions {
  readonly client: ConsulClientLike
  /** An ACL token sent with every read (overrides the client's default). Defaults to none. */
  readonly token?: string
  /** The name `fetchFrom` refers to. Defaults to `'consul'`. */
  readonly name?: string
  /** As {@link ConsulSourceOptions.churnInterval}. Defaults to 1_000. */
  readonly churnInterval?: number
}

type ConsulConstructor = new (options: Record<string, unknown>) => ConsulClientLike

/**
 * A source reading Consul KV through the `consul` 2.x client: pass your client (or
 * `{ client, token }`), or connection options from which the source creates one (the optional
 * peer dependency `consul` is loaded then) and destroys it on `close()`. A missing key is a
 * `SourceNotFoundError`, an ACL 403 a `SourcePermissionError`, a 5xx or a refused connection a
 * `SourceUnavailableError`. `field` parses the value as JSON and picks the dotted path. The
 * request's signal aborts the HTTP request. Tokens never appear in error messages. `watch`
 * follows the key with blocking queries (see `watchConsul`).
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
): WatchableSource {
  if (!isClient(clientOrOptions)) {
    const withClient =
      typeof clientOrOptions === 'object' && clientOrOptions !== null && 'client' in clientOrOptions
    checkOptions(
      'consulSource(options)',
      clientOrOptions,
      withClient ? CONSUL_CLIENT_OPTIONS : CONSUL_OPTIONS,
    )
  }
  const given = isClient(clientOrOptions)
    ? { client: clientOrOptions }
    : 'client' in clientOrOptions && isClient(clientOrOptions.client)
      ? (clientOrOptions as ConsulSourceClientOptions)
      : undefined
  const options = (given ? {} : clientOrOptions) as ConsulSourceOptions
  const name = given?.name ?? options.name ?? 'consul'
  const token = given ? given.token : undefined
  const churnInterval = given?.churnInterval ?? options.churnInterval
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
      const consul = client() // outside the try: a missing `consul` package is not a failed read
      try {
        entry = await consul.kv.get({ key, ctx, ...(token === undefined ? {} : { token }) })
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
    watch: (request, watchOptions) =>
      watchConsul(request, watchOptions, {
        name,
        client,
        secrets,
        ...(token === undefined ? {} : { token }),
        ...(churnInterval === undefined ? {} : { churnInterval }),
      }),
    async close(): Promise<void> {
      owned?.destroy?.()
      owned = undefined
    },
  }
}

function isClient(value: unknown): value is ConsulClientLike {
  const kv = (value as { kv?: { get?: unknown } } | null | undefined)?.kv
  return typeof kv?.get === 'function'
}

function createClient(options: ConsulSourceOptions): ConsulClientLike {
  const loaded = requireOptional<ConsulConstructor | { default: ConsulConstructor }>('consul', 'consulSource')
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
