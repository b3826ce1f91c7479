/**
 * `resolve(Class, { sources })`: creates an instance and fetches every component at once
 * (dependencies first), with per-component resilience, caching and fallbacks, collecting every
 * failure into one `ComponentResolutionError`.
 */
import { performance } from 'node:perf_hooks'
import { abortError, linkSignals, raceAbort, type LinkedSignal, neverAborted } from '../core/abort'
import { AsyncTimeoutError, TributaryError, describeCause } from '../core/errors'
import { traced } from '../core/telemetry'
import { describeValue, durationProblem, optionsProblem } from '../core/option-checks'
import { setLongTimeout, type LongTimer } from '../core/timers'
import type { ComponentSource, SourceContext } from '../sources/source'
import { defaultComponentCache, type ComponentValueCache } from './cache'
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

interface Outcome {
  readonly value: unknown
  readonly attempts: number
  readonly origin: 'source' | 'cache'
}

/** A fetch failure with the number of calls made. */
class FetchFailure {
  constructor(
    readonly cause: unknown,
    readonly attempts: number,
  ) {}
}

/** A source returned `undefined` or `null`. */
class NoValueError extends TributaryError {
  static override readonly kind: string = 'NoValueError'
}

let batchNow = -1
const endClockBatch = (): void => {
  batchNow = -1
}

/**
 * `performance.now()`, read once per burst of microtasks: components whose fetches settle in
 * the same burst (in-memory and cached sources) share one reading, which is accurate to the
 * time the burst's own callbacks take. A fetch settling on a later I/O turn reads the clock anew.
 */
function clock(): number {
  if (batchNow < 0) {
    batchNow = performance.now()
    queueMicrotask(endClockBatch)
  }
  return batchNow
}
const sourceIds = new WeakMap<ComponentSource, number>()
let nextSourceId = 1

function sourceId(source: ComponentSource): number {
  let id = sourceIds.get(source)
  if (id === undefined) {
    id = nextSourceId++
    sourceIds.set(source, id)
  }
  return id
}

/** One resolution in progress. */
class Resolution {
  readonly fetches: Array<Promise<Outcome>> = []
  readonly settled: Array<Promise<boolean>> = []
  /**
   * Provenance by declaration index. A lean component that resolved from its source keeps only
   * its value and duration (`kinds` 1); any other outcome keeps a whole record (`kinds` 2); a
   * failed component keeps nothing (0). Records are built when first read ({@link provenance}).
   */
  private readonly kinds: Uint8Array
  private readonly values: unknown[]
  private readonly durations: Float64Array
  private readonly records: ProvenanceRecord[] = []
  readonly errors: ComponentError[] = []
  readonly resolved: Record<string, unknown> = {}
  private context: SourceContext | undefined
  /** When independent components started (all at once); dependents take their own time. */
  private readonly startedAt = performance.now()

  constructor(
    readonly plan: Plan,
    readonly instance: Record<string, unknown>,
    /** Each component's source, by plan index. */
    readonly sources: readonly ComponentSource[],
    readonly cache: ComponentValueCache | undefined,
    readonly signal: AbortSignal,
    readonly abortable: boolean,
  ) {
    const count = plan.components.length
    this.kinds = new Uint8Array(count)
    this.values = new Array<unknown>(count)
    this.durations = new Float64Array(count)
  }

  /** The provenance records of the components that resolved (or stayed missing), in declaration order. */
  provenance(): ProvenanceRecord[] {
    const out: ProvenanceRecord[] = []
    const byDeclaration: Array<PlannedComponent | undefined> = []
    for (const component of this.plan.components) byDeclaration[component.declared] = component
    for (const component of byDeclaration) {
      if (component === undefined) continue
      const at = component.declared
      const kind = this.kinds[at]
      if (kind === 2) out.push(this.records[at] as ProvenanceRecord)
      else if (kind === 1) {
        out.push({
          property: component.definition.property,
          source: component.definition.options.fetchFrom,
          key: component.label,
          value: this.values[at],
          durationMs: this.durations[at] as number,
          attempts: 1,
          origin: 'source',
          secret: component.definition.secret,
          reason: undefined,
        })
      }
    }
    return out
  }

