/**
 * `resolve(Class, { sources })`: creates an instance and fetches every component at once
 * (dependencies first), with per-component resilience, caching and fallbacks, collecting every
 * failure into one `ComponentResolutionError`.
 */
import { performance } from 'node:perf_hooks'
import { abortError, linkSignals, raceAbort, type LinkedSignal, neverAborted } from '../core/abort'
import { AsyncTimeoutError, TributaryError, describeCause } from '../core/errors'
import { activeTracer, traced } from '../core/telemetry'
import { describeValue, durationProblem, optionsProblem } from '../core/option-checks'
import { setLongTimeout, type LongTimer } from '../core/timers'
import type { ComponentSource, SourceContext } from '../sources/source'
import { burstNow } from './burst-clock'
import { ProvenanceColumns } from './provenance-columns'
import { defaultComponentCache, type CachedComponentValue, type ComponentValueCache } from './cache'
import { ComponentError, ComponentResolutionError, isComponentError } from './errors'
import {
  provenanceRecords,
  recordProvenanceLazily,
  type ComponentOrigin,
  type ProvenanceRecord,
} from './explain'
import { finishValue, isThenable, pickField } from './finish'
import { planFor, type Plan, type PlannedComponent } from './plan'
import { componentPolicy, timedOut } from './policies'
import { sourcesFor, type ComponentSources } from './source-registry'

export type { ComponentSources }

/** Options for {@link resolve}. */
export interface ResolveOptions {
  /** The sources `fetchFrom` names refer to. */
  sources: ComponentSources
  /** A limit in ms on the whole resolution (any length; `Infinity` for none); what still runs then is cancelled. Defaults to none. */
  timeout?: number
  /** Cancels the resolution; `resolve` then rejects with the signal's reason. Defaults to none. */
  signal?: AbortSignal
  /**
   * Where components with a `ttl` (or `fallbackTo: 'cache'`) keep their values, or `false` for
   * none. Defaults to {@link defaultComponentCache}, shared by the whole process.
   */
  cache?: ComponentValueCache | false
}

/** A class `resolve` can create: a constructor without arguments. */
export type ComponentClass<T extends object> = new () => T

/**
 * What a fetch through the cache or a policy produced. A fetch that is one plain call answers
 * with the source's own answer instead, read by {@link Resolution.finishAnswer}.
 */
class Outcome {
  constructor(
    readonly value: unknown,
    /** Calls made to the source: 0 when the cache answered without calling it. */
    readonly attempts: number,
    readonly origin: 'source' | 'cache',
  ) {}
}

/** Why a fetch failed, with the calls made. A plain call fails with its own error (one call). */
class FetchFailure {
  constructor(
    readonly cause: unknown,
    readonly attempts: number,
  ) {}
}

/** A source returned `undefined` or `null`. */
class NoValueError extends TributaryError {
  static override readonly kind: string = 'NoValueError'

  constructor() {
    super('the source returned no value')
  }
}

/** A component's dependency failed, so it was not fetched. */
class DependencyError extends TributaryError {
  static override readonly kind: string = 'DependencyError'

  constructor(names: string) {
    super(`not fetched: it depends on ${names}, which failed`)
  }
}

/** The value in a source's answer: `field` picked, unless the source picks it. Throws {@link NoValueError} when there is none. */
function valueIn(answer: unknown, component: PlannedComponent, source: ComponentSource): unknown {
  const value = source.appliesField === true ? answer : pickField(answer, component.definition.options.field)
  if (value === undefined || value === null) throw new NoValueError()
  return value
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts (free when it cannot). */
function raced<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return signal === neverAborted ? promise : raceAbort(promise, signal)
}

const sourceIds = new WeakMap<ComponentSource, number>()
let nextSourceId = 1

/** Where a component's value is kept in the cache: its source object, then its fetch key. */
function cacheKey(component: PlannedComponent, source: ComponentSource): string {
  let id = sourceIds.get(source)
  if (id === undefined) {
    id = nextSourceId++
    sourceIds.set(source, id)
  }
  return `${id}\u0000${component.fetchKey}`
}

