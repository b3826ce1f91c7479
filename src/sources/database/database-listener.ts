/**
 * One PostgreSQL `LISTEN` connection per database source and channel, shared by its watchers:
 * opened by the first, closed by the last, reconnected with the watchers' capped backoff.
 */
import { delay } from '../../core/abort'
import { requireOptional } from '../../core/optional'
import { SourceUnavailableError } from '../source'
import { backoffDelay, type WatchBackoff } from '../watch'

/** A notification as `pg` delivers it. */
export interface ListenNotification {
  readonly channel: string
  readonly payload?: string
}

/** The part of a `pg` `Client` the listener uses (a `new pg.Client(config)` fits). */
export interface ListenClientLike {
  connect(): Promise<unknown>
  query(sql: string): Promise<unknown>
  end(): Promise<unknown>
  on(event: 'notification', listener: (message: ListenNotification) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'end', listener: () => void): unknown
}

/**
 * How the listener connects: a connection string or a `pg` client config (the optional peer
 * `pg` is loaded then), or a function returning a new, unconnected client each time (the
 * listener connects it, and ends it on close or after a failure).
 */
export type ListenConnection = string | Readonly<Record<string, unknown>> | (() => ListenClientLike)

/** What a watcher hears from the shared listener. */
export interface ListenSubscriber {
  /** A notification arrived on the channel. */
  notify(payload: string): void
  /** The listener is (again) connected and listening: changes made meanwhile were not notified. */
  listening(): void
  /** Connecting or listening failed; reported once per outage of the listener. */
  failed(error: SourceUnavailableError): void
}

/** A running shared listener. */
export interface ChannelListener {
  /** Adds a subscriber; the returned function removes it (the last removal closes the connection). */
  subscribe(subscriber: ListenSubscriber): () => Promise<void>
  /** True while connected and listening. */
  readonly connected: boolean
}

/** Quotes `name` as a PostgreSQL identifier. @internal */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

interface PgModule {
  Client: new (config: Record<string, unknown>) => ListenClientLike
}

/**
 * A listener on `channel` through `connection`, idle until its first subscriber. `name` is the
 * source's name (for errors); `backoff` paces reconnects. `databaseSource` creates one per
 * source when `notify` is set. @internal
 */
export function createChannelListener(
  name: string,
  channel: string,
  connection: ListenConnection,
  backoff: WatchBackoff | undefined,
): ChannelListener {
  const subscribers = new Set<ListenSubscriber>()
  let run: { controller: AbortController; done: Promise<void> } | undefined
  let connected = false

  const newClient = (): ListenClientLike => {
    if (typeof connection === 'function') return connection()
    const { Client } = requireOptional<PgModule>('pg', 'databaseSource notify (LISTEN/NOTIFY)')
    return new Client(typeof connection === 'string' ? { connectionString: connection } : { ...connection })
  }
  const each = (fn: (s: ListenSubscriber) => void): void => {
    for (const subscriber of [...subscribers]) {
      try {
        fn(subscriber)
      } catch {
        // One watcher's failure must not keep the others from hearing.
      }
    }
  }

  /** Connects, listens and waits for the connection to end; again with backoff until stopped. */
  const loop = async (signal: AbortSignal): Promise<void> => {
    let failures = 0
    const closed = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    )
    while (!signal.aborted) {
      let client: ListenClientLike | undefined
      try {
        client = newClient()
        const current = client
        const ended = new Promise<Error | undefined>((resolve) => {
          current.on('error', (error) => resolve(error))
          current.on('end', () => resolve(undefined))
        })
        current.on('notification', (message) => {
          if (message.channel === channel && !signal.aborted) each((s) => s.notify(message.payload ?? ''))
        })
        await Promise.race([
          current.connect(),
          ended.then((e) => Promise.reject(e ?? new Error('connection ended'))),
        ])
        await current.query(`LISTEN ${quoteIdentifier(channel)}`)
        if (signal.aborted) break
        failures = 0
        connected = true
        each((s) => s.listening())
        const why = await Promise.race([ended, closed.then(() => undefined)])
        connected = false
        if (signal.aborted) break
        failures += 1
        each((s) => s.failed(listenError(name, channel, why ?? new Error('the LISTEN connection ended'))))
      } catch (error) {
        connected = false
        if (signal.aborted) break
        failures += 1
        if (failures === 1) each((s) => s.failed(listenError(name, channel, error)))
      } finally {
        connected = false
        if (client) await client.end().catch(() => undefined)
      }
      await delay(backoffDelay(failures, backoff), signal).catch(() => undefined)
    }
  }

  return {
    get connected() {
      return connected
    },
    subscribe(subscriber) {
      subscribers.add(subscriber)
      if (!run) {
        const controller = new AbortController()
        run = { controller, done: loop(controller.signal) }
      } else if (connected) {
        queueMicrotask(() => {
          if (subscribers.has(subscriber) && connected) subscriber.listening()
        })
      }
      let removed: Promise<void> | undefined
      return () =>
        (removed ??= (async () => {
          subscribers.delete(subscriber)
          if (subscribers.size > 0 || !run) return
          const { controller, done } = run
          run = undefined
          controller.abort()
          await done
        })())
    },
  }
}

/** A listener failure, as the source reports it (the connection string is never quoted). */
function listenError(name: string, channel: string, error: unknown): SourceUnavailableError {
  const code = (error as { code?: unknown } | undefined)?.code
  const reason = error instanceof Error ? error.message : String(error)
  // pg's messages name the host and user at most; a URL given as the connection is not quoted.
  return new SourceUnavailableError(
    { source: name, key: channel, cause: new Error(reason) },
    `${name}: cannot LISTEN on channel ${JSON.stringify(channel)}${typeof code === 'string' ? ` (${code})` : ''}: ${reason}; polling meanwhile`,
  )
}
