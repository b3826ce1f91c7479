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
  /**
   * Under churn, the pace reads slow down to once per this many ms, after a burst of
   * {@link CONSUL_READ_BURST}. Defaults to {@link CONSUL_CHURN_INTERVAL_MS}.
   */
  readonly churnInterval?: number
}

/** The longest a blocking read is held when the component sets no `pollInterval`, in ms. */
export const CONSUL_WAIT_MS = 60_000
/**
 * Reads of one key that may follow each other at once (the token bucket's size): Consul's
 * blocking-query guidance asks for "a couple of quick successive deliveries before it starts to
 * limit rate — a token bucket with burst of 2".
 */
export const CONSUL_READ_BURST = 2
/**
 * Under sustained churn, one read of a key per this many ms once the burst is spent (the bucket
 * gains one token per interval), in ms. Consul's guidance suggests polling "at a reasonable rate
 * (say every 15 seconds)"; a second keeps configuration changes prompt. Set `churnInterval` on the
 * source for Consul's 15_000.
 */
export const CONSUL_CHURN_INTERVAL_MS = 1_000

/**
 * A token bucket of `burst` tokens gaining one per `interval` ms: `take` waits until a token is
 * there and spends it. With tokens left (the happy case, changes rarer than `interval`) it does
 * not wait at all.
 *
 * @example
 * ```ts
 * import { createReadPacer } from 'tributary'
 * const pacer = createReadPacer(2, 1_000)
 * await pacer.take(signal) // at once; so is the second; the third waits about a second
 * ```
 */
export function createReadPacer(
  burst: number,
  interval: number,
): { take(signal: AbortSignal): Promise<void>; readonly tokens: number } {
  let tokens = burst
  let refilledAt = Date.now()
  const refill = (): void => {
    const now = Date.now()
    tokens = Math.min(burst, tokens + (now - refilledAt) / Math.max(1, interval))
    refilledAt = now
  }
  return {
    async take(signal) {
      refill()
      if (tokens < 1) {
        await delay(Math.ceil((1 - tokens) * Math.max(1, interval)), signal).catch(() => undefined)
        refill()
      }
      tokens = Math.max(0, tokens - 1)
    },
    get tokens() {
      return tokens
    },
  }
}

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
 * of 0 or less is taken as 1; reads are paced by a token bucket (a burst of
 * {@link CONSUL_READ_BURST} reads at once, then one per `churnInterval`, 1_000 ms by default, while
 * the key keeps changing; no wait at all when changes are rarer); an unchanged index or value is
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
    const pacer = createReadPacer(CONSUL_READ_BURST, settings.churnInterval ?? CONSUL_CHURN_INTERVAL_MS)
    while (!signal.aborted) {
      await pacer.take(signal)
      if (signal.aborted) return
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