  /** Components not yet settled, and what to call when none is left (without `dependsOn`). */
  private remaining = 0
  private finished: (() => void) | undefined
  private readonly countDown = (): void => {
    if (--this.remaining === 0) this.finished?.()
  }

  /**
   * Starts every component; resolves when all have settled (it never rejects for a component's
   * failure: those are collected in `errors`). Without `dependsOn`, settling is counted rather
   * than joined with `Promise.all`, so a lean component costs one `then`.
   */
  start(): Promise<unknown> {
    const components = this.plan.components
    if (!this.plan.hasDependencies) {
      if (components.length === 0) return Promise.resolve()
      this.remaining = components.length
      return new Promise<void>((resolve) => {
        this.finished = resolve
        for (const component of components) {
          if (component.lean) this.runLean(component, this.startedAt)
          else void this.run(component).then(this.countDown)
        }
      })
    }
    for (const component of components) {
      if (component.dependsOn.length === 0) {
        this.settled.push(this.run(component))
      } else {
        const deps = component.dependsOn.map((i) => this.settled[i] as Promise<boolean>)
        this.settled.push(
          Promise.all(deps).then((oks) => {
            const failed = component.dependsOn.filter((_, i) => !oks[i])
            if (failed.length === 0) return this.run(component, performance.now())
            const names = failed.map((i) => this.plan.components[i]?.definition.property).join(', ')
            return this.fail(component, performance.now(), new FetchFailure(new DependencyError(names), 0))
          }),
        )
      }
    }
    return Promise.all(this.settled)
  }

  /** Counts a lean component as settled (when counting); passes its result on. */
  private track(result: boolean | Promise<boolean>): boolean | Promise<boolean> {
    if (this.finished !== undefined) {
      if (typeof result === 'boolean') this.countDown()
      else void result.then(this.countDown)
    }
    return result
  }

  private run(component: PlannedComponent, started = this.startedAt): Promise<boolean> {
    if (component.lean) return this.runLean(component, started)
    let fetch: Promise<Outcome>
    try {
      fetch =
        component.sharesFetchWith >= 0
          ? (this.fetches[component.sharesFetchWith] as Promise<Outcome>)
          : this.fetchOutcome(component)
    } catch (error) {
      fetch = Promise.reject(new FetchFailure(error, 1))
    }
    this.fetches[component.index] = fetch
    return fetch.then(
      (outcome) => this.succeed(component, started, outcome),
      (failure: unknown) => this.fail(component, started, failure),
    )
  }

  /** One call to a source, in an OpenTelemetry client span when an SDK is registered. */
  private fetchFrom(
    component: PlannedComponent,
    source: ComponentSource,
    context: SourceContext,
  ): Promise<unknown> {
    return traced(
      {
        name: `fetch ${source.name}`,
        kind: 'client',
        attributes: {
          'tributary.component.class': this.plan.className,
          'tributary.component.property': component.definition.property,
          'tributary.source': source.name,
          ...(component.label === undefined ? {} : { 'tributary.key': component.label }),
          'tributary.attempt': context.attempt + 1,
        },
      },
      () => source.fetch(component.request, context),
    )
  }

  /** The common case — no cache, no policy, no shared fetch: one source call, one `then`. */
  private runLean(component: PlannedComponent, started: number): Promise<boolean> {
    const source = this.sources[component.index] as ComponentSource
    this.context ??= { signal: this.signal, attempt: 0, resolved: this.resolved }
    let pending: Promise<unknown>
    try {
      pending = this.fetchFrom(component, source, this.context)
      if (this.abortable) pending = raceAbort(pending, this.signal)
    } catch (error) {
      pending = Promise.reject(error)
    }
    return pending.then(
      (raw) => this.track(this.settleLean(component, source, started, raw)),
      (error: unknown) => this.track(this.fail(component, started, new FetchFailure(error, 1))),
    )
  }

