/**
 * The watch contract of sources, and the helpers the built-in watchers share: a reporter that
 * turns an outage into one error, a poll loop with capped backoff, and a generic polling watcher.
 */
import { exponentialDelay } from '../resilience/backoff'
import { isDeepStrictEqual } from 'node:util'
import { delay } from '../core/abort'
import { isSourceNotFoundError, type ComponentRequest, type ComponentSource } from './source'

/** Capped exponential backoff after failures. */
export interface WatchBackoff {
  /** The first wait after a failure, in ms. Defaults to 200. */
  readonly initialDelay?: number
  /** The longest wait, in ms. Defaults to 30_000. */
  readonly maxDelay?: number
}

/** What a watcher is given: where to report, how often to poll, and the signal that stops it. */
export interface SourceWatchOptions {
  /** Aborting it stops the watcher (its `stop()` then resolves once nothing is in flight). */
  readonly signal: AbortSignal
  /** For sources that poll: ms between reads. Defaults to the source's own (see each watcher). */
  readonly pollInterval?: number
  /** For event-driven watchers (file): ms of quiet before re-reading. Defaults to the watcher's own. */
  readonly debounce?: number
  /** Waits after failures. Defaults to `{ initialDelay: 200, maxDelay: 30_000 }`. */
  readonly backoff?: WatchBackoff
  /** Values this component depends on, passed on to `fetch` as `context.resolved`. Defaults to `{}`. */
  readonly resolved?: Readonly<Record<string, unknown>>
  /** A new raw value (what `fetch` would return, field applied). May repeat an earlier value. */
  onChange(value: unknown): void
  /** The key was deleted (what `fetch` would report as `SourceNotFoundError`). */
  onRemove(): void
  /** Reading failed; a watcher reports a lasting outage once, then again only after a success. */
  onError(error: unknown): void
}

/** A running source watcher. */
export interface SourceWatcher {
  /** Stops watching; resolves when no timer, handle or request of the watcher is left. */
  stop(): Promise<void>
}

/**
 * A source that can watch a component: `watch` keeps reporting the component's value until
 * its `signal` aborts or `stop()` is called.
 *
 * @example
 * ```ts
 * import { canWatch } from 'tributary'
 * if (canWatch(source)) {
 *   const watcher = source.watch(request, { signal, onChange: console.log, onRemove() {}, onError: console.error })
 *   await watcher.stop()
 * }
 * ```
 */
export interface WatchableSource extends ComponentSource {
  watch(request: ComponentRequest, options: SourceWatchOptions): SourceWatcher
}

/** True when `source` has a `watch` method. */
export function canWatch(source: ComponentSource): source is WatchableSource {
  return typeof (source as { watch?: unknown }).watch === 'function'
}

/** Reports to a {@link SourceWatchOptions} without repeats: same value twice, or an outage's second error. */
export interface WatchReporter {
  value(value: unknown): void
  removed(): void
  /** Forwards the error only when the last read succeeded. */
  error(error: unknown): void
  /** A read succeeded without a (new) value, e.g. a 304 or an unchanged Consul index. */
  ok(): void
  /** True after an error and before the next success. */
  readonly failing: boolean
}

/** Creates a {@link WatchReporter}; nothing is reported after `options.signal` aborts. */
export function createWatchReporter(options: SourceWatchOptions): WatchReporter {
  let last: { readonly removed: boolean; readonly value?: unknown } | undefined
  let failing = false
  const live = (): boolean => !options.signal.aborted
  return {
    value(value) {
      failing = false
      if (!live() || (last && !last.removed && isDeepStrictEqual(last.value, value))) return
      last = { removed: false, value }
      options.onChange(value)
    },
    removed() {
      failing = false
      if (!live() || last?.removed) return
      last = { removed: true }
      options.onRemove()
    },
    error(error) {
      if (!live() || failing) return
      failing = true
      options.onError(error)
    },
    ok() {
      failing = false
    },
    get failing() {
      return failing
    },
  }
}

/** How a stream watcher (Redis Stream, NATS subject, WebSocket) reports its messages. */
export interface StreamMessageReporter<D> {
  /**
   * One message: a change — even one equal to the last, since each message of a stream is an
   * event — or a removal when reading it is a `SourceNotFoundError` (a missing field), or, for
   * any other reading error, an error report that starts no outage. Nothing after `signal` aborts.
   */
  message(data: D): void
  /** The stream is gone: a removal, reported once until the next message. */
  removed(): void
}

/** Creates a {@link StreamMessageReporter} reading each message's value with `read`. */
export function createStreamMessageReporter<D>(
  read: (data: D) => unknown,
  options: SourceWatchOptions,
  reporter: WatchReporter,
  signal: AbortSignal,
): StreamMessageReporter<D> {
  let removed = false
  const remove = (): void => {
    if (removed || signal.aborted) return
    removed = true
    options.onRemove()
  }
  return {
    message(data) {
      if (signal.aborted) return
      let value: unknown
      try {
        value = read(data)
      } catch (error) {
        if (isSourceNotFoundError(error)) return remove()
        reporter.error(error)
        reporter.ok()
        return
      }
      removed = false
      reporter.ok()
      options.onChange(value)
    },
    removed: remove,
  }
}

/** The wait after `failures` consecutive failures (1 for the first). */
export function backoffDelay(failures: number, backoff: WatchBackoff = {}): number {
  const initial = backoff.initialDelay ?? 200
  const max = backoff.maxDelay ?? 30_000
  return exponentialDelay(failures - 1, initial, max)
}

/** Options of {@link pollLoop}. */
export interface PollLoopOptions {
  readonly signal: AbortSignal
  /** The wait after a successful round, in ms (asked again after each round). */
  interval(): number
  /** Waits after failures. */
  readonly backoff?: WatchBackoff
  /** One round; a throw is reported through `onError` and followed by a backoff wait. */
  run(signal: AbortSignal): Promise<void>
  onError(error: unknown): void
}

