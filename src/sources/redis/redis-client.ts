/**
 * The parts of an ioredis client the Redis source and its watcher use: the read commands, and
 * what keyspace notifications need (CONFIG GET and a duplicated subscriber connection).
 */

/** The commands this source needs; an ioredis `Redis` or `Cluster` instance fits. */
export interface RedisClientLike {
  get(key: string): Promise<string | null>
  hget(key: string, field: string): Promise<string | null>
  hgetall(key: string): Promise<Record<string, string>>
  exists(...keys: string[]): Promise<number>
}

/** Options the watcher gives `duplicate()` for its subscriber connection (ioredis options). */
export interface RedisSubscriberOverrides {
  /** Connect at once. */
  readonly lazyConnect?: boolean
  /** Reconnect forever with the watcher's capped backoff. */
  readonly retryStrategy?: (times: number) => number
  /** Keep SUBSCRIBE waiting through a reconnect instead of failing it. */
  readonly maxRetriesPerRequest?: number | null
  /** Shown in `CLIENT LIST`. */
  readonly connectionName?: string
  /** How long `disconnect()` waits for the socket to close before destroying it, in ms. */
  readonly disconnectTimeout?: number
}

/** The subscriber connection `duplicate()` returns; an ioredis `Redis` fits. */
export interface RedisSubscriberLike {
  subscribe(...channels: string[]): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'ready' | 'end', listener: () => void): unknown
  /** Closes the connection and stops reconnecting. */
  disconnect(): void
  /** ioredis' connection status (`'ready'`, `'reconnecting'`, `'end'`…). */
  readonly status: string
}

/**
 * What the watcher needs, beyond {@link RedisClientLike}, to use keyspace notifications; an
 * ioredis `Redis` fits. A client without these (or an ioredis `Cluster`) is polled.
 */
export interface RedisNotifyingClientLike extends RedisClientLike {
  config(subcommand: 'GET', parameter: string): Promise<unknown>
  /**
   * `INFO <section>`: the watcher reads the server's `run_id` to tell a restart (whose lost keys
   * are not deletions) from a network outage. Without it, no reconnect infers a deletion.
   */
  info?(section: string): Promise<string>
  duplicate(override?: RedisSubscriberOverrides): RedisSubscriberLike
  /** ioredis options: the database number and the client's own key prefix. */
  readonly options?: { readonly db?: number; readonly keyPrefix?: string }
  readonly isCluster?: boolean
}
