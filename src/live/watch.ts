/**
 * `watch(Class, { sources })`: resolve once, then keep the instance current from every source
 * that can watch, with typed updates to iterators, listeners and (optionally) an event bus.
 */
import { inspect, type InspectOptionsStylized } from 'node:util'
import { abortError } from '../core/abort'
import { checkOptions, checks, type OptionCheck, type OptionSpec } from '../core/option-checks'
import { provenanceRecords, type ComponentOrigin } from '../components/explain'
import { planFor } from '../components/plan'
import { resolve, type ComponentClass, type ResolveOptions } from '../components/resolver'
import { ASYNC_DISPOSE } from '../core/dispose'
import type { WatchBackoff } from '../sources/watch'
import { ComponentUpdated, type UpdatePublisher } from './component-updated'
import { LiveComponent, type LiveHost } from './live-component'
import { checkConditions, liveSpecs } from './live-plan'
import { frozenCopy } from './snapshot'
import type { ComponentUpdate } from './update'
import { createUpdateHub, type UpdateListener, type UpdatesOptions } from './update-hub'

/**
 * Options of {@link watch}: those of `resolve` (`sources`, `timeout` and `cache` apply to the
 * first resolve; `signal` cancels it and later stops watching), and a few for watching.
 *
 * @example
 * ```ts
 * import { AsyncEventBus, watch, type WatchOptions } from 'tributary'
 * const options: WatchOptions = { sources, timeout: 10_000, bus: new AsyncEventBus(), backoff: { maxDelay: 5_000 } }
 * const live = await watch(AppConfig, options)
 * ```
 */
export interface WatchOptions extends ResolveOptions {
  /**
   * Also publish every update as a {@link ComponentUpdated} event with `bus.emitAndForget`
   * (an `AsyncEventBus` fits). The bus is yours: `stop()` does not close it. Defaults to none.
   */
  bus?: UpdatePublisher
  /**
   * Waits after failures, for source watchers (a re-fetch after a `dependsOn` or `condition`
   * change uses the component's own `retry` instead).
   * Defaults to `{ initialDelay: 200, maxDelay: 30_000 }`.
   */
  backoff?: WatchBackoff
}

/** What `watch(target, options)` may hold; those of `resolve` are checked by it. */
const WATCH_OPTIONS: OptionSpec & Record<keyof WatchOptions, OptionCheck | true> = {
  sources: true,
  timeout: true,
  signal: true,
  cache: true,
  bus: true,
  backoff: checks.nested({
    initialDelay: checks.duration({ finite: true }),
    maxDelay: checks.duration(),
  }),
}

/**
 * A watched instance: `current` is kept up to date in place; every change is an update on
 * `updates()` and `onUpdate`. `timeout` in the options applies to the first resolve only;
 * aborting `signal` cancels that resolve, and later stops watching as `stop()` does.
 *
 * @example
 * ```ts
 * import { watch } from 'tributary'
 * await using live = await watch(AppConfig, { sources })
 * live.current.port                                   // always the latest value
 * const off = live.onUpdate((u) => console.log(u.kind, u.property))
 * for await (const u of live.updates({ bufferSize: 100 })) {
 *   if (u.kind === 'updated') console.log(u.property, u.oldValue, '→', u.newValue)
 *   if (u.kind === 'error') console.warn(u.error)      // the last good value stays
 * }
 * ```
 */
export interface LiveComponents<T extends object> extends AsyncDisposable {
  /** The instance, updated in place (the same object for the handle's whole life). */
  readonly current: T
  /**
   * A frozen copy of `current` as of the last update (shallow: values are replaced on change,
   * never mutated). The same object is returned until the next change. `explain` works on it.
   */
  snapshot(): Readonly<T>
  /**
   * Every update from now on, until `stop()` (then the iteration ends, after what was
   * buffered). Each call is its own consumer and gets every update. A consumer that falls
   * `bufferSize` updates behind loses the OLDEST ones and then receives one `error` update
   * with an `UpdatesOverflowError` (property `'*'`, the count dropped) before those kept;
   * re-read `current` then. `bufferSize` defaults to 1_000. The FIRST consumer also gets, as
   * its first items, the `error` updates reported while `watch()` started (see {@link watch}).
   */
  updates(options?: UpdatesOptions): AsyncIterableIterator<ComponentUpdate>
  /**
   * Calls `listener` synchronously for every update; returns the unsubscribe function. A throw
   * is ignored. The FIRST listener is also called at once, before `onUpdate` returns, with the
   * `error` updates reported while `watch()` started (see {@link watch}).
   */
  onUpdate(listener: UpdateListener): () => void
  /** The properties whose source watcher is running now (conditions and `watch: false` considered). */
  readonly watching: readonly string[]
  /** True once `stop()` was called. */
  readonly stopped: boolean
  /**
   * Stops every watcher, timer and re-fetch, ends every `updates()` iteration and drops the
   * listeners. Resolves when nothing is in flight any more. Calling it again returns the same promise.
   */
  stop(): Promise<void>
  /** The same as `stop()`, for `await using live = await watch(...)`. */
  [Symbol.asyncDispose](): Promise<void>
}

