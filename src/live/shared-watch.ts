/**
 * One upstream watch per (source, request identity): live components that watch the same key
 * of the same source — in one class or in many, in one `watch()` or in several — share one
 * source watcher (one Consul blocking stream, one HTTP or Vault poller, one Redis subscriber),
 * reference-counted: the first subscriber starts it, the last `stop()` stops it.
 */
import { performance } from 'node:perf_hooks'
import { isDeepStrictEqual } from 'node:util'
import type { ComponentRequest } from '../sources/source'
import type { SourceWatchOptions, SourceWatcher, WatchableSource } from '../sources/watch'

/**
 * Options of {@link watchShared}: those of a source watcher, plus what a subscriber adds to
 * the identity of the watch and to the replay of the upstream's state.
 */
export interface SharedWatchOptions extends SourceWatchOptions {
  /**
   * The values of the components this one `dependsOn`: part of the watch's identity (two
   * subscribers share only when these are deeply equal). Defaults to `{}`.
   */
  readonly dependencies?: Readonly<Record<string, unknown>>
  /**
   * When the subscriber's current value was read from the source (`performance.now()`): a
   * subscriber that joins a running watch is replayed the watch's latest value, removal or
   * error only when it was observed after this moment (an older one would take a fresh value
   * back). Defaults to `-Infinity`: always replay.
   */
  readonly since?: number
}

/** What the upstream last reported, with when (`performance.now()`). */
type Observed =
  | { readonly kind: 'value'; readonly value: unknown; readonly at: number }
  | { readonly kind: 'removed'; readonly at: number }

interface Subscriber {
  readonly options: SharedWatchOptions
  active: boolean
}

interface Upstream {
  readonly identity: string
  readonly dependencies: Readonly<Record<string, unknown>>
  readonly controller: AbortController
  readonly subscribers: Set<Subscriber>
  watcher: SourceWatcher | undefined
  observed: Observed | undefined
  /** The last error, while no value or removal came after it. */
  failure: { readonly error: unknown; readonly at: number } | undefined
}

const registry = new WeakMap<WatchableSource, Map<string, Upstream[]>>()

/**
 * What makes two watches "the same": the key the source reads (`key`, else the property name
 * when there is no `query` either, as sources read by property name then), `query`, `field`,
 * `secret`, and the watch options that change how it is read — `pollInterval`, `debounce` and
 * `backoff`. The class and property names are not part of it (sources use them only in
 * messages, which the live component rewraps under its own name). `dependencies` are compared
 * separately, by deep equality.
 */
function identityOf(request: ComponentRequest, options: SourceWatchOptions): string {
  const byProperty = request.key === undefined && request.query === undefined ? request.property : null
  return JSON.stringify([
    request.key ?? byProperty,
    request.query ?? null,
    request.field ?? null,
    request.secret,
    options.pollInterval ?? null,
    options.debounce ?? null,
    options.backoff?.initialDelay ?? null,
    options.backoff?.maxDelay ?? null,
  ])
}

/**
 * Watches `request` on `source` through the one shared upstream watcher for its identity (see
 * below), starting it if none runs. The returned watcher's `stop()` (or aborting
 * `options.signal`) detaches this subscriber; the last one to leave stops the upstream watcher,
 * and its `stop()` resolves once the upstream's has. Each subscriber gets every report of the
 * upstream (so an outage is one error per subscriber, as the watchers' reporters send one); a
 * subscriber that joins a running watch is replayed, a microtask later, the latest value or
 * removal and a standing error (see {@link SharedWatchOptions.since}), so it does not wait for
 * the next change. A throwing callback does not stop the others from being called.
 *
 * Two watches are the same when the source instance is the same object, and the key read
 * (`key`, else the property name when there is no `query`), `query`, `field`, `secret`,
 * `pollInterval`, `debounce`, `backoff` and the `dependencies` values are equal. The upstream
 * is started with the first subscriber's request and `resolved` values. `watch()` uses this for
 * every watched component; a source's own `watch` does not share.
 *
 * @example
 * ```ts
 * import { consulSource, watchShared } from 'tributary'
 * const consul = consulSource({ host: '127.0.0.1' })
 * const request = { className: 'A', property: 'port', key: 'app/port', secret: false }
 * const a = watchShared(consul, request, { signal, onChange: console.log, onRemove() {}, onError: console.error })
 * const b = watchShared(consul, { ...request, className: 'B' }, { signal, onChange: console.log, onRemove() {}, onError: console.error })
 * await a.stop() // b keeps receiving: one blocking stream is still open
 * await b.stop() // the stream is closed
 * ```
 */