  /** A lean fetch answered: pick the field, coerce, validate, assign — without an outcome object. */
  private settleLean(
    component: PlannedComponent,
    source: ComponentSource,
    started: number,
    raw: unknown,
  ): boolean | Promise<boolean> {
    const field = source.appliesField === true ? undefined : component.definition.options.field
    const value = field === undefined ? raw : pickField(raw, field)
    if (value === undefined || value === null) {
      return this.fail(
        component,
        started,
        new FetchFailure(new NoValueError('the source returned no value'), 1),
      )
    }
    let finished: unknown
    try {
      finished = finishValue(component.spec, value, 1)
    } catch (error) {
      return this.reject(component, error, 1)
    }
    if (isThenable(finished)) {
      return Promise.resolve(finished).then(
        (v) => this.assign(component, started, v, 1, 'source'),
        (error: unknown) => this.reject(component, error, 1),
      )
    }
    return this.assign(component, started, finished, 1, 'source')
  }

  private fetchOutcome(component: PlannedComponent): Promise<Outcome> {
    const source = this.sources[component.index] as ComponentSource
    const cache = component.cached ? this.cache : undefined
    if (!cache) return this.callSource(component, source, this.signal)
    // `attempts` stays -1 when the cache answered without calling the source: a fresh stored
    // value, or the same fetch another resolve had in flight.
    let attempts = -1
    return cache
      .fetch(
        `${sourceId(source)}\u0000${component.fetchKey}`,
        (signal) =>
          this.callSource(component, source, signal).then((outcome) => {
            attempts = outcome.attempts
            return outcome.value
          }),
        { ttl: component.definition.options.ttl ?? 0, signal: this.abortable ? this.signal : undefined },
      )
      .then((value): Outcome =>
        attempts < 0 ? { value, attempts: 0, origin: 'cache' } : { value, attempts, origin: 'source' },
      )
  }

  private callSource(
    component: PlannedComponent,
    source: ComponentSource,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const field = source.appliesField === true ? undefined : component.definition.options.field
    if (!component.resilient) {
      const context: SourceContext = { signal, attempt: 0, resolved: this.resolved }
      const pending = this.fetchFrom(component, source, context)
      return (signal === neverAborted ? pending : raceAbort(pending, signal)).then(
        (value) => ({ value: present(pickField(value, field)), attempts: 1, origin: 'source' }),
        (error: unknown) => {
          throw new FetchFailure(error, 1)
        },
      )
    }
    let attempts = 0
    const operation = `${this.plan.className}.${component.definition.property}`
    const policy = componentPolicy(component, source, operation)
    // The timeout policy does not wait for work that ignores its signal; the resolve signal is
    // raced here so that a retry without a timeout is cancelled as well.
    const run = policy.execute(({ signal: attemptSignal, attempt }) => {
      attempts = Math.max(attempts, attempt + 1)
      const context: SourceContext = { signal: attemptSignal, attempt, resolved: this.resolved }
      return this.fetchFrom(component, source, context).then(
        (value) => present(pickField(value, field)),
        (error: unknown) => {
          throw timedOut(error, attemptSignal, signal, operation, component.definition.options.timeout)
        },
      )
    }, signal)
    return (signal === neverAborted ? run : raceAbort(run, signal)).then(
      (value) => ({ value, attempts, origin: 'source' as const }),
      (error: unknown) => {
        throw new FetchFailure(error, attempts)
      },
    )
  }

  private assign(
    component: PlannedComponent,
    started: number,
    value: unknown,
    attempts: number,
    origin: ComponentOrigin,
    reason?: string,
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
    const at = component.declared
    if (origin === 'source' && attempts === 1 && reason === undefined) {
      this.kinds[at] = 1
      this.values[at] = value
      this.durations[at] = clock() - started
      return true
    }
    this.kinds[at] = 2
    this.records[at] = {
      property,
      source: component.definition.options.fetchFrom,
      key: component.label,
      value,
      durationMs: clock() - started,
      attempts,
      origin,
      secret: component.definition.secret,
      reason,
    }
    return true
  }

  private succeed(
    component: PlannedComponent,
    started: number,
    outcome: Outcome,
  ): boolean | Promise<boolean> {
    const spec = component.spec
    try {
      const value = finishValue(spec, outcome.value, outcome.attempts)
      if (isThenable(value)) {
        return Promise.resolve(value).then(
          (v) => this.assign(component, started, v, outcome.attempts, outcome.origin),
          (error: unknown) => this.reject(component, error, outcome.attempts),
        )
      }
      return this.assign(component, started, value, outcome.attempts, outcome.origin)
    } catch (error) {
      return this.reject(component, error, outcome.attempts)
    }
  }

