/**
 * The Redis source's watcher: keyspace notifications on a duplicated connection when the
 * server publishes them, polling otherwise.
 */
import { delay, raceAbort } from '../../core/abort'
import {
  SourceError,
  SourcePermissionError,
  SourceUnavailableError,
  type ComponentRequest,
  type ComponentSource,
} from '../source'
import {
  backoffDelay,
  createWatcherScope,
  pollLoop,
  readAndReport,
  type SourceWatchOptions,
  type SourceWatcher,
  type WatchReporter,
} from '../watch'
import type { RedisClientLike, RedisNotifyingClientLike, RedisSubscriberLike } from './redis-client'

/** How often the Redis watcher polls when notifications are off and no `pollInterval` is set, in ms. */
export const REDIS_POLL_INTERVAL_MS = 5_000

/** Settings of {@link watchRedis}, taken from the Redis source. */
export interface RedisWatchSettings {
  /** The source name. */
  readonly name: string
  /** The client the source reads with. */
  readonly client: RedisClientLike
  /** The source's key prefix. Defaults to `''`. */
  readonly prefix?: string
}

/**
 * True when `notify-keyspace-events` (the value of `CONFIG GET`) publishes what the watcher
 * needs: keyspace events (`K`) for generic commands, strings, hashes and expiry (`g$hx`, or `A`).
 *
 * @example
 * ```ts
 * import { keyspaceNotificationsCover } from 'tributary'
 * keyspaceNotificationsCover('KA') // true
 * keyspaceNotificationsCover('Ex') // false: keyevent only
 * ```
 */
export function keyspaceNotificationsCover(flags: string): boolean {
  if (!flags.includes('K')) return false
  const classes = flags.includes('A') ? `g$lshzxetd${flags}` : flags
  return ['g', '$', 'h', 'x'].every((c) => classes.includes(c))
}

