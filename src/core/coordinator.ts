/**
 * `AsyncCoordinator`: wait for many results, losing no failure.
 */
import { AsyncResult } from './async-result'

/** The outcome of one item, as {@link AsyncCoordinator.settleAll} reports it. */
export type AsyncOutcome<T = unknown> =
  | { readonly status: 'fulfilled'; readonly value: T; readonly operation: string }
  | { readonly status: 'rejected'; readonly reason: unknown; readonly operation: string }

/**
 * Collects `AsyncResult`s (or promises) and waits for all of them. Nothing added is ever an
 * unhandled rejection, and `waitAll()` reports every failure, not just the first.
 *
 * @example
 * ```ts
 * import { AsyncCoordinator } from 'tributary'
 * const coordinator = new AsyncCoordinator()
 * coordinator.add(User.asyncCount())
 * coordinator.add(Order.asyncSum('total'))
 * const [users, revenue] = await coordinator.waitAll()
 * ```
 */
export class AsyncCoordinator {
  private readonly items: Array<AsyncResult<unknown>> = []

  /**
   * Adds a result (or a promise, wrapped as an `AsyncResult`) and returns the `AsyncResult`.
   * Its failure is observed from now on, so it never becomes an unhandled rejection.
   */
  add<T>(result: AsyncResult<T> | PromiseLike<T>): AsyncResult<T> {
    const item = result instanceof AsyncResult ? result : AsyncResult.of(result)
    // Reading the outcome now marks it observed: the coordinator is responsible for it.
    item.then(undefined, () => undefined)
    this.items.push(item as AsyncResult<unknown>)
    return item
  }

  /** How many results have been added. */
  get size(): number {
    return this.items.length
  }

  /**
   * Waits for every result added so far. Fulfils with their values in the order they were
   * added; if any failed, rejects — only after all have settled — with one `AggregateError`
   * whose `errors` are every failure, in the order added.
   */
  async waitAll(): Promise<unknown[]> {
    const outcomes = await this.settleAll()
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []))
    if (errors.length > 0) {
      const names = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.operation] : []))
      throw new AggregateError(
        errors,
        `${errors.length} of ${outcomes.length} operations failed: ${names.join(', ')}`,
      )
    }
    return outcomes.map((o) => (o.status === 'fulfilled' ? o.value : undefined))
  }

  /** Waits for every result added so far and returns each one's outcome, in order. */
  settleAll(): Promise<AsyncOutcome[]> {
    return Promise.all(
      this.items.map((item) =>
        item.then(
          (value): AsyncOutcome => ({ status: 'fulfilled', value, operation: item.operation }),
          (reason: unknown): AsyncOutcome => ({ status: 'rejected', reason, operation: item.operation }),
        ),
      ),
    )
  }

  /** Cancels every result that is still running. */
  cancelAll(reason?: unknown): void {
    for (const item of this.items) if (!item.completed) item.cancel(reason)
  }
}
