/**
 * `redisSource(client)`: components read from Redis strings and hashes.
 */
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { raceAbort, throwIfAborted } from '../../core/abort'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectField,
  type ComponentRequest,
  type SourceContext,
} from '../source'
import type { WatchableSource } from '../watch'
import type { RedisClientLike } from './redis-client'
import { watchRedis } from './redis-watcher'

/** What `redisSource(client, options)` may hold. */
const REDIS_OPTIONS: OptionSpec = { prefix: checks.string, name: checks.name }

export type {
  RedisClientLike,
  RedisNotifyingClientLike,
  RedisSubscriberLike,
  RedisSubscriberOverrides,
} from './redis-client'

/** Options of {@link redisSource}. */
export interface RedisSourceOptions {
  /** Prepended to every key (in addition to any `keyPrefix` of the client). Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'redis'`. */
  readonly name?: string
}

/**
 * A source reading Redis through an ioredis client you own (it is not closed by the source).
 * A string key is read with GET; a hash with HGET when the component has a `field`, or as a
 * whole with HGETALL when it has none. A `field` on a string key parses the string as JSON and
 * picks the dotted path. A missing key or hash field is a `SourceNotFoundError`. ioredis cannot
 * cancel a command: an aborted signal rejects at once and the reply is ignored. `watch` uses
 * keyspace notifications when the server publishes them, polling otherwise (see
 * `watchRedis`).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { Component, redisSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'redis', key: 'settings', field: 'theme', ttl: 3600 }) theme!: string
 * }
 * const config = await resolve(AppConfig, { sources: [redisSource(new Redis())] })
 * ```
 */
export function redisSource(client: RedisClientLike, options: RedisSourceOptions = {}): WatchableSource {
  const candidate = client as Partial<RedisClientLike> | null
  if (typeof candidate?.get !== 'function' || typeof candidate.hget !== 'function') {
    throw new TypeError(
      'redisSource(client, options): client must be an ioredis client (get, hget, hgetall, exists)',
    )
  }
  checkOptions('redisSource(client, options)', options, REDIS_OPTIONS)
  const name = options.name ?? 'redis'
  const prefix = options.prefix ?? ''
  const source: WatchableSource = {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const key = `${prefix}${request.key ?? request.property}`
      const details = { source: name, key }
      const run = <T>(command: Promise<T>): Promise<T> => raceAbort(command, context.signal)
      try {
        if (request.field === undefined) {
          try {
            const value = await run(client.get(key))
            if (value === null) throw new SourceNotFoundError(details, `${name}: key ${key} not found`)
            return value
          } catch (error) {
            if (!isWrongType(error)) throw error
          }
          const hash = await run(client.hgetall(key))
          if (Object.keys(hash).length === 0)
            throw new SourceNotFoundError(details, `${name}: key ${key} not found`)
          return hash
        }
        let value: string | null
        try {
          value = await run(client.hget(key, request.field))
        } catch (error) {
          if (!isWrongType(error)) throw error
          return fieldOfString(await run(client.get(key)), request.field, name, key)
        }
        if (value !== null) return value
        const exists = (await run(client.exists(key))) > 0
        throw new SourceNotFoundError(
          details,
          exists
            ? `${name}: field ${JSON.stringify(request.field)} not found in hash ${key}`
            : `${name}: key ${key} not found`,
        )
      } catch (error) {
        if (context.signal.aborted || error instanceof SourceError) throw error
        throw commandError(error, name, key)
      }
    },
    watch: (request, watchOptions) => watchRedis(source, request, watchOptions, { name, client, prefix }),
  }
  return source
}

function fieldOfString(value: string | null, field: string, name: string, key: string): unknown {
  if (value === null) throw new SourceNotFoundError({ source: name, key }, `${name}: key ${key} not found`)
  let document: unknown
  try {
    document = JSON.parse(value)
  } catch {
    throw new SourceError(
      `${name}: key ${key} holds a string that is not JSON, so field ${JSON.stringify(field)} cannot be read`,
      { source: name, key },
    )
  }
  return selectField(document, field, { source: name, key })
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE')
}

function commandError(error: unknown, name: string, key: string): SourceError {
  const message = error instanceof Error ? error.message : String(error)
  // A plain copy: ioredis errors hold the failed command, and a failed AUTH's arguments are the password.
  const cause = Object.assign(new Error(message), { name: error instanceof Error ? error.name : 'Error' })
  const details = { source: name, key, cause }
  if (
    /ECONNREFUSED|Connection is closed|max retries per request|Stream isn't writeable|ETIMEDOUT/i.test(
      message,
    )
  ) {
    return new SourceUnavailableError(details, `${name}: Redis unavailable while reading ${key}: ${message}`)
  }
  if (/^(NOPERM|NOAUTH|WRONGPASS)/.test(message)) {
    return new SourcePermissionError(
      details,
      `${name}: Redis refused reading ${key}: ${message.split('\n')[0]}`,
    )
  }
  return new SourceError(`${name}: reading ${key} failed: ${message}`, details)
}