export function watchShared(
  source: WatchableSource,
  request: ComponentRequest,
  options: SharedWatchOptions,
): SourceWatcher {
  const subscriber: Subscriber = { options, active: true }
  if (options.signal.aborted) return { stop: () => Promise.resolve() }
  const dependencies = options.dependencies ?? {}
  const identity = identityOf(request, options)
  let byIdentity = registry.get(source)
  if (!byIdentity) {
    byIdentity = new Map()
    registry.set(source, byIdentity)
  }
  const candidates = byIdentity.get(identity) ?? []
  let upstream = candidates.find((u) => isDeepStrictEqual(u.dependencies, dependencies))
  if (upstream) {
    upstream.subscribers.add(subscriber)
    replay(upstream, subscriber)
  } else {
    upstream = start(source, request, options, identity, dependencies, subscriber)
    byIdentity.set(identity, [...candidates, upstream])
  }
  const joined = upstream
  let stopping: Promise<void> | undefined
  const leave = (): Promise<void> => (stopping ??= release(source, joined, subscriber))
  const onAbort = (): void => void leave().catch(() => undefined)
  options.signal.addEventListener('abort', onAbort, { once: true })
  return {
    stop() {
      options.signal.removeEventListener('abort', onAbort)
      return leave()
    },
  }
}

/** Starts the upstream watcher for a first subscriber; a throw of `source.watch` propagates. */
function start(
  source: WatchableSource,
  request: ComponentRequest,
  options: SharedWatchOptions,
  identity: string,
  dependencies: Readonly<Record<string, unknown>>,
  first: Subscriber,
): Upstream {
  const upstream: Upstream = {
    identity,
    dependencies,
    controller: new AbortController(),
    subscribers: new Set([first]),
    watcher: undefined,
    observed: undefined,
    failure: undefined,
  }
  const each = (deliver: (options: SharedWatchOptions) => void): void => {
    for (const subscriber of [...upstream.subscribers]) {
      if (!subscriber.active || subscriber.options.signal.aborted) continue
      try {
        deliver(subscriber.options)
      } catch {
        // One subscriber's failing callback must not keep the report from the others.
      }
    }
  }
  upstream.watcher = source.watch(request, {
    signal: upstream.controller.signal,
    ...(options.pollInterval === undefined ? {} : { pollInterval: options.pollInterval }),
    ...(options.debounce === undefined ? {} : { debounce: options.debounce }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.resolved === undefined ? {} : { resolved: options.resolved }),
    onChange(value) {
      upstream.observed = { kind: 'value', value, at: performance.now() }
      upstream.failure = undefined
      each((o) => o.onChange(value))
    },
    onRemove() {
      upstream.observed = { kind: 'removed', at: performance.now() }
      upstream.failure = undefined
      each((o) => o.onRemove())
    },
    onError(error) {
      upstream.failure = { error, at: performance.now() }
      each((o) => o.onError(error))
    },
  })
  return upstream
}

/** Gives a joining subscriber the upstream's latest state, when it is newer than its own. */
function replay(upstream: Upstream, subscriber: Subscriber): void {
  const since = subscriber.options.since ?? -Infinity
  const observed = upstream.observed
  const failure = upstream.failure
  if ((!observed || observed.at <= since) && (!failure || failure.at <= since)) return
  queueMicrotask(() => {
    const live = (): boolean => subscriber.active && !subscriber.options.signal.aborted
    try {
      // Only if nothing newer reached the subscriber meanwhile (it would have been delivered).
      if (observed && observed.at > since && upstream.observed === observed && live()) {
        if (observed.kind === 'value') subscriber.options.onChange(observed.value)
        else subscriber.options.onRemove()
      }
      if (failure && failure.at > since && upstream.failure === failure && live()) {
        subscriber.options.onError(failure.error)
      }
    } catch {
      // As for every report: a subscriber's failing callback is its own.
    }
  })
}

/** Detaches `subscriber`; the last one out stops the upstream watcher and waits for it. */
async function release(source: WatchableSource, upstream: Upstream, subscriber: Subscriber): Promise<void> {
  subscriber.active = false
  upstream.subscribers.delete(subscriber)
  if (upstream.subscribers.size > 0) return
  const byIdentity = registry.get(source)
  const remaining = (byIdentity?.get(upstream.identity) ?? []).filter((u) => u !== upstream)
  if (remaining.length > 0) byIdentity?.set(upstream.identity, remaining)
  else byIdentity?.delete(upstream.identity)
  upstream.controller.abort()
  await upstream.watcher?.stop()
}

/**
 * How many shared upstream watchers run on `source` now, and how many subscribers they have
 * in all: what {@link watchShared} saves is `subscribers - upstreams` source watchers.
 *
 * @example
 * ```ts
 * import { sharedWatchStats } from 'tributary'
 * sharedWatchStats(consul) // { upstreams: 1, subscribers: 2 }
 * ```
 */
export function sharedWatchStats(source: WatchableSource): { upstreams: number; subscribers: number } {
  let upstreams = 0
  let subscribers = 0
  for (const list of registry.get(source)?.values() ?? []) {
    for (const upstream of list) {
      upstreams += 1
      subscribers += upstream.subscribers.size
    }
  }
  return { upstreams, subscribers }
}
