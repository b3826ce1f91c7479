/**
 * The bookkeeping of one emit: which handlers ran, which failed, and when all have settled.
 * Kept lean for the hot path: a counter and a list of the running entries instead of a list of
 * promises (so that a `close()` which gives up can fail the ones still running). @internal
 */
import type { Context, Span, Tracer } from '@opentelemetry/api'
import type { OperationCounter } from '../core/metrics'
import { HandlerError } from './errors'
import { DROPPED, SKIPPED, type Invoker } from './handler-options'
import type { EmitResult, EventClass, EventHandler } from './types'

/** One registration. @internal */
export interface Entry {
  readonly key: EventClass | null
  /** Shared by the entries of one call (`on([A, B], h)`): an emit runs a group at most once. */
  readonly group: object
  readonly handler: EventHandler<object>
  readonly name: string
  readonly fallible: boolean
  readonly inherited: boolean
  readonly seq: number
  invoke: Invoker | undefined
  active: boolean
  /** For `once` and `events()`: told when the bus removes the entry (clear/close). */
  readonly onRemoved: ((reason: unknown) => void) | undefined
  /** Whether adding and removing it emits `ListenerAdded` / `ListenerRemoved`. */
  readonly announced: boolean
}

/** The handlers an event class reaches, in registration order, plus its metrics counter. @internal */
export interface Route {
  readonly eventClass: EventClass
  /** A meta event class (`ListenerAdded`, `ListenerRemoved`): only the bus emits it. */
  readonly meta: boolean
  readonly name: string
  readonly entries: readonly Entry[]
  readonly counter: OperationCounter
  /** The bus's registry version and the metrics' generation it was built at. */
  readonly version: number
  readonly generation: number
}

/** The OpenTelemetry span of a traced emit, and what its handlers' spans need. @internal */
export interface EmitTrace {
  readonly tracer: Tracer
  readonly span: Span
  /** The emit span's context: the parent of every handler span. */
  readonly parent: Context
  /** The emitted event's class name. */
  readonly event: string
}

/** Something in flight that a `close()` which gives up settles with its reason. @internal */
export interface Abandonable {
  abandon(reason: unknown): void
}

/** The tally of one emit. @internal */
export class Emission implements Abandonable {
  /** Set when an OpenTelemetry SDK is registered (see `AsyncEventBus.begin`). */
  trace: EmitTrace | undefined = undefined
  handled = 0
  dropped = 0
  failures: HandlerError[] | undefined = undefined
  errors: HandlerError[] | undefined = undefined
  /** Settles the promise `emit` returned (unset for `emitAndForget`). */
  resolve: ((result: EmitResult) => void) | undefined = undefined
  reject: ((error: unknown) => void) | undefined = undefined
  /** Tracked invocations still running, plus one held by the dispatch loop until {@link release}. */
  private remaining = 1
  private order: Map<HandlerError, number> | undefined = undefined
  /**
   * The entries whose tracked invocation has not settled (for {@link abandon}): the first in
   * `runningOne` (most emits have one handler), more in `running`. An entry runs at most once
   * per emission.
   */
  private runningOne: Entry | undefined = undefined
  private running: Entry[] | undefined = undefined
  private abandoned = false
  /** The bus's list of in-flight emissions. @internal */
  pendingPrev: Emission | undefined = undefined
  /** @internal */
  pendingNext: Emission | undefined = undefined

  constructor(
    readonly event: object,
    readonly route: Route,
    readonly metricStart: number,
    readonly start: number,
    /** Called once every tracked invocation has settled. */
    private readonly done: (emission: Emission) => void,
  ) {}

  /**
   * Ends the dispatch loop's hold and tells whether tracked invocations are still running. The
   * hold keeps a thenable that calls back synchronously from finishing the emission before
   * every handler has started.
   */
  release(): boolean {
    return --this.remaining > 0
  }

  /** A handler returned (or resolved with) `value`. */
  ok(value: unknown): void {
    if (value === DROPPED) this.dropped++
    else if (value !== SKIPPED) this.handled++
  }

  /** `entry`'s handler failed with `cause`. */
  fail(entry: Entry, cause: unknown): void {
    const error = new HandlerError(entry.name, this.route.name, this.event, cause)
    ;(this.order ??= new Map()).set(error, entry.seq)
    if (entry.fallible) (this.errors ??= []).push(error)
    else (this.failures ??= []).push(error)
  }

  /**
   * Waits for a handler's promise. Its outcome is always observed. The emission keeps no
   * reference to the promise: holding handler promises from a long-lived emission made V8
   * retain them until a full GC, which cost more than the handlers themselves. It keeps the
   * entry (long-lived anyway) among the running ones until the promise settles.
   */
  track(promise: PromiseLike<unknown>, entry: Entry): void {
    this.remaining++
    if (this.runningOne === undefined) this.runningOne = entry
    else (this.running ??= []).push(entry)
    promise.then(
      (value: unknown) => {
        if (this.abandoned) return
        this.settled(entry)
        this.ok(value)
        if (--this.remaining === 0) this.done(this)
      },
      (reason: unknown) => {
        if (this.abandoned) return
        this.settled(entry)
        this.fail(entry, reason)
        if (--this.remaining === 0) this.done(this)
      },
    )
  }

  private settled(entry: Entry): void {
    if (this.runningOne === entry) this.runningOne = undefined
    else {
      // Few handlers run at once per emission: a scan and a swap beat a Set's hashing.
      const running = this.running
      const at = running === undefined ? -1 : running.indexOf(entry)
      if (at < 0) return
      const last = (running as Entry[]).pop() as Entry
      if (at < (running as Entry[]).length) (running as Entry[])[at] = last
    }
  }

  /**
   * A `close()` gave up: every tracked invocation still running fails with `reason` and the
   * emission completes now; their later outcomes are ignored. Nothing happens once completed.
   */
  abandon(reason: unknown): void {
    if (this.abandoned || this.remaining === 0) return
    this.abandoned = true
    if (this.runningOne !== undefined) this.fail(this.runningOne, reason)
    for (const entry of this.running ?? []) this.fail(entry, reason)
    this.runningOne = undefined
    this.running = undefined
    this.remaining = 0
    this.done(this)
  }

  /** Puts failures in registration order (a synchronous throw is recorded before async ones). */
  sort(): void {
    const order = this.order
    if (!order) return
    const bySeq = (a: HandlerError, b: HandlerError): number => (order.get(a) ?? 0) - (order.get(b) ?? 0)
    this.failures?.sort(bySeq)
    this.errors?.sort(bySeq)
  }
}