  private fail(component: PlannedComponent, started: number, failure: unknown): boolean | Promise<boolean> {
    const { cause, attempts } =
      failure instanceof FetchFailure
        ? failure
        : new FetchFailure(failure, failure instanceof NoValueError ? 1 : 0)
    const options = component.definition.options
    if (this.signal.aborted) return this.reject(component, cause, attempts)
    const reason = describeCause(cause)
    if (options.fallbackTo === 'cache' && this.cache) {
      const source = this.sources[component.index] as ComponentSource
      const entry = this.cache.get(`${sourceId(source)}\u0000${component.fetchKey}`)
      if (entry) return this.finishFallback(component, started, entry.value, attempts, 'cache', reason)
    }
    if (options.fallback !== undefined) {
      return this.finishFallback(component, started, options.fallback, attempts, 'fallback', reason)
    }
    if (!component.definition.required)
      return this.assign(component, started, undefined, attempts, 'missing', reason)
    return this.reject(component, cause, attempts)
  }

  private finishFallback(
    component: PlannedComponent,
    started: number,
    raw: unknown,
    attempts: number,
    origin: ComponentOrigin,
    reason: string,
  ): boolean | Promise<boolean> {
    try {
      const value = finishValue(component.spec, raw, attempts)
      if (isThenable(value)) {
        return Promise.resolve(value).then(
          (v) => this.assign(component, started, v, attempts, origin, reason),
          (error: unknown) => this.reject(component, error, attempts),
        )
      }
      return this.assign(component, started, value, attempts, origin, reason)
    } catch (error) {
      return this.reject(component, error, attempts)
    }
  }

  private reject(component: PlannedComponent, error: unknown, attempts: number): false {
    const d = component.definition
    this.errors.push(
      isComponentError(error)
        ? error
        : new ComponentError({
            className: this.plan.className,
            property: d.property,
            source: d.options.fetchFrom,
            key: component.label,
            attempts,
            cause: error,
          }),
    )
    return false
  }
}

/** A component's dependency failed, so it was not fetched. */
class DependencyError extends TributaryError {
  static override readonly kind: string = 'DependencyError'

  constructor(names: string) {
    super(`not fetched: it depends on ${names}, which failed`)
  }
}

function present(value: unknown): unknown {
  if (value === undefined || value === null) throw new NoValueError('the source returned no value')
  return value
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
    linked !== undefined,
  )
  try {
    await resolution.start()
  } finally {
    timer?.clear()
    linked?.dispose()
  }
  if (options.signal?.aborted) throw abortError(options.signal, `resolve ${plan.className}`)
  recordProvenanceLazily(instance, () => resolution.provenance(), plan.hasSecret)
  if (resolution.errors.length > 0) {
    const order = declarationOrder(plan)
    const errors = resolution.errors.sort(
      (a, b) => (order.get(a.property) ?? 0) - (order.get(b.property) ?? 0),
    )
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

/** `resolve`'s arguments, checked before anything runs: what is missing or wrong is named. */
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
  const entries: Array<[string, unknown]> = Array.isArray(o.sources)
    ? Array.from(o.sources as unknown[], (source, i) => [`sources[${i}]`, source])
    : Object.entries(o.sources).map(([name, source]) => [`sources.${name}`, source])
  for (const [at, source] of entries) {
    const candidate = source as { name?: unknown; fetch?: unknown } | null | undefined
    if (
      typeof candidate?.fetch !== 'function' ||
      (Array.isArray(o.sources) && typeof candidate.name !== 'string')
    ) {
      throw new TypeError(
        `${where}: option ${at} must be a source ({ name, fetch(request, context) }), got ${describeValue(source)}`,
      )
    }
  }
  const timeoutProblem = durationProblem(o.timeout, { positive: true })
  if (timeoutProblem !== undefined) throw new RangeError(`${where}: \`timeout\` ${timeoutProblem}`)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: \`signal\` must be an AbortSignal`)
  }
}

function declarationOrder(plan: Plan): Map<string, number> {
  return new Map(plan.components.map((c) => [c.definition.property, c.declared]))
}

/** The same function as {@link resolve}, under the name the design also uses. */
export const fetchAllComponents = resolve
