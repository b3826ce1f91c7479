/**
 * The bookkeeping of one emit: which handlers ran, which failed, and when all have settled.
 * Kept lean for the hot path: a counter instead of a list of promises, and one fulfilment
 * callback shared by every handler (only the rejection callback, which names its handler, is
 * made per handler). @internal
 */
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

/** The tally of one emit. @internal */
export class Emission {
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
  private onFulfilled: ((value: unknown) => void) | undefined = undefined

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
   * retain them until a full GC, which cost more than the handlers themselves. A rejection
   * gets a closure naming its entry; the shared fulfilment callback needs none.
   */
  track(promise: PromiseLike<unknown>, entry: Entry): void {
    this.remaining++
    promise.then(
      (this.onFulfilled ??= (value) => {
        this.ok(value)
        if (--this.remaining === 0) this.done(this)
      }),
      (reason: unknown) => {
        this.fail(entry, reason)
        if (--this.remaining === 0) this.done(this)
      },
    )
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
