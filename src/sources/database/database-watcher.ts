/**
 * The database source's watcher: re-runs the component's query (or key lookup) at
 * `pollInterval`; no row any more is reported through `onRemove`.
 */
import type { ComponentRequest, ComponentSource } from '../source'
import { pollingWatcher, type SourceWatchOptions, type SourceWatcher } from '../watch'

/** How often the database watcher re-runs the query when the component sets no `pollInterval`, in ms. */
export const DATABASE_POLL_INTERVAL_MS = 5_000

/**
 * Watches one component by re-running its query with the source's `fetch` every
 * `pollInterval` ms (defaults to 5_000). A database that goes down is reported once; the
 * watcher retries with capped backoff and reports the current value when it is back.
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
): SourceWatcher {
  return pollingWatcher(source, { pollInterval: DATABASE_POLL_INTERVAL_MS })(request, options)
}
