/**
 * The WebSocket source's watcher: one connection per component, every message reported, and a
 * reconnect with the watchers' capped backoff after the connection fails or closes.
 */
import { delay } from '../../core/abort'
import { SourceUnavailableError, type ComponentRequest, type SourceError } from '../source'
import {
  backoffDelay,
  createStreamMessageReporter,
  createWatcherScope,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'
import {
  closeReason,
  terminate,
  webSocketError,
  webSocketValue,
  type WebSocketData,
  type WebSocketLike,
  type WebSocketTarget,
} from './websocket-client'

/** Settings of {@link watchWebSocket}, taken from the WebSocket source. */
export interface WebSocketWatchSettings {
  /** The source name. */
  readonly name: string
  /** Where and how to connect. */
  readonly target: WebSocketTarget
}

/**
 * Watches one feed: it connects and reports each message's value once, in the order received
 * (a message with the same value as the one before is reported too; the live component then
 * has no change to publish). When the connection fails or closes (the server went away,
 * restarted, or closed it), the outage is reported once, and it connects again after the
 * capped backoff of the other watchers (`backoff`, from 200 ms doubling to 30 s by default),
 * reset once a connection opens. A connection that answers no ping for `heartbeat` ms (the
 * source's option, 30 s by default) is dropped as an outage too. Messages sent while no connection was open are not seen: a
 * feed that sends its state on connect gives it again then. `pollInterval` plays no part.
 * `stop()` closes the connection.
 *
 * @example
 * ```ts
 * import { websocketSource } from 'tributary'
 * const watcher = websocketSource({ url: 'ws://127.0.0.1:8080/feed' }).watch(
 *   { className: 'C', property: 'price', secret: false },
 *   { signal, onChange: console.log, onRemove() {}, onError: console.error },
 * )
 * ```
 */
export function watchWebSocket(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: WebSocketWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const { name, target } = settings
  let failures = 0

  const deliver = createStreamMessageReporter(
    (data: WebSocketData) => webSocketValue(data, request.field, name, target.shown),
    options,
    reporter,
    signal,
  ).message

  /** One connection, until it closes: resolves with why (or `undefined` when stopped). */
  const session = (socket: WebSocketLike): Promise<SourceError | undefined> =>
    new Promise((resolve) => {
      let failure: SourceError | undefined
      const closed = new Promise<void>((done) => {
        socket.on('close', (code, reason) => {
          done()
          signal.removeEventListener('abort', onAbort)
          if (signal.aborted) return resolve(undefined)
          resolve(
            failure ??
              new SourceUnavailableError(
                { source: name, key: target.shown },
                `${name}: the connection to ${target.shown} closed (${closeReason(code, reason)})`,
              ),
          )
        })
      })
      const onAbort = (): void => void scope.track(terminate(socket, closed))
      signal.addEventListener('abort', onAbort, { once: true })
      socket.on('error', (error) => {
        failure ??= webSocketError(error, name, target.shown, 'watching')
      })
      // The heartbeat: a ping every `heartbeat` ms; no pong and no message since the last one
      // means the peer went silent, and the connection is dropped (then reconnected).
      let answered = true
      let pinger: ReturnType<typeof setInterval> | undefined
      const beat = (): void => {
        if (!answered) {
          failure ??= new SourceUnavailableError(
            { source: name, key: target.shown },
            `${name}: ${target.shown} answered no ping within ${target.heartbeat} ms`,
          )
          void terminate(socket, closed)
          return
        }
        answered = false
        try {
          socket.ping?.()
        } catch {
          // Not open any more: its close event follows.
        }
      }
      void closed.then(() => clearInterval(pinger))
      socket.on('open', () => {
        failures = 0
        reporter.ok()
        if (target.heartbeat > 0 && typeof socket.ping === 'function' && socket.readyState === 1) {
          pinger = setInterval(beat, target.heartbeat)
        }
      })
      socket.on('pong', () => {
        answered = true
      })
      socket.on('message', (data) => {
        answered = true
        deliver(data)
      })
    })

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      let socket: WebSocketLike
      try {
        socket = target.connect()
      } catch (error) {
        // A missing `ws` package or a constructor that refuses the URL: nothing to retry.
        return reporter.error(error)
      }
      const failure = await session(socket)
      if (failure === undefined || signal.aborted) return
      failures += 1
      reporter.error(failure)
      await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
    }
  }
  void scope.track(loop())
  return scope.watcher
}
