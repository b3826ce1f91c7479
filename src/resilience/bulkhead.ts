/**
 * Bulkhead: at most `limit` calls run at once, at most `queue` wait; the rest are refused.
 * Built on cockatiel's `BulkheadPolicy`.
 */
import { bulkhead, isBulkheadRejectedError } from 'cockatiel'
import { abortError, raceAbort } from '../core/abort'
import { BulkheadRejectedError } from './errors'
import type { PolicyWork, ResiliencePolicy } from './policy'
import { checkOptions, checks } from '../core/option-checks'

/** Options for {@link bulkheadPolicy}. */
export interface BulkheadOptions {
  /** Calls allowed to run at once. */
  limit: number
  /** Calls allowed to wait for a slot. Defaults to 0 (refuse at once when full). */
  queue?: number
}

const BULKHEAD_OPTIONS = { limit: checks.integer(1), queue: checks.integer(0) }

/** A bulkhead that can be inspected. */
export interface Bulkhead extends ResiliencePolicy {
  /** Free running slots now. */
  readonly executionSlots: number
  /** Free queue slots now. */
  readonly queueSlots: number
}

/**
 * Creates a bulkhead. A call that finds every slot and the queue full rejects at once with a
 * {@link BulkheadRejectedError}; a queued call whose signal aborts stops waiting at once and
 * its work never runs.
 *
 * @example
 * ```ts
 * import { bulkheadPolicy } from 'tributary'
 * const limit = bulkheadPolicy({ limit: 10, queue: 100 }, 'vault')
 * await limit.execute(() => vault.read('secret/data/app'))
 * ```
 */
export function bulkheadPolicy(input: number | BulkheadOptions, operation = 'operation'): Bulkhead {
  const options = typeof input === 'number' ? { limit: input } : input
  checkOptions('bulkheadPolicy(options)', options ?? null, BULKHEAD_OPTIONS)
  if (options.limit === undefined) throw new TypeError('bulkheadPolicy(options): option limit is required')
  const limit = options.limit
  const queue = options.queue ?? 0
  const inner = bulkhead(limit, queue)
  return {
    get executionSlots() {
      return inner.executionSlots
    },
    get queueSlots() {
      return inner.queueSlots
    },
    async execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      try {
        return await raceAbort(
          inner.execute((context) => work({ signal: context.signal, attempt: 0 }), signal),
          signal,
        )
      } catch (error) {
        if (signal?.aborted) throw abortError(signal, operation)
        if (isBulkheadRejectedError(error)) throw new BulkheadRejectedError(operation, limit, queue)
        throw error
      }
    },
  }
}
