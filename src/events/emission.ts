/**
 * The bookkeeping of one emit: which handlers ran, which failed, and when all have settled.
 * Kept lean for the hot path: no per-handler closures, and failures are attributed to their
 * handlers only when something actually failed. @internal
 */
import type { OperationCounter } from '../core/metrics'
import { HandlerError } from './errors'
import { DROPPED, SKIPPED, type Invoker } from './handler-options'
import type { EmitResult, EventClass, EventHandler } from './types'

/** One registration. @internal */
export interface Entry {
  readonly key: EventClass | null
  readonly handler: EventHandler<object>
  readonly name: string
  readonly fallible: boolean
  readonly inherited: boolean
  readonly seq: number
  invoke: Invoker | undefined
  active: boolean
  /** For `once` and `events()`: told when the bus removes the entry (clear/close). */
  readonly onRemoved: ((reason: unknown) => void) | undefined
}

/** The handlers an event class reaches, in registration order, plus its metrics counter. @internal */
export interface Route {
  readonly name: string
  readonly entries: readonly Entry[]
  readonly counter: OperationCounter
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
  private remaining = 0
  private rejectedSome = false
  private pending: Array<PromiseLike<unknown>> | undefined = undefined
  private pendingEntries: Entry[] | undefined = undefined
  private order: Map<HandlerError, number> | undefined = undefined
  private onFulfilled: ((value: unknown) => void) | undefined = undefined
  private onRejected: (() => void) | undefined = undefined

  constructor(
    readonly event: object,
    readonly route: Route,
    readonly metricStart: number,
    readonly start: number,
    /** Called once every tracked invocation has settled. */
    private readonly done: (emission: Emission) => void,
  ) {}

  /** True while tracked invocations are still running. */
  get waiting(): boolean {
    return this.remaining > 0
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

  /** Waits for a handler's promise. Its outcome is always observed. */
  track(promise: PromiseLike<unknown>, entry: Entry): void {
    if (this.pending === undefined) {
      this.pending = [promise]
      this.pendingEntries = [entry]
      this.onFulfilled = (value) => {
        this.ok(value)
        if (--this.remaining === 0) this.settle()
      }
      this.onRejected = () => {
        this.rejectedSome = true
        if (--this.remaining === 0) this.settle()
      }
    } else {
      this.pending.push(promise)
      ;(this.pendingEntries as Entry[]).push(entry)
    }
    this.remaining++
    promise.then(this.onFulfilled, this.onRejected)
  }

  /** Puts failures in registration order (a synchronous throw is recorded before async ones). */
  sort(): void {
    const order = this.order
    if (!order) return
    const bySeq = (a: HandlerError, b: HandlerError): number => (order.get(a) ?? 0) - (order.get(b) ?? 0)
    this.failures?.sort(bySeq)
    this.errors?.sort(bySeq)
  }

  private settle(): void {
    if (!this.rejectedSome) {
      this.done(this)
      return
    }
    // Something failed: everything has settled, so allSettled names each failure at once.
    const entries = this.pendingEntries as Entry[]
    void Promise.allSettled(this.pending as Array<PromiseLike<unknown>>).then((outcomes) => {
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i] as PromiseSettledResult<unknown>
        if (outcome.status === 'rejected') this.fail(entries[i] as Entry, outcome.reason)
      }
      this.done(this)
    })
  }
}
