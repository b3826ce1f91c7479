/**
 * The Redis Stream source's watcher: the latest entry, then `XREAD BLOCK` from the last id seen
 * on a connection of its own, resumed from that id after every reconnect, so no entry is lost
 * or reported twice.
 */
import { delay } from '../../core/abort'
import { type ComponentRequest } from '../source'
import {
  backoffDelay,
  createStreamMessageReporter,
  createWatcherScope,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'
import type {
  RedisStreamClientLike,
  RedisStreamEntry,
  RedisStreamReadReply,
  RedisStreamReaderLike,
} from './redis-stream-client'
import { entryValue, redisStreamError } from './redis-stream-entry'

/** Settings of {@link watchRedisStream}, taken from the Redis Stream source. */
export interface RedisStreamWatchSettings {
  /** The source name. */
  readonly name: string
  /** The client whose `duplicate()` gives the reading connection. */
  readonly client: RedisStreamClientLike
  /** The source's key prefix. Defaults to `''`. */
  readonly prefix?: string
  /** How long one `XREAD BLOCK` waits, in ms. Defaults to 5_000. */
  readonly blockTimeout?: number
  /**
   * The id of the entry the source's last `fetch` of `key` (with the same `field`) gave, if
   * recent (see `STREAM_RESUME_WINDOW_MS` in `stream-handoff.ts`), taken once: the watcher reads on from
   * it instead of reading the latest entry. Defaults to none.
   */
  readonly takeFetched?: (key: string, field: string | undefined) => string | undefined
}

/** The most entries one XREAD returns (the rest come with the next one, at once). */
export const REDIS_STREAM_READ_COUNT = 100

/** The name the watcher's connection shows in `CLIENT LIST`. */
export const REDIS_STREAM_CONNECTION_NAME = 'tributary-stream-watch'

/**
 * Watches one stream. It reads the latest entry (`XREVRANGE … COUNT 1`, reported as
 * `fetch` would: the value, or a removal while the stream is missing or empty) — or, started
 * right after a `fetch` of the stream, starts at the entry that fetch gave — then reads
 * every entry after it with `XREAD BLOCK` on a connection duplicated from the client, and
 * reports each one's value once, in stream order — an entry with the same value as the one
 * before is reported too (the live component then has no change to publish). When the
 * connection fails (Redis down, restarted, the connection killed), the outage is reported once
 * and, after a capped backoff, a new connection reads on from the last id seen: entries added
 * meanwhile come then, none twice. A Redis restarted without persistence starts the stream
 * again: entries added after it have greater ids and are reported. A deleted stream is not
 * reported (the value stays the last entry). `pollInterval` plays no part. `stop()` closes the
 * connection (a blocked XREAD ends with it).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { redisStreamSource } from 'tributary'
 * const watcher = redisStreamSource(new Redis()).watch({ className: 'C', property: 'flags', key: 'flags', secret: false }, {
 *   signal, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchRedisStream(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: RedisStreamWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const { name, client } = settings
  const key = `${settings.prefix ?? ''}${request.key ?? request.property}`
  const blockTimeout = settings.blockTimeout ?? 5_000
  /** The id of the last entry reported; undefined before the first read. */
  let lastId: string | undefined = settings.takeFetched?.(key, request.field)
  /** Connections that failed in a row (reset once one reads). */
  let failures = 0

  const stream = createStreamMessageReporter(
    (entry: RedisStreamEntry) => entryValue(entry, request.field, name, key),
    options,
    reporter,
    signal,
  )
  const deliver = (entry: RedisStreamEntry): void => {
    lastId = entry[0]
    stream.message(entry)
  }
  const remove = stream.removed
  const deliverAll = (reply: RedisStreamReadReply | null): number => {
    const entries = reply?.[0]?.[1] ?? []
    for (const entry of entries) deliver(entry)
    return entries.length
  }

  /** One connection: reads until it fails or the watcher stops. */
  const session = async (reader: RedisStreamReaderLike): Promise<void> => {
    if (lastId === undefined) {
      const latest = (await reader.xrevrange(key, '+', '-', 'COUNT', 1))[0]
      if (latest) deliver(latest)
      else {
        // Every entry of a stream created from now on is newer than the latest read (none).
        lastId = '0-0'
        remove()
      }
    } else {
      // Catch up at once (and confirm the connection works) before blocking.
      while (deliverAll(await reader.xread('COUNT', REDIS_STREAM_READ_COUNT, 'STREAMS', key, lastId)) > 0) {
        if (signal.aborted) return
      }
    }
    failures = 0
    reporter.ok()
    while (!signal.aborted) {
      deliverAll(
        await reader.xread(
          'COUNT',
          REDIS_STREAM_READ_COUNT,
          'BLOCK',
          blockTimeout,
          'STREAMS',
          key,
          lastId ?? '0-0',
        ),
      )
    }
  }

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      let reader: RedisStreamReaderLike
      try {
        reader = client.duplicate({
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          commandTimeout: blockTimeout + 5_000,
          connectionName: REDIS_STREAM_CONNECTION_NAME,
        })
      } catch (error) {
        return reporter.error(redisStreamError(error, name, key, 'watching'))
      }
      // Failures come as rejected commands; the event is only the connection's log line.
      reader.on('error', () => undefined)
      const close = (): void => reader.disconnect()
      signal.addEventListener('abort', close, { once: true })
      try {
        await session(reader)
      } catch (error) {
        if (signal.aborted) break
        failures += 1
        reporter.error(redisStreamError(error, name, key, 'watching'))
      } finally {
        signal.removeEventListener('abort', close)
        reader.disconnect()
      }
      if (failures > 0 && !signal.aborted)
        await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
    }
  }
  void scope.track(loop())
  return scope.watcher
}