class LiveHandle<T extends object> implements LiveComponents<T> {
  private readonly hub = createUpdateHub()
  private readonly lifetime = new AbortController()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly components = new Map<string, LiveComponent>()
  private latest: Readonly<T> | undefined
  private stopping: Promise<void> | undefined
  /**
   * The start's errors, kept for the first `onUpdate` listener and the first `updates()`
   * consumer (`undefined` once taken). Collected until the start window closes.
   */
  private readonly replay: {
    listener: ComponentUpdate[] | undefined
    consumer: ComponentUpdate[] | undefined
  } = { listener: [], consumer: [] }
  private startWindow: ReturnType<typeof setImmediate> | undefined
  private collecting = true
  private readonly onAbort = (): void => {
    void this.stop()
  }

  constructor(
    readonly current: T,
    private readonly className: string,
    specs: ReturnType<typeof liveSpecs>,
    private readonly options: WatchOptions,
  ) {
    const instance = current as Record<string, unknown>
    const origins = new Map<string, ComponentOrigin>(
      (provenanceRecords(current) ?? []).map((r) => [r.property, r.origin]),
    )
    const bus = options.bus
    const host: LiveHost = {
      className,
      instance,
      signal: this.lifetime.signal,
      backoff: options.backoff,
      resolved: () => {
        const values: Record<string, unknown> = {}
        for (const property of specs.keys()) values[property] = instance[property]
        return Object.freeze(values)
      },
      publish: (update) => {
        if (this.lifetime.signal.aborted) return
        this.keepForReplay(update)
        this.hub.publish(update)
        if (!bus) return
        try {
          bus.emitAndForget(new ComponentUpdated(className, update))
        } catch {
          // emitAndForget must not throw; a bus that does cannot stop the watcher.
        }
      },
      track: (work) => {
        this.inFlight.add(work)
        void work.then(() => this.inFlight.delete(work))
      },
      changed: (property, valueChanged) => {
        this.latest = undefined
        if (!valueChanged) return
        const spec = specs.get(property)
        if (!spec) return
        for (const name of spec.conditioned) this.components.get(name)?.conditionChanged(instance[property])
        for (const name of spec.dependents) this.components.get(name)?.dependencyChanged()
      },
    }
    for (const [property, spec] of specs) {
      this.components.set(property, new LiveComponent(spec, host, origins.get(property) ?? 'source'))
    }
  }

  /** Starts every watcher; on a failure, stops what started and throws. */
  async start(): Promise<void> {
    const instance = this.current as Record<string, unknown>
    try {
      for (const component of this.components.values()) {
        const on = component.spec.condition?.component
        component.start(on === undefined ? undefined : instance[on])
      }
    } catch (error) {
      await this.stop()
      throw error
    }
    const signal = this.options.signal
    if (signal?.aborted) {
      await this.stop()
      throw abortError(signal, `watch ${this.className}`)
    }
    signal?.addEventListener('abort', this.onAbort, { once: true })
    // Errors a few microtasks into the start (a watcher's first read failing at once) still
    // count as the start's: the window closes on the next turn of the event loop.
    this.startWindow = setImmediate(() => this.closeStartWindow())
  }

  private closeStartWindow(): void {
    if (this.startWindow !== undefined) clearImmediate(this.startWindow)
    this.startWindow = undefined
    this.collecting = false
  }

  /** Keeps a start error for replay; a later non-error update of its property drops it. */
  private keepForReplay(update: ComponentUpdate): void {
    for (const side of ['listener', 'consumer'] as const) {
      const kept = this.replay[side]
      if (!kept) continue
      if (update.kind === 'error') {
        if (this.collecting) kept.push(update)
      } else {
        this.replay[side] = kept.filter((u) => u.property !== update.property)
      }
    }
  }

  snapshot(): Readonly<T> {
    return (this.latest ??= frozenCopy(this.current))
  }

  updates(options?: UpdatesOptions): AsyncIterableIterator<ComponentUpdate> {
    const iterator = this.hub.updates(options)
    const replayed = this.replay.consumer
    this.replay.consumer = undefined
    if (!replayed || replayed.length === 0 || this.hub.closed || options?.signal?.aborted) return iterator
    const queue = [...replayed]
    let ended = false
    const wrapped: AsyncIterableIterator<ComponentUpdate> = {
      next() {
        const update = ended ? undefined : queue.shift()
        return update ? Promise.resolve({ value: update, done: false }) : iterator.next()
      },
      return() {
        ended = true
        queue.length = 0
        return iterator.return ? iterator.return() : Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return wrapped
      },
    }
    return wrapped
  }