/**
 * One resolution in progress. Every component goes the same way: {@link Resolution.fetch}
 * (the fetch an identical component made, else the cache, else the source, under a policy if
 * it has one), then {@link Resolution.finish} (coerce, validate, assign) or, on failure,
 * {@link Resolution.fail} (a cached value, the fallback, `missing`, or an error).
 *
 * The in-memory benchmark (50 components within 1.5× a hand-written `Promise.all`) feels every
 * `then` and allocation per component: a plain call costs one `then`, settling is counted
 * rather than `Promise.all`ed, and provenance is kept in columns ({@link ProvenanceColumns}).
 */
class Resolution {
  /** How each component resolved (or stayed missing), by declaration index. */
  private readonly provenanceColumns: ProvenanceColumns
  /** Failures by declaration index: an error per component that failed. */
  private readonly errors: ComponentError[] = []
  /** Values resolved so far, given to sources; filled only when some component `dependsOn` another. */
  private readonly resolved: Record<string, unknown> = {}
  /** Fetches by plan index, so that components making the same one share it (`sharesFetchWith`). */
  private readonly fetches: Array<Promise<unknown>>
  /** Each component's settling, by plan index: what its dependents wait for. */
  private readonly settled: Array<Promise<boolean>>
  /** The context of every plain call on the resolve's own signal (one object for them all). */
  private readonly context: SourceContext
  /** When independent components started (all at once); dependents take their own time. */
  private readonly startedAt = performance.now()
  /** Components not settled yet, and what to call when none is left. */
  private remaining: number
  private allSettled?: () => void

  constructor(
    private readonly plan: Plan,
    private readonly instance: Record<string, unknown>,
    /** Each component's source, by plan index. */
    private readonly sources: readonly ComponentSource[],
    private readonly cache: ComponentValueCache | undefined,
    private readonly signal: AbortSignal,
  ) {
    this.context = { signal, attempt: 0, resolved: this.resolved }
    this.remaining = plan.components.length
    this.provenanceColumns = new ProvenanceColumns(this.remaining)
    // Sized once: growing them component by component shows in the benchmark's allocations.
    this.fetches = new Array<Promise<unknown>>(this.remaining)
    this.settled = new Array<Promise<boolean>>(this.remaining)
  }

  /** The records of the components that resolved (or stayed missing), in declaration order. */
  provenance(): ProvenanceRecord[] {
    return this.provenanceColumns.records(this.plan.components)
  }

  /** The errors of the components that failed, in declaration order. */
  failures(): ComponentError[] {
    return this.errors.filter((error) => error !== undefined)
  }

