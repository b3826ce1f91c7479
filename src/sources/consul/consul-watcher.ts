/**
 * The Consul source's watcher: blocking queries (`?index=N&wait=…`) on one KV key, following
 * Consul's documented rules for blocking-query clients.
 */
import { EventEmitter } from 'node:events'
import { delay } from '../../core/abort'
import { SourceError, isSourceNotFoundError, type ComponentRequest } from '../source'
import { backoffDelay, createWatcherScope, type SourceWatchOptions, type SourceWatcher } from '../watch'
import { consulError, consulValue, type ConsulClientLike, type ConsulKvEntry } from './consul-kv'

/** Settings of {@link watchConsul}, taken from the Consul source. */
export interface ConsulWatchSettings {
  /** The source name. */
  readonly name: string
  /** The client (created lazily by the source). */
  client(): ConsulClientLike
  /** An ACL token for every read. Defaults to the client's own. */
  readonly token?: string
  /** Strings that must never appear in an error message (tokens). Defaults to none. */
  readonly secrets?: readonly string[]
}

/** The longest a blocking read is held when the component sets no `pollInterval`, in ms. */
export const CONSUL_WAIT_MS = 60_000
/** The shortest time between two reads of one key (Consul asks clients to rate-limit), in ms. */
export const CONSUL_MIN_INTERVAL_MS = 100

/** `kv.get` as the `consul` 2.x client really accepts it (its types omit index/wait/timeout). */
type BlockingGet = (options: {
  key: string
  token?: string
  index?: string
  wait?: string
  timeout?: number
  ctx: EventEmitter
}) => Promise<[{ headers: Record<string, string | string[] | undefined> }, ConsulKvEntry | undefined]>

/**
 * Watches one key with blocking queries. `pollInterval` is the query's `wait` (defaults to
 * 60_000 ms); each request's timeout is `wait + wait/16` (Consul's jitter) plus a margin, so
 * an idle watcher makes one request per wait period. Rules followed: the first read is not
 * blocking; an index that goes backwards is reset to 0 (a fresh, non-blocking read); an index
 * of 0 or less is taken as 1; reads are at least 100 ms apart; an unchanged index or value is
 * no change; a 404 is a deletion; failures back off exponentially (capped) and a lasting
 * outage is reported once.
 *
 * @example
 * ```ts
 * import { consulSource } from 'tributary'
 * const consul = consulSource({ host: '127.0.0.1', port: 8500 })
 * const watcher = consul.watch?.({ className: 'C', property: 'port', key: 'app/port', secret: false }, {
 *   signal, pollInterval: 30_000, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchConsul(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: ConsulWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const { name } = settings
  const key = (request.key ?? request.property).replace(/^\/+/, '')
  const waitMs = Math.max(1, Math.min(options.pollInterval ?? CONSUL_WAIT_MS, 10 * 60_000))
  const timeout = Math.ceil(waitMs + waitMs / 16) + 5_000
  const ctx = new EventEmitter() as EventEmitter & { includeResponse?: boolean; canceled?: boolean }
  ctx.includeResponse = true
  scope.onStop(() => {
    ctx.canceled = true
    ctx.emit('cancel')
  })

  const loop = async (): Promise<void> => {
    let index = 0
    let failures = 0
    let lastStart = -Infinity
    while (!signal.aborted) {
      const since = Date.now() - lastStart
      if (since < CONSUL_MIN_INTERVAL_MS)
        await delay(CONSUL_MIN_INTERVAL_MS - since, signal).catch(() => undefined)
      if (signal.aborted) return
      lastStart = Date.now()
      try {
        const get = settings.client().kv.get as unknown as BlockingGet
        const [response, entry] = await get.call(settings.client().kv, {
          key,
          ctx,
          timeout,
          ...(settings.token === undefined ? {} : { token: settings.token }),
          ...(index > 0 ? { index: String(index), wait: `${waitMs}ms` } : {}),
        })
        if (signal.aborted) return
        failures = 0
        const header = response.headers['x-consul-index']
        const next = Number(Array.isArray(header) ? header[0] : header)
        if (index > 0 && next === index) {
          reporter.ok()
          continue
        }
        // Backwards (or unreadable): a fresh read next. Otherwise never below 1, so reads block.
        index = !Number.isFinite(next) || next < index ? 0 : Math.max(1, next)
        if (entry === undefined || entry === null) reporter.removed()
        else reporter.value(consulValue(entry, request.field, name, key))
      } catch (error) {
        if (signal.aborted) return
        if (isSourceNotFoundError(error)) {
          reporter.removed()
          continue
        }
        if (error instanceof SourceError) {
          // A value that cannot be read (bad JSON, missing field) is a report, not an outage.
          reporter.error(error)
          reporter.ok()
          continue
        }
        failures += 1
        index = 0
        reporter.error(consulError(error, name, key, settings.secrets ?? [], 'watching'))
        await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
      }
    }
  }
  void scope.track(loop())
  return scope.watcher
}