  onUpdate(listener: UpdateListener): () => void {
    const off = this.hub.onUpdate(listener)
    const replayed = this.replay.listener
    this.replay.listener = undefined
    if (this.hub.closed) return off
    for (const update of replayed ?? []) {
      try {
        listener(update)
      } catch {
        // As for every update: a listener's failure is ignored.
      }
    }
    return off
  }

  get watching(): readonly string[] {
    return [...this.components.values()].filter((c) => c.watching).map((c) => c.spec.property)
  }

  get stopped(): boolean {
    return this.stopping !== undefined
  }

  /**
   * What `util.inspect` shows: the class, `current` (which masks its secrets itself), what is
   * watched and whether it stopped — never the internals, which hold raw values.
   */
  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    const view = { current: this.current, watching: this.watching, stopped: this.stopped }
    return `LiveComponents<${this.className}> ${show(view, { ...options, depth: options.depth === null ? null : depth })}`
  }

  /** What `JSON.stringify` shows: the same as `util.inspect`, with `current` as its own JSON. */
  toJSON(): { className: string; current: T; watching: readonly string[]; stopped: boolean } {
    return {
      className: this.className,
      current: this.current,
      watching: this.watching,
      stopped: this.stopped,
    }
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown())
  }

  [ASYNC_DISPOSE](): Promise<void> {
    return this.stop()
  }

  private async shutdown(): Promise<void> {
    this.lifetime.abort()
    this.closeStartWindow()
    this.replay.listener = this.replay.consumer = undefined
    this.options.signal?.removeEventListener('abort', this.onAbort)
    for (const component of this.components.values()) component.stop()
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
    this.hub.close()
  }
}

/**
 * Resolves `target` as `resolve` does (same options, same errors), then watches every
 * component whose source can watch and keeps the instance current. A change is applied only
 * when the coerced value really differs (deep equality); a value that fails coercion or
 * `validate` is an `error` update and is not applied; a deleted key falls back (or becomes
 * undefined when `required: false`); a source outage is one `error` update, and the last good
 * value stays. Secret values are `'***'` in updates.
 *
 * Per component: `watch: false`, `debounce`, `throttle` + `burst`, `pollInterval`,
 * `condition`; a component that `dependsOn` another is re-fetched when that one changes. A
 * report that changes nothing (such as each watcher's own first read, which finds the value
 * just resolved) takes no `throttle` token and restarts no `debounce`.
 *
 * Errors while starting: a source whose `watch` throws makes `watch()` reject (a
 * `ComponentError`, the other watchers stopped). A watcher that starts but reports an error at
 * once (a directory that does not exist yet, a server that is down) does not: the instance
 * resolved, and the watcher retries with backoff. Such errors, reported before `watch()`'s
 * promise settles or in the same turn of the event loop, are kept and replayed: the first
 * `onUpdate` listener is called with them as it is added, and the first `updates()` consumer
 * gets them as its first items (a property's error is dropped from the replay once it has a
 * later update). Later listeners and consumers get only what comes after they attach; `bus`
 * gets every update as it happens.
 *
 * @example
 * ```ts
 * import { Component, consulSource, envSource, watch } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'LOG_LEVEL', fallback: 'info', pollInterval: 1_000 }) logLevel!: string
 *   @Component({ fetchFrom: 'consul', key: 'app/port', debounce: 100 }) port!: number
 * }
 * const live = await watch(AppConfig, { sources: [envSource(), consulSource({ host: '127.0.0.1' })] })
 * live.onUpdate((u) => console.log(u))
 * await live.stop()
 * ```
 */
export async function watch<T extends object>(
  target: ComponentClass<T>,
  options: WatchOptions,
): Promise<LiveComponents<T>> {
  if (typeof target !== 'function') {
    throw new TypeError(
      `watch(target, options): target must be a class with @Component properties, got ${target === null ? 'null' : typeof target}`,
    )
  }
  const where = `watch(${target.name || 'anonymous class'}, options)`
  if (options === undefined) throw new TypeError(`${where}: options must be an object, got undefined`)
  checkOptions(where, options, WATCH_OPTIONS)
  const plan = planFor(target)
  checkConditions(plan)
  if (options.bus !== undefined && typeof options.bus?.emitAndForget !== 'function') {
    throw new TypeError('watch: `bus` must have an emitAndForget(event) method, such as an AsyncEventBus')
  }
  const { sources, timeout, signal, cache } = options
  const instance = await resolve(target, { sources, timeout, signal, cache })
  const handle = new LiveHandle(instance, plan.className, liveSpecs(plan, options.sources), options)
  await handle.start()
  return handle
}