/**
 * Runs `run` until the signal aborts: `interval()` ms after a success, capped exponential
 * backoff after failures, never two rounds at once. Resolves when stopped (never rejects).
 */
export async function pollLoop(options: PollLoopOptions): Promise<void> {
  const { signal } = options
  let failures = 0
  while (!signal.aborted) {
    try {
      await options.run(signal)
      failures = 0
    } catch (error) {
      if (signal.aborted) break
      failures += 1
      options.onError(error)
    }
    if (signal.aborted) break
    const wait = failures === 0 ? options.interval() : backoffDelay(failures, options.backoff)
    try {
      await delay(Math.max(0, wait), signal)
    } catch {
      break
    }
  }
}

/**
 * Reads the component once with `source.fetch` and reports it: a value, a removal (for a
 * `SourceNotFoundError`), or rethrows any other failure.
 */
export async function readAndReport(
  source: ComponentSource,
  request: ComponentRequest,
  options: SourceWatchOptions,
  reporter: WatchReporter,
  signal: AbortSignal = options.signal,
): Promise<void> {
  let value: unknown
  try {
    value = await source.fetch(request, { signal, attempt: 0, resolved: options.resolved ?? {} })
  } catch (error) {
    if (!signal.aborted && isSourceNotFoundError(error)) {
      reporter.removed()
      return
    }
    throw error
  }
  reporter.value(value)
}

/**
 * The bookkeeping every watcher needs: an internal signal (aborted by `stop()` or by the
 * caller's signal), a reporter bound to it, cleanups run once on stop, and in-flight work that
 * `stop()` waits for.
 */
export interface WatcherScope {
  readonly signal: AbortSignal
  readonly reporter: WatchReporter
  /** Runs `cleanup` once when the watcher stops (at once if it already has). */
  onStop(cleanup: () => void): void
  /** Keeps `work` in flight until it settles; `stop()` waits for it. Never rejects. */
  track(work: Promise<unknown>): Promise<void>
  /**
   * Runs {@link pollLoop} until the watcher stops: `interval()` ms after a successful `run`, the
   * options' `backoff` after a failure, every failure given to the reporter (so an outage is
   * reported once). Tracked: `stop()` waits for it. Never rejects.
   */
  poll(interval: () => number, run: (signal: AbortSignal) => Promise<void>): Promise<void>
  /**
   * A trigger for `work`: it runs at once, or, while a run is in flight, once more after it
   * (however many triggers came meanwhile), so runs never overlap and no change is missed.
   * Nothing starts after the watcher stops; runs are tracked. A rejection of `work` is ignored.
   */
  coalesce(work: () => Promise<void>): () => void
  /** The {@link SourceWatcher} to hand back. */
  readonly watcher: SourceWatcher
}

/** Creates a {@link WatcherScope} for one `watch(request, options)` call. */
export function createWatcherScope(options: SourceWatchOptions): WatcherScope {
  const controller = new AbortController()
  const { signal } = controller
  const cleanups: Array<() => void> = []
  const inFlight = new Set<Promise<void>>()
  const onAbort = (): void => controller.abort(options.signal.reason)
  if (options.signal.aborted) controller.abort(options.signal.reason)
  else options.signal.addEventListener('abort', onAbort, { once: true })
  signal.addEventListener(
    'abort',
    () => {
      options.signal.removeEventListener('abort', onAbort)
      for (const cleanup of cleanups.splice(0)) {
        try {
          cleanup()
        } catch {
          // Closing a handle that is already closed is not a failure of stop().
        }
      }
    },
    { once: true },
  )
  const reporter = createWatchReporter({ ...options, signal })
  const track = (work: Promise<unknown>): Promise<void> => {
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    inFlight.add(settled)
    void settled.then(() => inFlight.delete(settled))
    return settled
  }
  return {
    signal,
    reporter,
    onStop(cleanup) {
      if (signal.aborted) cleanup()
      else cleanups.push(cleanup)
    },
    track,
    poll: (interval, run) =>
      track(
        pollLoop({
          signal,
          interval,
          backoff: options.backoff,
          run,
          onError: (error) => reporter.error(error),
        }),
      ),
    coalesce(work) {
      let running = false
      let again = false
      const trigger = (): void => {
        if (signal.aborted) return
        if (running) {
          again = true
          return
        }
        running = true
        again = false
        void track(
          work().finally(() => {
            running = false
            if (again) trigger()
          }),
        )
      }
      return trigger
    },
    watcher: {
      async stop() {
        controller.abort()
        while (inFlight.size > 0) await Promise.all([...inFlight])
      },
    },
  }
}

/**
 * A watcher that re-reads with `source.fetch` every `pollInterval` ms (capped backoff while
 * the source fails). The env and database watchers are this; any custom source can use it.
 *
 * @example
 * ```ts
 * import { pollingWatcher, type ComponentSource } from 'tributary'
 * const memory: ComponentSource = { name: 'memory', fetch: async (r) => values[r.key!] }
 * const watchable = { ...memory, watch: pollingWatcher(memory, { pollInterval: 1_000 }) }
 * ```
 */
export function pollingWatcher(
  source: ComponentSource,
  defaults: { readonly pollInterval?: number } = {},
): (request: ComponentRequest, options: SourceWatchOptions) => SourceWatcher {
  return (request, options) => {
    const scope = createWatcherScope(options)
    const interval = options.pollInterval ?? defaults.pollInterval ?? 5_000
    void scope.poll(
      () => interval,
      (signal) => readAndReport(source, request, options, scope.reporter, signal),
    )
    return scope.watcher
  }
}
