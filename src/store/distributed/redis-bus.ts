/**
 * `redisBus(client)`: the query store's invalidation bus on Redis pub/sub. Publishes on your
 * client; listens on a duplicate of it, opened at the first subscriber and closed after the last.
 */
import { checkStoreOptions } from '../option-specs'
import type { RedisBusClient, RedisBusSubscriberLike } from './redis-client'
import type { BusMessage, InvalidationBus } from './l2-cache'
import { commandDeadlines } from './command-deadlines'

/** Options for {@link redisBus}. */
export interface RedisBusOptions {
  /** The channel is `${prefix}bus`. Defaults to `'tributary:store:'` (as `redisCache`). */
  prefix?: string
  /** Fails a publish after this many ms. Defaults to 1_000. */
  commandTimeout?: number
}

/**
 * An {@link InvalidationBus} on Redis pub/sub. Messages sent while a store is disconnected are
 * lost (pub/sub keeps nothing); ioredis resubscribes on reconnect.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { QueryStore, redisCache, redisBus } from 'tributary'
 * const redis = new Redis()
 * const store = new QueryStore({ l2: redisCache(redis), bus: redisBus(redis) })
 * ```
 */
export function redisBus(client: RedisBusClient, options: RedisBusOptions = {}): InvalidationBus {
  checkStoreOptions('redisBus', options ?? null)
  const channel = `${options.prefix ?? 'tributary:store:'}bus`
  const withDeadline = commandDeadlines(options.commandTimeout ?? 1_000)
  const listeners = new Set<{ listener: (message: BusMessage) => void; onError: (error: unknown) => void }>()
  let subscriber: RedisBusSubscriberLike | undefined

  const onMessage = (from: string, text: string): void => {
    if (from !== channel) return
    let message: BusMessage
    try {
      message = JSON.parse(text) as BusMessage
    } catch (error) {
      for (const { onError } of listeners) onError(error)
      return
    }
    for (const { listener } of [...listeners]) listener(message)
  }
  const onError = (error: unknown): void => {
    for (const item of listeners) item.onError(error)
  }

  return {
    async publish(message) {
      await withDeadline(client.publish(channel, JSON.stringify(message)))
    },
    subscribe(listener, errorListener) {
      const item = { listener, onError: errorListener }
      listeners.add(item)
      if (subscriber === undefined) {
        const connection = client.duplicate()
        subscriber = connection
        connection.on('message', onMessage)
        connection.on('error', onError)
        connection.subscribe(channel).catch(onError)
      }
      return () => {
        if (!listeners.delete(item) || listeners.size > 0 || subscriber === undefined) return
        const connection = subscriber
        subscriber = undefined
        connection.disconnect()
      }
    },
  }
}