/**
 * Watches one key. When the server publishes keyspace notifications (`CONFIG GET
 * notify-keyspace-events` covers `K` with `g$hx`, e.g. `KA`), a duplicated connection
 * subscribes to `__keyspace@<db>__:<key>` and the key is re-read (with the source's `fetch`)
 * after every event on it, and after every (re)connection of the subscriber; `pollInterval`
 * plays no part. The setting is checked again after every reconnect (a `CONFIG SET` is lost
 * when the server restarts): when it is off then, the subscriber is closed and the key is polled;
 * while polling, a reconnect after an outage checks it again and subscribes when it is on.
 * Otherwise (notifications off, `CONFIG` refused as on many managed services, a
 * client without `duplicate`, a Cluster) the key is polled every `pollInterval` ms (defaults to
 * 5_000). The watcher never changes the server's settings. An outage is reported once; reads
 * and the subscriber's reconnects back off (capped) and the current value is reported when the
 * server is back. `stop()` closes the subscriber connection.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { redisSource } from 'tributary'
 * const source = redisSource(new Redis())
 * const watcher = source.watch({ className: 'C', property: 'theme', key: 'settings', field: 'theme', secret: false }, {
 *   signal, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchRedis(
  source: ComponentSource,
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: RedisWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const key = `${settings.prefix ?? ''}${request.key ?? request.property}`
  const client = settings.client
  const pollInterval = Math.max(0, options.pollInterval ?? REDIS_POLL_INTERVAL_MS)
  /** The server's `run_id` at the last check (`undefined`: not known); it changes on a restart. */
  let runId: string | undefined
  const unavailable = (error: unknown, what: string): SourceError => {
    // A plain copy: ioredis errors can hold the failed command's arguments (AUTH's password).
    const reason = error instanceof Error ? error.message : String(error)
    const details = { source: settings.name, key, cause: new Error(reason) }
    if (/^(NOPERM|NOAUTH|WRONGPASS)/.test(reason)) {
      return new SourcePermissionError(details, `${settings.name}: Redis refused ${what} ${key}: ${reason}`)
    }
    return new SourceUnavailableError(
      details,
      `${settings.name}: Redis unavailable while ${what} ${key}: ${reason}`,
    )
  }

  /**
   * Whether the server publishes what the watcher needs now: true or false once it answered
   * (a refused CONFIG is false), `undefined` when stopped. With `once`, a failure to reach the
   * server is `undefined` too; without, it is reported and tried again with backoff.
   */
  const notificationsOn = async (
    notifying: RedisNotifyingClientLike,
    once = false,
  ): Promise<boolean | undefined> => {
    for (let failures = 1; !signal.aborted; failures += 1) {
      try {
        const reply = await raceAbort(notifying.config('GET', 'notify-keyspace-events'), signal)
        const flags = configValue(reply, 'notify-keyspace-events')
        runId = await serverRunId(notifying, signal)
        return flags !== undefined && keyspaceNotificationsCover(flags)
      } catch (error) {
        // The server answered (CONFIG disabled or not allowed): poll. No answer: an outage.
        if (isReplyError(error)) return false
        if (signal.aborted || once) return undefined
        reporter.error(unavailable(error, 'checking notifications for'))
        await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
      }
    }
    return undefined
  }

  /**
   * After a reconnect to a restarted server (or one whose identity is unknown), a missing key was
   * lost with the server's memory, not deleted: no keyspace event said so. Until a value is read,
   * a read succeeds (`settled`, when events follow) or an event on the key arrives, a missing key
   * ends the outage without a removal.
   */
  const outageAware = (
    restartedAtFirst: boolean,
  ): { reporter: WatchReporter; restarted(): void; settled(): void } => {
    let lostIsNotDeleted = restartedAtFirst
    return {
      reporter: {
        value: (value) => {
          // The key exists again: its next absence is a deletion.
          lostIsNotDeleted = false
          reporter.value(value)
        },
        removed: () => (lostIsNotDeleted ? reporter.ok() : reporter.removed()),
        error: (error) => reporter.error(error),
        ok: () => reporter.ok(),
        get failing() {
          return reporter.failing
        },
      },
      restarted: () => {
        lostIsNotDeleted = true
      },
      settled: () => {
        lostIsNotDeleted = false
      },
    }
  }

  const channel = (notifying: RedisNotifyingClientLike): string =>
    `__keyspace@${notifying.options?.db ?? 0}__:${notifying.options?.keyPrefix ?? ''}${key}`

  /**
   * Polls every `pollInterval` ms. After an outage (a round that succeeds after failures: the
   * client reconnected, perhaps to a restarted server), checks the setting again and switches to
   * notifications when they are on now.
   */
  const poll = (afterRestart = false): void => {
    if (signal.aborted) return
    const controller = new AbortController()
    scope.onStop(() => controller.abort())
    let failed = false
    // Switched to polling after a restart that lost the notifications setting: the server lost
    // its memory too, so the first read's missing key is the outage's, not a deletion.
    const lost = outageAware(afterRestart)
    void scope.track(
      pollLoop({
        signal: controller.signal,
        interval: () => pollInterval,
        backoff: options.backoff,
        onError: (error) => {
          failed = true
          reporter.error(error)
        },
        run: async (runSignal) => {
          // A poll that finds the key still missing is the same loss, not a new deletion.
          await readAndReport(source, request, options, lost.reporter, runSignal)
          if (!failed || !canNotify(client)) return
          failed = false
          if ((await notificationsOn(client, true)) === true && !controller.signal.aborted) {
            controller.abort()
            subscribe(client)
          }
        },
      }),
    )
  }

  const start = async (): Promise<void> => {
    if (!canNotify(client)) return poll()
    const on = await notificationsOn(client)
    if (on === undefined) return
    if (on) subscribe(client)
    else poll()
  }

  /**
   * Subscribes on a duplicated connection and re-reads after every event on the key. After a
   * reconnect of that connection the setting is checked again (a restarted server has lost a
   * `CONFIG SET`): still on, it subscribes again and re-reads; off, it closes the connection and polls.
   */
  const subscribe = (notifying: RedisNotifyingClientLike): void => {
    if (signal.aborted) return
    const name = channel(notifying)
    const subscriber = notifying.duplicate({
      lazyConnect: false,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => backoffDelay(times, options.backoff),
      connectionName: 'tributary-watch',
      // Nothing to flush on a subscriber: close at once, and leave no ioredis timer behind.
      disconnectTimeout: 0,
    })
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      void scope.track(closeSubscriber(subscriber))
    }
    scope.onStop(close)
    const live = (): boolean => !closed && !signal.aborted
    const lost = outageAware(false)
    // Until a read succeeds (an event during the read reads once more after it).
    const read = scope.coalesce(async () => {
      for (let failures = 1; live(); failures += 1) {
        try {
          await readAndReport(source, request, options, lost.reporter, signal)
          lost.settled()
          return
        } catch (error) {
          if (!live()) return
          reporter.error(error)
          await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
        }
      }
    })
    // Subscribe first, then read: a change between the two is seen by one or the other.
    const resubscribe = (): void => {
      if (!live()) return
      subscriber.subscribe(name).then(read, (error: unknown) => {
        // A failed SUBSCRIBE comes with a lost connection: the next 'ready' tries again.
        if (live()) reporter.error(unavailable(error, 'subscribing to'))
      })
    }
    let readies = 0
    const ready = (): void => {
      readies += 1
      if (!live()) return
      if (readies === 1) return resubscribe()
      const before = runId
      void scope.track(
        notificationsOn(notifying).then((on) => {
          if (on === undefined || !live()) return
          const restarted = runId === undefined || runId !== before
          if (on) {
            if (restarted) lost.restarted()
            return resubscribe()
          }
          close()
          poll(restarted)
        }),
      )
    }
    subscriber.on('message', (received) => {
      if (received !== name || !live()) return
      // An event on the key: what the next read finds (a missing key too) is the key's state.
      lost.settled()
      read()
    })
    subscriber.on('ready', ready)
    subscriber.on('error', (error) => {
      if (live()) reporter.error(unavailable(error, 'watching'))
    })
    if (subscriber.status === 'ready') ready()
  }

  void scope.track(start())
  return scope.watcher
}

