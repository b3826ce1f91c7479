/**
 * One component kept live: its source watcher (started and stopped with its `condition`,
 * restarted when what it `dependsOn` changes), the debounce/throttle schedule, and the apply
 * step — coerce, validate, compare, assign, record provenance, publish one update.
 */
import { performance } from 'node:perf_hooks'
import { isDeepStrictEqual } from 'node:util'
import { describeCause } from '../core/errors'
import { ComponentError, isComponentError } from '../components/errors'
import { recordProvenance, type ComponentOrigin } from '../components/explain'
import { finishValue, isThenable, pickField } from '../components/finish'
import { componentPolicy, timedOut } from '../components/policies'
import { SourceNotFoundError, isSourceNotFoundError } from '../sources/source'
import type { SourceWatcher, WatchBackoff } from '../sources/watch'
import { conditionHolds, type LiveSpec } from './live-plan'
import { createSchedule, type Scheduler } from './scheduling'
import { watchShared } from './shared-watch'
import { maskValue, type ComponentUpdate } from './update'

/** What a live component needs from the handle that owns it. */
export interface LiveHost {
  readonly className: string
  readonly instance: Record<string, unknown>
  /** Aborts when the handle stops; nothing is published after that. */
  readonly signal: AbortSignal
  readonly backoff: WatchBackoff | undefined
  /** The current values of every component (what sources get as `context.resolved`). */
  resolved(): Readonly<Record<string, unknown>>
  publish(update: ComponentUpdate): void
  /** Keeps `work` in flight until it settles; `stop()` waits for it. `work` must not reject. */
  track(work: Promise<void>): void
  /** A component was assigned; `valueChanged` is false when only its provenance changed. */
  changed(property: string, valueChanged: boolean): void
}

/** What a watcher reported, waiting in the schedule. */
type Report = { readonly kind: 'value'; readonly raw: unknown } | { readonly kind: 'removed' }

/** A running source watcher and the schedule its reports go through. */
interface Session {
  readonly controller: AbortController
  readonly scheduler: Scheduler<Report>
  watcher: SourceWatcher | undefined
}

const DELETED = 'the key was deleted from the source'

/** One component of a watched instance. */
export class LiveComponent {
  private value: unknown
  private origin: ComponentOrigin
  /** When the value last came from the source (`performance.now()`), for a shared watch's replay. */
  private sourcedAt: number
  private session: Session | undefined
  private refetching: AbortController | undefined
  private applying = false
  private queued: Report | undefined
  /** Not opted out and its condition holds. */
  private active = false

  constructor(
    readonly spec: LiveSpec,
    private readonly host: LiveHost,
    origin: ComponentOrigin,
  ) {
    this.value = host.instance[spec.property]
    this.origin = origin
    this.sourcedAt = performance.now()
  }

  /** True while a source watcher runs for this component. */
  get watching(): boolean {
    return this.session !== undefined
  }

  /**
   * Starts watching if the condition holds for `conditionValue`. Throws a `ComponentError`
   * when the source's `watch` throws.
   */
  start(conditionValue: unknown): void {
    if (this.spec.optedOut) return
    this.active = conditionHolds(this.spec.condition, conditionValue)
    if (this.active) this.startWatcher()
  }

  /** The component this one `dependsOn` changed: restart the watcher and re-fetch. */
  dependencyChanged(): void {
    if (!this.active || this.host.signal.aborted) return
    if (this.session) {
      this.stopWatcher()
      this.restartWatcher()
    }
    this.refetch()
  }

  /** The component named in `condition` changed to `value`. */
  conditionChanged(value: unknown): void {
    if (this.spec.optedOut || this.host.signal.aborted) return
    const holds = conditionHolds(this.spec.condition, value)
    if (holds === this.active) return
    this.active = holds
    if (holds) {
      this.restartWatcher()
      this.refetch()
    } else {
      this.stopWatcher()
      this.refetching?.abort()
    }
  }

  /** Stops the watcher, its timers and any re-fetch (the handle waits for what it tracked). */
  stop(): void {
    this.active = false
    this.stopWatcher()
    this.refetching?.abort()
    this.queued = undefined
  }