  /**
   * Starts every component, each once its dependencies have settled; resolves when all have
   * settled. Never rejects for a component's failure: see {@link Resolution.failures}.
   */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.allSettled = resolve
      if (this.remaining === 0) resolve()
      for (const component of this.plan.components) {
        this.settled[component.index] =
          component.dependsOn.length === 0
            ? this.settle(component, this.startedAt)
            : this.settleAfterDependencies(component)
      }
    })
  }

  /** Counts a component as settled once `result` is known; passes it on. */
  private counted(result: boolean | Promise<boolean>): boolean | Promise<boolean> {
    if (typeof result !== 'boolean') return result.then((ok) => this.counted(ok))
    if (--this.remaining === 0) this.allSettled?.()
    return result
  }

  /** Settles `component` once its dependencies have; it is not fetched if one of them failed. */
  private settleAfterDependencies(component: PlannedComponent): Promise<boolean> {
    const dependencies = component.dependsOn.map((i) => this.settled[i] as Promise<boolean>)
    return Promise.all(dependencies).then((oks) => {
      const started = performance.now()
      const failed = component.dependsOn.filter((_, i) => !oks[i])
      if (failed.length === 0) return this.settle(component, started)
      const names = failed.map((i) => this.plan.components[i]?.definition.property).join(', ')
      return this.counted(this.fail(component, started, new FetchFailure(new DependencyError(names), 0)))
    })
  }

  /** Fetches `component` and assigns its value (or a fallback); resolves to whether it has one. */
  private settle(component: PlannedComponent, started: number): Promise<boolean> {
    return this.fetch(component).then(
      (answer) => this.counted(this.finishAnswer(component, started, answer)),
      (failure: unknown) => this.counted(this.fail(component, started, failure)),
    )
  }

  /**
   * The one way a component's value is fetched: the fetch an identical component already
   * started, else through the cache when the component has a `ttl` or `fallbackTo: 'cache'`,
   * else from its source. Answers an {@link Outcome}, or a plain call's answer.
   */
  private fetch(component: PlannedComponent): Promise<unknown> {
    const at = component.sharesFetchWith >= 0 ? component.sharesFetchWith : component.index
    let fetch = this.fetches[at]
    if (fetch !== undefined) return fetch
    const source = this.sources[component.index] as ComponentSource
    try {
      fetch =
        component.cached && this.cache
          ? this.fetchThroughCache(component, source, this.cache)
          : this.fetchFromSource(component, source, this.signal)
    } catch (error) {
      fetch = Promise.reject(error)
    }
    this.fetches[at] = fetch
    return fetch
  }

  private fetchThroughCache(
    component: PlannedComponent,
    source: ComponentSource,
    cache: ComponentValueCache,
  ): Promise<Outcome> {
    // `attempts` stays -1 when the cache answered without calling the source: a fresh stored
    // value, or the same fetch another resolve had in flight.
    let attempts = -1
    const load = (signal: AbortSignal): Promise<unknown> =>
      this.fetchFromSource(component, source, signal)
        .then((answer) => {
          attempts = answer instanceof Outcome ? answer.attempts : 1
          return answer instanceof Outcome ? answer.value : valueIn(answer, component, source)
        })
        .catch((error: unknown) => {
          throw error instanceof FetchFailure ? error : new FetchFailure(error, 1)
        })
    const options = {
      ttl: component.definition.options.ttl ?? 0,
      signal: this.signal === neverAborted ? undefined : this.signal,
    }
    return cache.fetch(cacheKey(component, source), load, options).then(
      (value) => (attempts < 0 ? new Outcome(value, 0, 'cache') : new Outcome(value, attempts, 'source')),
      // A failure `load` did not make is the cache's own (a cancelled wait): no call counted.
      (error: unknown) => {
        throw error instanceof FetchFailure ? error : new FetchFailure(error, 0)
      },
    )
  }

  /** One plain call, answered as the source answers; or as many calls as the component's policy makes. */
  private fetchFromSource(
    component: PlannedComponent,
    source: ComponentSource,
    signal: AbortSignal,
  ): Promise<unknown> {
    if (!component.resilient) {
      const context = signal === this.signal ? this.context : { signal, attempt: 0, resolved: this.resolved }
      return raced(this.call(component, source, context), signal)
    }
    let attempts = 0
    const operation = `${this.plan.className}.${component.definition.property}`
    const policy = componentPolicy(component, source, operation)
    // The timeout policy does not wait for work that ignores its signal; the resolve signal is
    // raced here so that a retry without a timeout is cancelled as well.
    const run = policy.execute(({ signal: attemptSignal, attempt }) => {
      attempts = Math.max(attempts, attempt + 1)
      const context: SourceContext = { signal: attemptSignal, attempt, resolved: this.resolved }
      // No value is a failed attempt, which the policy may retry.
      return this.call(component, source, context).then(
        (answer) => valueIn(answer, component, source),
        (error: unknown) => {
          throw timedOut(error, attemptSignal, signal, operation, component.definition.options.timeout)
        },
      )
    }, signal)
    return raced(run, signal).then(
      (value) => new Outcome(value, attempts, 'source'),
      (error: unknown) => {
        throw new FetchFailure(error, attempts)
      },
    )
  }

  /**
   * One call to a source, in an OpenTelemetry client span when an SDK is registered (the
   * span's attributes are only built then: this runs for every component of every resolve).
   */
  private call(
    component: PlannedComponent,
    source: ComponentSource,
    context: SourceContext,
  ): Promise<unknown> {
    if (activeTracer() === undefined) return source.fetch(component.request, context)
    const attributes = {
      'tributary.component.class': this.plan.className,
      'tributary.component.property': component.definition.property,
      'tributary.source': source.name,
      ...(component.label === undefined ? {} : { 'tributary.key': component.label }),
      'tributary.attempt': context.attempt + 1,
    }
    return traced({ name: `fetch ${source.name}`, kind: 'client', attributes }, () =>
      source.fetch(component.request, context),
    )
  }

  /** A fetch's answer finished: an {@link Outcome}, or a plain call's answer (one call, from the source). */
  private finishAnswer(
    component: PlannedComponent,
    started: number,
    answer: unknown,
  ): boolean | Promise<boolean> {
    if (answer instanceof Outcome) {
      return this.finish(component, started, answer.value, answer.attempts, answer.origin)
    }
    let value: unknown
    try {
      value = valueIn(answer, component, this.sources[component.index] as ComponentSource)
    } catch (noValue) {
      return this.fail(component, started, noValue)
    }
    return this.finish(component, started, value, 1, 'source')
  }

  /**
   * Coerces and validates `raw` — a fetched, cached or fallback value — and assigns it, or
   * records why it could not be. Synchronous unless the parser, schema or validator is async.
   */
  private finish(
    component: PlannedComponent,
    started: number,
    raw: unknown,
    attempts: number,
    origin: ComponentOrigin,
    reason?: string,
  ): boolean | Promise<boolean> {
    let value: unknown
    try {
      value = finishValue(component.spec, raw, attempts)
    } catch (error) {
      return this.reject(component, error, attempts)
    }
    if (!isThenable(value)) return this.assign(component, started, value, attempts, origin, reason)
    return Promise.resolve(value).then(
      (finished) => this.assign(component, started, finished, attempts, origin, reason),
      (error: unknown) => this.reject(component, error, attempts),
    )
  }

  /**
   * A fetch failed (with a {@link FetchFailure}, or a plain call with its own error): the cached
   * value (`fallbackTo: 'cache'`), the fallback, `missing`, or an error.
   */
  private fail(component: PlannedComponent, started: number, failure: unknown): boolean | Promise<boolean> {
    const { cause, attempts } = failure instanceof FetchFailure ? failure : new FetchFailure(failure, 1)
    if (this.signal.aborted) return this.reject(component, cause, attempts)
    const options = component.definition.options
    let reason = describeCause(cause)
    let failed = cause
    if (options.fallbackTo === 'cache' && this.cache) {
      const source = this.sources[component.index] as ComponentSource
      let entry: CachedComponentValue | undefined
      try {
        entry = this.cache.get(cacheKey(component, source))
      } catch (cacheError) {
        // A custom cache that throws is one more failure, not a hang: the chain goes on.
        reason = `${reason}; the cache failed too: ${describeCause(cacheError)}`
        failed = new AggregateError([cause, cacheError], reason)
      }
      if (entry) return this.finish(component, started, entry.value, attempts, 'cache', reason)
    }
    if (options.fallback !== undefined) {
      return this.finish(component, started, options.fallback, attempts, 'fallback', reason)
    }
    if (!component.definition.required) {
      return this.assign(component, started, undefined, attempts, 'missing', reason)
    }
    return this.reject(component, failed, attempts)
  }

  private assign(
    component: PlannedComponent,
    started: number,
    value: unknown,
    attempts: number,
    origin: ComponentOrigin,
    reason: string | undefined,
  ): boolean {
    const property = component.definition.property
    if (origin !== 'missing') {
      try {
        this.instance[property] = value
      } catch (error) {
        // A setter or a frozen instance refused the value.
        return this.reject(component, error, attempts)
      }
      if (this.plan.hasDependencies) this.resolved[property] = value
    }
    this.provenanceColumns.set(component, value, burstNow() - started, attempts, origin, reason)
    return true
  }

  private reject(component: PlannedComponent, error: unknown, attempts: number): false {
    const d = component.definition
    this.errors[component.declared] = isComponentError(error)
      ? error
      : new ComponentError({
          className: this.plan.className,
          property: d.property,
          source: d.options.fetchFrom,
          key: component.label,
          attempts,
          cause: error,
        })
    return false
  }
}