function canNotify(client: RedisClientLike): client is RedisNotifyingClientLike {
  const candidate = client as Partial<RedisNotifyingClientLike>
  return (
    typeof candidate.duplicate === 'function' &&
    typeof candidate.config === 'function' &&
    candidate.isCluster !== true
  )
}

/** The value of `parameter` in a CONFIG GET reply (a flat `[name, value, …]` array or a map). */
function configValue(reply: unknown, parameter: string): string | undefined {
  if (Array.isArray(reply)) {
    const at = reply.findIndex((item) => String(item).toLowerCase() === parameter)
    return at === -1 ? undefined : String(reply[at + 1] ?? '')
  }
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)[parameter]
    return value === undefined ? undefined : String(value)
  }
  return undefined
}

/**
 * The server's `run_id` (from `INFO server`), or `undefined` when the client has no `info`, the
 * server refuses it (renamed on managed services) or the reply has none. Throws on no answer.
 */
async function serverRunId(
  notifying: RedisNotifyingClientLike,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (typeof notifying.info !== 'function') return undefined
  try {
    const reply = await raceAbort(notifying.info('server'), signal)
    return /^run_id:(\w+)/m.exec(String(reply))?.[1]
  } catch (error) {
    if (isReplyError(error)) return undefined
    throw error
  }
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}

/** Disconnects and resolves when the socket is gone (at once when none is open). */
function closeSubscriber(subscriber: RedisSubscriberLike): Promise<void> {
  if (subscriber.status === 'end') return Promise.resolve()
  const ended = new Promise<void>((resolve) => subscriber.on('end', resolve))
  subscriber.disconnect()
  // Between reconnect attempts there is no socket: disconnect() cancels the next attempt and
  // sets a 0 ms timer (disconnectTimeout) to destroy the closed stream; let it run first.
  if (subscriber.status === 'reconnecting' || subscriber.status === 'end') {
    return new Promise((resolve) => setTimeout(resolve, 0))
  }
  return ended
}