  private startWatcher(): void {
    const source = this.spec.watchable
    if (!source || this.host.signal.aborted) return
    const controller = new AbortController()
    const session: Session = {
      controller,
      scheduler: createSchedule<Report>(this.spec.schedule, (report) => this.apply(report)),
      watcher: undefined,
    }
    const accept = (): boolean => this.session === session && !controller.signal.aborted
    this.session = session
    try {
      // One upstream watcher per (source, key, field, …): see shared-watch.ts.
      session.watcher = watchShared(source, this.spec.planned.request, {
        signal: controller.signal,
        dependencies: this.dependencies(),
        // A value that did not come from the source (cache, fallback) is older than any report.
        since: this.origin === 'source' ? this.sourcedAt : -Infinity,
        ...(this.spec.pollInterval === undefined ? {} : { pollInterval: this.spec.pollInterval }),
        ...(this.host.backoff === undefined ? {} : { backoff: this.host.backoff }),
        resolved: this.host.resolved(),
        onChange: (raw) => {
          // A report that would change nothing (above all the watcher's own first read, which
          // finds the value just resolved) takes no throttle token and restarts no debounce.
          if (accept() && !this.changesNothing(session, raw)) session.scheduler.push({ kind: 'value', raw })
        },
        onRemove: () => {
          if (accept()) session.scheduler.push({ kind: 'removed' })
        },
        // Errors skip the schedule: a waiting value must not be replaced (and lost) by one.
        onError: (error) => {
          if (accept()) this.fail(error)
        },
      })
    } catch (error) {
      this.session = undefined
      controller.abort()
      session.scheduler.stop()
      throw this.componentError(error, `cannot start watching: ${describeCause(error)}`)
    }
  }

  /**
   * True when `raw`, from the source, would be applied as a no-op: nothing waits in the
   * schedule or is being applied, the value came from the source, and `raw` coerces (sync,
   * without `validate`: the current value passed it) to the current value.
   */
  private changesNothing(session: Session, raw: unknown): boolean {
    if (session.scheduler.pending || this.applying || this.queued || this.refetching) return false
    if (this.origin !== 'source') return false
    const field = this.spec.planned.definition.options.field
    const picked = this.spec.source.appliesField ? raw : pickField(raw, field)
    if (picked === undefined || picked === null) return false
    let coerced: unknown
    try {
      coerced = this.spec.planned.spec.coerce(picked)
    } catch {
      return false
    }
    return !isThenable(coerced) && isDeepStrictEqual(coerced, this.value)
  }

  /** The current values of the components this one `dependsOn`. */
  private dependencies(): Readonly<Record<string, unknown>> {
    const values: Record<string, unknown> = {}
    for (const name of this.spec.planned.definition.dependsOn) values[name] = this.host.instance[name]
    return values
  }

  private restartWatcher(): void {
    try {
      this.startWatcher()
    } catch (error) {
      this.fail(error)
    }
  }

  private stopWatcher(): void {
    const session = this.session
    if (!session) return
    this.session = undefined
    session.scheduler.stop()
    session.controller.abort()
    const watcher = session.watcher
    if (!watcher) return
    this.host.track(
      Promise.resolve()
        .then(() => watcher.stop())
        .catch((error: unknown) => this.fail(error)),
    )
  }

  /** Reads the component once (with its retry/timeout/breaker) and applies the answer. */
  private refetch(): void {
    this.refetching?.abort()
    const controller = new AbortController()
    this.refetching = controller
    const { signal } = controller
    const current = (): boolean => this.refetching === controller && !signal.aborted
    const attempts = { count: 0 }
    const run = this.fetchOnce(signal, attempts).then(
      (raw) => {
        if (current()) this.apply({ kind: 'value', raw })
      },
      (error: unknown) => {
        if (!current()) return
        if (isSourceNotFoundError(error)) this.apply({ kind: 'removed' })
        else this.fail(error, undefined, attempts.count)
      },
    )
    this.host.track(
      run.finally(() => {
        if (this.refetching === controller) this.refetching = undefined
      }),
    )
  }

  private fetchOnce(signal: AbortSignal, attempts: { count: number }): Promise<unknown> {
    const { planned, source } = this.spec
    const fetch = (attemptSignal: AbortSignal, attempt: number): Promise<unknown> => {
      attempts.count = Math.max(attempts.count, attempt + 1)
      return source.fetch(planned.request, { signal: attemptSignal, attempt, resolved: this.host.resolved() })
    }
    if (!planned.resilient) return Promise.resolve().then(() => fetch(signal, 0))
    const operation = `${this.host.className}.${this.spec.property}`
    const timeout = planned.definition.options.timeout
    return componentPolicy(planned, source, operation).execute(
      ({ signal: attemptSignal, attempt }) =>
        fetch(attemptSignal, attempt).catch((error: unknown) => {
          throw timedOut(error, attemptSignal, signal, operation, timeout)
        }),
      signal,
    )
  }

