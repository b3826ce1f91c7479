/**
 * `websocketSource(options)`: components whose value is the latest message of a WebSocket feed.
 */
import { abortError, throwIfAborted } from '../../core/abort'
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { maskUrlCredentials } from '../../core/redact'
import { SourceError, SourceUnavailableError, type ComponentRequest, type SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import {
  closeReason,
  loadWebSocket,
  terminate,
  webSocketError,
  webSocketValue,
  type WebSocketConstructorLike,
  type WebSocketTarget,
} from './websocket-client'
import { watchWebSocket } from './websocket-watcher'

export type {
  WebSocketClientOptions,
  WebSocketConstructorLike,
  WebSocketData,
  WebSocketLike,
  WebSocketTarget,
} from './websocket-client'

/** Options of {@link websocketSource}. */
export interface WebSocketSourceOptions {
  /**
   * The feed's URL (`ws://` or `wss://`). A component's `key` may be another absolute URL, or a
   * path resolved against this one (`'prices/eur'`). Defaults to none: each component's `key`
   * is then its absolute URL.
   */
  readonly url?: string
  /** Subprotocols offered in the handshake. Defaults to none. */
  readonly protocols?: string | readonly string[]
  /** Headers of the upgrade request (e.g. `Authorization`); never printed. Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * How long `resolve` waits for the first message, in ms (the resolve's own `timeout` and
   * `signal` apply too). Defaults to 10_000.
   */
  readonly timeout?: number
  /** How long the opening handshake may take, in ms. Defaults to 10_000. */
  readonly handshakeTimeout?: number
  /**
   * The watcher pings the server this often, in ms, and drops (and reconnects) a connection that
   * answered neither a ping nor with a message since the last one: a peer gone silent is an
   * outage too. `0` turns it off. Defaults to 30_000.
   */
  readonly heartbeat?: number
  /** The WebSocket class. Defaults to the `ws` package's (an optional peer, loaded on first use). */
  readonly WebSocket?: WebSocketConstructorLike
  /** The name `fetchFrom` refers to. Defaults to `'websocket'`. */
  readonly name?: string
}

/** What `websocketSource(options)` may hold. */
const WEBSOCKET_OPTIONS: OptionSpec = {
  url: checks.string,
  protocols: checks.either('a string or an array of strings', checks.string, checks.strings),
  headers: checks.either(
    'an object of header names to strings',
    (v) =>
      checks.object(v) ?? (Object.values(v as object).every((h) => typeof h === 'string') ? undefined : 'no'),
  ),
  timeout: checks.duration({ positive: true, finite: true }),
  handshakeTimeout: checks.duration({ positive: true, finite: true }),
  heartbeat: checks.duration({ finite: true }),
  WebSocket: checks.function,
  name: checks.name,
}

/**
 * A source whose components are the latest message of a WebSocket feed. Each component opens
 * its own connection to its URL (the `key`, absolute or relative to `url`; without a `key`,
 * `url` itself). `resolve` connects, waits for the first message (at most `timeout` ms), and
 * closes; `watch` stays connected and reports every message, reconnecting with the watchers'
 * capped backoff (see `watchWebSocket`). A message's text is parsed as JSON when it
 * parses, else kept as text; `field` picks a dotted path inside its JSON. An upgrade refused
 * with 401/403 is a `SourcePermissionError`, 404/410 a `SourceNotFoundError`, anything else (no
 * answer, closed before a message, no message in time) a `SourceUnavailableError`; messages
 * show the URL with its credentials masked, never the headers.
 *
 * @example
 * ```ts
 * import { Component, watch, websocketSource } from 'tributary'
 * class Prices {
 *   @Component({ fetchFrom: 'websocket', key: 'eur', field: 'price' }) eur!: number
 * }
 * const source = websocketSource({ url: 'wss://feed.example.com/prices/', headers: { Authorization: `Bearer ${token}` } })
 * const live = await watch(Prices, { sources: [source] })
 * ```
 */
export function websocketSource(options: WebSocketSourceOptions = {}): WatchableSource {
  checkOptions('websocketSource(options)', options, WEBSOCKET_OPTIONS)
  const name = options.name ?? 'websocket'
  const timeout = options.timeout ?? 10_000
  const handshakeTimeout = options.handshakeTimeout ?? 10_000
  const heartbeat = options.heartbeat ?? 30_000
  if (options.url !== undefined) feedUrl(options.url, undefined, 'url')
  const protocols = options.protocols === undefined ? [] : [options.protocols].flat()
  const headers = { ...options.headers }
  let constructor = options.WebSocket
  const targetOf = (request: ComponentRequest): WebSocketTarget => {
    const url = request.key === undefined ? options.url : feedUrl(request.key, options.url, 'key')
    if (url === undefined) {
      throw new SourceError(`${name}: component ${request.property} has no key and the source no url`, {
        source: name,
      })
    }
    return {
      url,
      shown: maskUrlCredentials(url),
      protocols,
      headers,
      handshakeTimeout,
      heartbeat,
      connect() {
        constructor ??= loadWebSocket('websocketSource')
        return new constructor(url, [...protocols], { headers, handshakeTimeout })
      },
    }
  }
  return {
    name,
    appliesField: true,
    fetch: (request, context) => firstMessage(targetOf(request), request, context, name, timeout),
    watch: (request, watchOptions) =>
      watchWebSocket(request, watchOptions, { name, target: targetOf(request) }),
  }
}

/** `key` as an absolute ws:/wss: URL (resolved against `base`); a bad one is a `TypeError` naming it. */
function feedUrl(key: string, base: string | undefined, option: string): string {
  let url: URL
  try {
    url = base === undefined ? new URL(key) : new URL(key, base)
  } catch {
    throw new TypeError(`websocketSource: ${option} ${JSON.stringify(maskUrlCredentials(key))} is not a URL`)
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(
      `websocketSource: ${option} ${JSON.stringify(maskUrlCredentials(url.href))} is not a ws:// or wss:// URL`,
    )
  }
  return url.href
}

/** Connects, waits for the first message (or a failure, the timeout, the signal), and closes. */
async function firstMessage(
  target: WebSocketTarget,
  request: ComponentRequest,
  context: SourceContext,
  name: string,
  timeout: number,
): Promise<unknown> {
  const { signal } = context
  throwIfAborted(signal, `${name} fetch`)
  const socket = target.connect() // outside the promise: a missing `ws` package is not a failed read
  return new Promise<unknown>((resolve, reject) => {
    let outcome: { readonly value: unknown } | { readonly error: unknown } | undefined
    const closed = new Promise<void>((done) => {
      socket.on('close', (code, reason) => {
        done()
        settle({
          error: new SourceUnavailableError(
            { source: name, key: target.shown },
            `${name}: ${target.shown} closed before its first message (${closeReason(code, reason)})`,
          ),
        })
      })
    })
    const settle = (result: NonNullable<typeof outcome>): void => {
      if (outcome) return
      outcome = result
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      void terminate(socket, closed).then(() =>
        'error' in result ? reject(result.error) : resolve(result.value),
      )
    }
    const onAbort = (): void => settle({ error: abortError(signal, `${name} fetch`) })
    const timer = setTimeout(
      () =>
        settle({
          error: new SourceUnavailableError(
            { source: name, key: target.shown },
            `${name}: no message from ${target.shown} within ${timeout} ms`,
          ),
        }),
      timeout,
    )
    signal.addEventListener('abort', onAbort, { once: true })
    socket.on('error', (error) => settle({ error: webSocketError(error, name, target.shown, 'reading') }))
    socket.on('message', (data) => {
      try {
        settle({ value: webSocketValue(data, request.field, name, target.shown) })
      } catch (error) {
        settle({ error })
      }
    })
  })
}