/**
 * Creates an instance of `target` and resolves every `@Component` property: independent
 * components start at once (the total time is the slowest fetch, not the sum), `dependsOn`
 * components wait for theirs. Every failure is collected; if any component fails (after its
 * retries, cache and fallback), rejects with one {@link ComponentResolutionError} listing them
 * all. Also exported as `fetchAllComponents`.
 *
 * @example
 * ```ts
 * import { Component, resolve, envSource } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'PORT', fallback: 8080 }) port!: number
 * }
 * const config = await resolve(AppConfig, { sources: [envSource()], timeout: 30_000 })
 * ```
 */
export function resolve<T extends object>(target: ComponentClass<T>, options: ResolveOptions): Promise<T> {
  const className = typeof target === 'function' ? target.name : String(target)
  return traced(
    { name: `resolve ${className}`, attributes: { 'tributary.component.class': className } },
    () => resolveIn(target, options),
  )
}

async function resolveIn<T extends object>(target: ComponentClass<T>, options: ResolveOptions): Promise<T> {
  checkResolveCall(target, options)
  const plan = planFor(target)
  const sources = sourcesFor(plan, options.sources)
  if (options.signal?.aborted) throw abortError(options.signal, `resolve ${plan.className}`)
  const instance = new target()
  let linked: LinkedSignal | undefined
  let timer: LongTimer | undefined
  const timeoutMs = options.timeout === Infinity ? undefined : options.timeout
  if (options.signal || timeoutMs !== undefined) {
    linked = linkSignals(options.signal)
    if (timeoutMs !== undefined) {
      const controller = linked
      timer = setLongTimeout(
        () => controller.abort(new AsyncTimeoutError(`resolve ${plan.className}`, timeoutMs)),
        timeoutMs,
      )
    }
  }
  const cache = options.cache === false ? undefined : (options.cache ?? defaultComponentCache)
  const resolution = new Resolution(
    plan,
    instance as Record<string, unknown>,
    sources,
    cache,
    linked?.signal ?? neverAborted,
  )
  try {
    await resolution.run()
  } finally {
    timer?.clear()
    linked?.dispose()
  }
  if (options.signal?.aborted) throw abortError(options.signal, `resolve ${plan.className}`)
  recordProvenanceLazily(instance, () => resolution.provenance(), plan.hasSecret)
  const errors = resolution.failures()
  if (errors.length > 0) {
    throw new ComponentResolutionError(
      plan.className,
      errors,
      (provenanceRecords(instance) ?? []).filter((r) => r.origin !== 'missing').map((r) => r.property),
      instance,
    )
  }
  return instance
}

