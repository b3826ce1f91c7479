/**
 * `redisStreamSource(client)`: components whose value is the latest entry of a Redis Stream.
 */
import { raceAbort, throwIfAborted } from '../../core/abort'
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { SourceNotFoundError, type ComponentRequest, type SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import type { RedisStreamClientLike } from './redis-stream-client'
import { entryValue, redisStreamError } from './redis-stream-entry'
import { watchRedisStream } from './redis-stream-watcher'
import { streamHandoff } from '../stream-handoff'

export type {
  RedisStreamClientLike,
  RedisStreamEntry,
  RedisStreamRangeLike,
  RedisStreamReadReply,
  RedisStreamReaderLike,
  RedisStreamReaderOverrides,
} from './redis-stream-client'

/** What `redisStreamSource(client, options)` may hold. */
const REDIS_STREAM_OPTIONS: OptionSpec = {
  prefix: checks.string,
  name: checks.name,
  blockTimeout: checks.integer(1),
}

/** Options of {@link redisStreamSource}. */
export interface RedisStreamSourceOptions {
  /** Prepended to every stream key (in addition to any `keyPrefix` of the client). Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'redis-stream'`. */
  readonly name?: string
  /**
   * How long one `XREAD BLOCK` of the watcher waits for new entries before it asks again, in ms
   * (a connection that stops answering is noticed after this plus 5 s). Defaults to 5_000.
   */
  readonly blockTimeout?: number
}

/**
 * A source whose components are the latest entry of a Redis Stream, read through an ioredis
 * client you own (the source never closes it). A component's `key` (or its property name),
 * after `prefix`, names the stream; `resolve` reads `XREVRANGE key + - COUNT 1` and gives the
 * entry's fields as an object (`{ theme: 'dark', rps: '25' }`, values as Redis stores them:
 * strings), or, with `field`, one field's value (a dotted `field` such as `'payload.db.port'`
 * reads the path inside a field holding JSON). A missing or empty stream, or a `field` the
 * latest entry lacks, is a `SourceNotFoundError`; unreachable Redis a `SourceUnavailableError`.
 * `watch` reports every entry added after the latest one, once and in order, with
 * `XREAD BLOCK` on a connection of its own (see `watchRedisStream`); a watch started
 * within 30 s of a `fetch` of the same stream (as `watch()` does after its resolve) reads on
 * from the entry that fetch gave, so an entry added in between is not skipped.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { Component, redisStreamSource, watch } from 'tributary'
 * class Flags {
 *   @Component({ fetchFrom: 'redis-stream', key: 'flags' }) flags!: Record<string, string>
 *   @Component({ fetchFrom: 'redis-stream', key: 'rates', field: 'rps' }) rps!: number
 * }
 * const redis = new Redis()
 * const live = await watch(Flags, { sources: [redisStreamSource(redis)] })
 * // elsewhere: XADD rates * rps 50 → live.current.rps === 50
 * ```
 */
export function redisStreamSource(
  client: RedisStreamClientLike,
  options: RedisStreamSourceOptions = {},
): WatchableSource {
  const candidate = client as Partial<RedisStreamClientLike> | null
  if (typeof candidate?.xrevrange !== 'function' || typeof candidate.duplicate !== 'function') {
    throw new TypeError(
      'redisStreamSource(client, options): client must be an ioredis client (xrevrange, duplicate)',
    )
  }
  checkOptions('redisStreamSource(client, options)', options, REDIS_STREAM_OPTIONS)
  const name = options.name ?? 'redis-stream'
  const prefix = options.prefix ?? ''
  const blockTimeout = options.blockTimeout ?? 5_000
  /** Per stream key and field, the id of the entry the last `fetch` gave. */
  const handoff = streamHandoff<string>()
  const takeFetched = handoff.take
  const source: WatchableSource = {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const key = `${prefix}${request.key ?? request.property}`
      let entries
      try {
        entries = await raceAbort(client.xrevrange(key, '+', '-', 'COUNT', 1), context.signal)
      } catch (error) {
        if (context.signal.aborted) throw error
        throw redisStreamError(error, name, key, 'reading')
      }
      const latest = entries[0]
      if (latest === undefined) {
        throw new SourceNotFoundError({ source: name, key }, `${name}: stream ${key} is missing or empty`)
      }
      handoff.remember(key, request.field, latest[0])
      return entryValue(latest, request.field, name, key)
    },
    watch: (request, watchOptions) =>
      watchRedisStream(request, watchOptions, { name, client, prefix, blockTimeout, takeFetched }),
  }
  return source
}
