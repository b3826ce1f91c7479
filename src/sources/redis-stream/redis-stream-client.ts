/**
 * The parts of an ioredis client the Redis Stream source and its watcher use, as structural
 * types (an application without ioredis type-checks tributary's declarations): XREVRANGE for
 * the latest entry, and a duplicated connection for XREAD BLOCK.
 */

/** One stream entry as ioredis returns it: the id and the fields as `[name, value, name, value…]`. */
export type RedisStreamEntry = [id: string, fields: string[]]

/** An XREAD reply: per stream read, its key and the entries after the id given. */
export type RedisStreamReadReply = Array<[key: string, entries: RedisStreamEntry[]]>

/** XREVRANGE, the command both the client and the watcher's connection read the latest entry with. */
export interface RedisStreamRangeLike {
  /** `XREVRANGE key + - COUNT 1`: the latest entry (none when the stream is empty or missing). */
  xrevrange(key: string, end: '+', start: '-', count: 'COUNT', n: number): Promise<RedisStreamEntry[]>
}

/**
 * What `redisStreamSource` needs: XREVRANGE, and `duplicate()` for the watcher's reading
 * connection. An ioredis `Redis` fits.
 */
export interface RedisStreamClientLike extends RedisStreamRangeLike {
  duplicate(override?: RedisStreamReaderOverrides): RedisStreamReaderLike
}

/** Options the watcher gives `duplicate()` for its reading connection (ioredis options). */
export interface RedisStreamReaderOverrides {
  /** Connect at once. */
  readonly lazyConnect?: boolean
  /** Never reconnect: the watcher opens a new connection, with its own backoff, after a failure. */
  readonly retryStrategy?: (times: number) => number | null
  /** Fail a command at once when the connection is gone. */
  readonly maxRetriesPerRequest?: number | null
  /** Do not send a command again on a new connection (the watcher does, from the last id). */
  readonly autoResendUnfulfilledCommands?: boolean
  /** Fail a command that has no answer after this many ms (a blocked XREAD included). */
  readonly commandTimeout?: number
  /** Shown in `CLIENT LIST`. */
  readonly connectionName?: string
  /** How long `disconnect()` waits for the socket to close before destroying it, in ms. */
  readonly disconnectTimeout?: number
}

/** The reading connection `duplicate()` returns; an ioredis `Redis` fits. */
export interface RedisStreamReaderLike extends RedisStreamRangeLike {
  /** `XREAD COUNT n STREAMS key id`: the entries after `id`, without waiting. */
  xread(
    count: 'COUNT',
    n: number,
    streams: 'STREAMS',
    key: string,
    id: string,
  ): Promise<RedisStreamReadReply | null>
  /** `XREAD COUNT n BLOCK ms STREAMS key id`: waits up to `ms` for entries after `id`. */
  xread(
    count: 'COUNT',
    n: number,
    block: 'BLOCK',
    ms: number,
    streams: 'STREAMS',
    key: string,
    id: string,
  ): Promise<RedisStreamReadReply | null>
  on(event: 'error', listener: (error: Error) => void): unknown
  /** Closes the connection (a blocked XREAD fails with "Connection is closed"). */
  disconnect(): void
}
