/**
 * The WebSocket client the WebSocket source uses, as structural types (a `WebSocket` of the
 * `ws` package fits, and an application without `ws` type-checks tributary's declarations),
 * and what the source and its watcher share: opening a socket, a message's value, the typed
 * errors, and closing without leaving a handle.
 */
import { maskUrlCredentials } from '../../core/redact'
import { requireOptional } from '../../core/optional'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectJsonField,
} from '../source'

/** A received message's data as `ws` gives it (a `Buffer`, an `ArrayBuffer`, or fragments). */
export type WebSocketData = Uint8Array | ArrayBuffer | readonly Uint8Array[] | string

/** An open (or opening) socket; a `WebSocket` of the `ws` package fits. */
export interface WebSocketLike {
  on(event: 'open', listener: () => void): unknown
  on(event: 'message', listener: (data: WebSocketData, isBinary: boolean) => void): unknown
  on(event: 'close', listener: (code: number, reason: Uint8Array) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'pong', listener: () => void): unknown
  /** Sends a ping (the watcher's heartbeat); a client without it gets no heartbeat. */
  ping?(): void
  /** Destroys the socket at once (no closing handshake to wait for). */
  terminate(): void
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number
}

/** Options passed to the constructor (those of `ws`). */
export interface WebSocketClientOptions {
  /** Headers of the upgrade request (e.g. `Authorization`); never printed. */
  readonly headers?: Readonly<Record<string, string>>
  /** How long the opening handshake may take, in ms. */
  readonly handshakeTimeout?: number
}

/** A WebSocket constructor; the `WebSocket` class of the `ws` package fits. */
export type WebSocketConstructorLike = new (
  url: string,
  protocols?: string | string[],
  options?: WebSocketClientOptions,
) => WebSocketLike

/** Where and how a WebSocket source connects for one component (what its watcher is given). */
export interface WebSocketTarget {
  /** The URL connected to. */
  readonly url: string
  /** The URL as messages show it (credentials masked). */
  readonly shown: string
  readonly protocols: readonly string[]
  readonly headers: Readonly<Record<string, string>>
  readonly handshakeTimeout: number
  /** ms between the watcher's pings; a connection that answers none in this time is dropped. 0: none. */
  readonly heartbeat: number
  /** The constructor: the one given, else `ws`'s (loaded now). */
  connect(): WebSocketLike
}

/** Loads the `ws` package's `WebSocket` class (an optional peer). @internal */
export function loadWebSocket(feature: string): WebSocketConstructorLike {
  const module = requireOptional<WebSocketConstructorLike & { WebSocket?: WebSocketConstructorLike }>(
    'ws',
    feature,
  )
  return module.WebSocket ?? module
}

/** A message's text (a binary message decoded as UTF-8). */
export function messageText(data: WebSocketData): string {
  if (typeof data === 'string') return data
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data as readonly Uint8Array[]).toString('utf8')
  const bytes = data as Uint8Array
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

/**
 * A message's value: its text parsed as JSON when it parses, else the text; with `field`, the
 * dotted path inside its JSON (text that is not JSON is a `SourceError`, a missing path a
 * `SourceNotFoundError`). @internal
 */
export function webSocketValue(
  data: WebSocketData,
  field: string | undefined,
  name: string,
  shown: string,
): unknown {
  const text = messageText(data)
  if (field !== undefined) return selectJsonField(text, field, { source: name, key: shown })
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/**
 * A failed connection as a `SourceError` naming the source and the URL (credentials masked):
 * an upgrade answered 401/403 a `SourcePermissionError`, 404/410 a `SourceNotFoundError`, any
 * other failure (refused, reset, closed, a timeout) a `SourceUnavailableError`. @internal
 */
export function webSocketError(error: unknown, name: string, shown: string, doing: string): SourceError {
  if (error instanceof SourceError) return error
  const message = maskUrlCredentials(error instanceof Error ? error.message : String(error))
  const cause = Object.assign(new Error(message), { name: error instanceof Error ? error.name : 'Error' })
  const details = { source: name, key: shown, cause }
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1]
  if (status === '401' || status === '403') {
    return new SourcePermissionError(details, `${name}: ${shown} refused ${doing}: HTTP ${status}`)
  }
  if (status === '404' || status === '410') {
    return new SourceNotFoundError(details, `${name}: ${shown} not found (HTTP ${status})`)
  }
  return new SourceUnavailableError(details, `${name}: unavailable while ${doing} ${shown}: ${message}`)
}

/** Why a socket closed, for a message: `code 1006` or `code 1001 (going away)`. */
export function closeReason(code: number, reason: Uint8Array): string {
  const text = Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength).toString('utf8').slice(0, 100)
  return text ? `code ${code} (${maskUrlCredentials(text)})` : `code ${code}`
}

/** Destroys `socket` and resolves once it has closed (no handle is left). @internal */
export function terminate(socket: WebSocketLike, closed: Promise<void>): Promise<void> {
  if (socket.readyState !== 3) {
    try {
      socket.terminate()
    } catch {
      // Terminating a socket that never opened may throw in some clients; it is closed then.
    }
  }
  return closed
}