const RESOLVE_OPTIONS: ReadonlyArray<keyof ResolveOptions> = ['sources', 'timeout', 'signal', 'cache']

/** `resolve`'s arguments, checked before anything runs (on every resolve: allocating nothing when they are right). */
function checkResolveCall(target: unknown, options: unknown): void {
  if (typeof target !== 'function') {
    throw new TypeError(
      `resolve(target, options): target must be a class with @Component properties, got ${
        target === null ? 'null' : typeof target
      }`,
    )
  }
  const where = `resolve(${(target as { name?: string }).name || 'anonymous class'}, options)`
  const problem = optionsProblem(options, RESOLVE_OPTIONS)
  if (problem !== undefined) throw new TypeError(`${where}: ${problem}`)
  const o = options as Partial<Record<keyof ResolveOptions, unknown>>
  if (o.sources === undefined || o.sources === null || typeof o.sources !== 'object') {
    throw new TypeError(
      `${where}: \`sources\` is required: the sources \`fetchFrom\` names, as an array or a { name: source } record, e.g. { sources: [envSource()] }`,
    )
  }
  const sources = o.sources as Record<string, unknown>
  const isArray = Array.isArray(sources)
  // An array's sources carry their own `name`; a record's are named by its keys.
  for (const key of isArray ? (sources as unknown as unknown[]).keys() : Object.keys(sources)) {
    const source = sources[key] as { name?: unknown; fetch?: unknown } | null | undefined
    if (typeof source?.fetch !== 'function' || (isArray && typeof source.name !== 'string')) {
      throw new TypeError(
        `${where}: option ${isArray ? `sources[${key}]` : `sources.${key}`} must be a source ({ name, fetch(request, context) }), got ${describeValue(source)}`,
      )
    }
  }
  const timeoutProblem = durationProblem(o.timeout, { positive: true })
  if (timeoutProblem !== undefined) throw new RangeError(`${where}: \`timeout\` ${timeoutProblem}`)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: \`signal\` must be an AbortSignal`)
  }
}

/** The same function as {@link resolve}, under the name the design also uses. */
export const fetchAllComponents = resolve
