/**
 * The database source's watcher: re-runs the component's query (or key lookup) at
 * `pollInterval`, or, with PostgreSQL `LISTEN`/`NOTIFY`, when a notification arrives (with a
 * slow safety-net poll); no row any more is reported through `onRemove`.
 */
import { delay } from '../../core/abort'
import type { ComponentRequest, ComponentSource } from '../source'
import {
  backoffDelay,
  createWatcherScope,
  pollingWatcher,
  readAndReport,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'
import type { ChannelListener } from './database-listener'

/** How often the database watcher re-runs the query when the component sets no `pollInterval`, in ms. */
export const DATABASE_POLL_INTERVAL_MS = 5_000

/** How often a watcher that is `LISTEN`ing re-runs the query anyway (the safety net), in ms. */
export const DATABASE_SAFETY_POLL_INTERVAL_MS = 30_000

/** What the database source gives its watcher when `notify` is set. */
export interface DatabaseWatchNotify {
  /** The source's shared listener on the channel. */
  readonly listener: ChannelListener
  /** The poll interval while listening, in ms. Defaults to {@link DATABASE_SAFETY_POLL_INTERVAL_MS}. */
  readonly safetyPollInterval?: number
}

/**
 * Watches one component by re-running its query with the source's `fetch` every
 * `pollInterval` ms (defaults to 5_000). A database that goes down is reported once; the
 * watcher retries with capped backoff and reports the current value when it is back.
 *
 * With `notify` (the source's `notify` option, PostgreSQL), the source's one `LISTEN`
 * connection on the channel wakes the watcher: every notification re-runs the query at once
 * (notifications that arrive during a read make one more read, not one each). While listening
 * the query also runs every `safetyPollInterval` ms (defaults to 30_000), in case a change was
 * not notified (a write that bypassed the trigger); when the `LISTEN` connection is lost the
 * watcher polls at `pollInterval` until it is back, re-reads then (changes made meanwhile were
 * not notified), and reports the listener's outage once.
 *
 * @example
 * ```ts
 * import { databaseSource } from 'tributary'
 * const source = databaseSource(db)
 * const watcher = source.watch?.({ className: 'C', property: 'limit', key: 'rate_limit', secret: false }, {
 *   signal, pollInterval: 10_000, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchDatabase(
  source: ComponentSource,
  request: ComponentRequest,
  options: SourceWatchOptions,
  notify?: DatabaseWatchNotify,
): SourceWatcher {
  if (!notify) return pollingWatcher(source, { pollInterval: DATABASE_POLL_INTERVAL_MS })(request, options)
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const pollInterval = options.pollInterval ?? DATABASE_POLL_INTERVAL_MS
  const safetyInterval = notify.safetyPollInterval ?? DATABASE_SAFETY_POLL_INTERVAL_MS
  let listening = false
  let woken = false
  let wake: AbortController | undefined

  /** Ends the current wait (or, during a read, makes the loop read again right after it). */
  const rouse = (): void => {
    woken = true
    wake?.abort()
  }
  const unsubscribe = notify.listener.subscribe({
    notify: rouse,
    listening() {
      listening = true
      rouse()
    },
    failed(error) {
      listening = false
      reporter.error(error)
      rouse()
    },
  })

  const loop = async (): Promise<void> => {
    let failures = 0
    while (!signal.aborted) {
      woken = false
      try {
        await readAndReport(source, request, options, reporter, signal)
        failures = 0
      } catch (error) {
        if (signal.aborted) break
        failures += 1
        reporter.error(error)
      }
      if (signal.aborted) break
      if (woken && failures === 0) continue
      const wait =
        failures > 0 ? backoffDelay(failures, options.backoff) : listening ? safetyInterval : pollInterval
      wake = new AbortController()
      const stop = (): void => wake?.abort()
      signal.addEventListener('abort', stop, { once: true })
      await delay(Math.max(0, wait), wake.signal).catch(() => undefined)
      signal.removeEventListener('abort', stop)
      wake = undefined
    }
  }
  void scope.track(loop())
  // stop(): the loop ends with the scope's signal; the listener connection closes with its last watcher.
  scope.onStop(() => void scope.track(unsubscribe()))
  return scope.watcher
}