  /** Applies reports one at a time (an async `validate` may be slow); the newest one waits. */
  private apply(report: Report): void {
    if (this.host.signal.aborted) return
    if (this.applying) {
      this.queued = report
      return
    }
    this.applying = true
    const started = performance.now()
    let pending: Promise<void> | undefined
    try {
      pending = this.settle(report, started)
    } catch (error) {
      this.fail(error)
    }
    if (!pending) {
      this.next()
      return
    }
    this.host.track(
      pending
        .catch((error: unknown) => this.fail(error))
        .finally(() => {
          this.next()
        }),
    )
  }

  private next(): void {
    this.applying = false
    const queued = this.queued
    this.queued = undefined
    if (queued) this.apply(queued)
  }

  private settle(report: Report, started: number): Promise<void> | undefined {
    if (report.kind === 'value') {
      // As the resolver does: pick `field` only when the source has not already applied it.
      const field = this.spec.planned.definition.options.field
      const raw = this.spec.source.appliesField ? report.raw : pickField(report.raw, field)
      if (raw !== undefined && raw !== null) {
        return this.finish(raw, (value) => this.commit(value, 'source', started))
      }
    }
    const { options, required } = this.spec.planned.definition
    if (options.fallback !== undefined) {
      return this.finish(options.fallback, (value) => this.commit(value, 'fallback', started))
    }
    if (!required) {
      this.commit(undefined, 'missing', started)
      return undefined
    }
    this.fail(
      new SourceNotFoundError({ source: options.fetchFrom, key: this.spec.planned.label }),
      `${DELETED}; it is required and has no fallback, so it keeps its last value`,
    )
    return undefined
  }

  /** Coerces and validates `raw` (throws a `ComponentError`), then calls `use`. */
  private finish(raw: unknown, use: (value: unknown) => void): Promise<void> | undefined {
    const value = finishValue(this.spec.planned.spec, raw, 1)
    if (isThenable(value)) return Promise.resolve(value).then(use)
    use(value)
    return undefined
  }

  /** Assigns and publishes `value`; any origin but `'source'` means the key was deleted. */
  private commit(value: unknown, origin: ComponentOrigin, started: number): void {
    if (this.host.signal.aborted) return
    const old = this.value
    const oldOrigin = this.origin
    const same = isDeepStrictEqual(old, value)
    if (same && origin === oldOrigin) return
    const { property, secret, options } = this.spec.planned.definition
    const key = this.spec.planned.label
    const removed = origin !== 'source'
    this.value = value
    this.origin = origin
    if (origin === 'source') this.sourcedAt = performance.now()
    this.host.instance[property] = value
    recordProvenance(this.host.instance, [
      {
        property,
        source: options.fetchFrom,
        key,
        value,
        durationMs: performance.now() - started,
        attempts: 1,
        origin,
        secret,
        ...(removed ? { reason: DELETED } : {}),
      },
    ])
    if (same) {
      this.host.changed(property, false)
      return
    }
    const base = { property, source: options.fetchFrom, key, at: Date.now(), secret }
    const update: ComponentUpdate = removed
      ? { kind: 'removed', ...base, oldValue: maskValue(old, secret), newValue: maskValue(value, secret) }
      : oldOrigin === 'missing' || old === undefined
        ? { kind: 'added', ...base, newValue: maskValue(value, secret) }
        : { kind: 'updated', ...base, oldValue: maskValue(old, secret), newValue: maskValue(value, secret) }
    this.host.publish(Object.freeze(update))
    this.host.changed(property, true)
  }

  /** Publishes an `error` update; the last good value stays. */
  private fail(error: unknown, problem?: string, attempts = 1): void {
    if (this.host.signal.aborted) return
    const { property, secret, options } = this.spec.planned.definition
    this.host.publish(
      Object.freeze({
        kind: 'error',
        property,
        source: options.fetchFrom,
        key: this.spec.planned.label,
        at: Date.now(),
        secret,
        error: isComponentError(error) ? error : this.componentError(error, problem, attempts),
      }),
    )
  }

  private componentError(cause: unknown, problem?: string, attempts = 1): ComponentError {
    return new ComponentError(
      {
        className: this.host.className,
        property: this.spec.property,
        source: this.spec.planned.definition.options.fetchFrom,
        key: this.spec.planned.label,
        attempts,
        cause,
      },
      problem,
    )
  }
}
