/**
 * The env source's watcher: polls the variables (`process.env` or the record given to
 * `envSource`) at `pollInterval`; a removed variable is reported through `onRemove`.
 */
import type { ComponentRequest, ComponentSource } from '../source'
import { pollingWatcher, type SourceWatchOptions, type SourceWatcher } from '../watch'

/** How often the env watcher re-reads when the component sets no `pollInterval`, in ms. */
export const ENV_POLL_INTERVAL_MS = 1_000

/**
 * Watches one variable by re-reading it with the source's `fetch` every `pollInterval` ms
 * (defaults to 1_000). Environment variables change only inside the process, so polling is
 * cheap: a read is a property lookup.
 *
 * @example
 * ```ts
 * import { envSource } from 'tributary'
 * const env = envSource()
 * const watcher = env.watch?.({ className: 'C', property: 'level', key: 'LOG_LEVEL', secret: false }, {
 *   signal, pollInterval: 500, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchEnv(
  source: ComponentSource,
  request: ComponentRequest,
  options: SourceWatchOptions,
): SourceWatcher {
  return pollingWatcher(source, { pollInterval: ENV_POLL_INTERVAL_MS })(request, options)
}
