/**
 * The fan-out of the cross-shard helpers (`acrossShards()`): every shard's settlement, never a
 * rejection. Internal: not exported from the package.
 */
import { type Kysely } from 'kysely'
import { linkSignals } from '../core/abort'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { AsyncMetrics } from '../core/metrics'
import { type FanOutOptions, type ShardContext, type ShardSettlement } from './executor'
import { planFanOut } from './fan-out-plan'
import { type ShardManager } from './shard-manager'

/**
 * @internal The fan-out of the cross-shard helpers: runs `fn` (which honours its signal) on
 * every shard and resolves with each shard's settlement, in shard order; never rejects.
 *
 * Leaner than the fan-out of `ShardedAsyncExecutor`, because nobody else holds its per-shard
 * results: plain promises; one `AbortSignal` shared by the shards — the caller's, unless
 * `failFast` needs one it can abort (a shard with a `timeout` gets its own); no `withShard`
 * (`fn` is given the shard's Kysely). Each shard is still recorded in `AsyncMetrics` as
 * `<operation>@<shard>`.
 */
export function settleAcrossShards<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  fn: (context: ShardContext<DB>) => PromiseLike<T>,
  options: FanOutOptions,
): Promise<Array<ShardSettlement<T>>> {
  const plan = planFanOut(manager, shards, options, 'acrossShards')
  const { operation, timeout, limit } = plan
  const caller = options.signal
  // The shards share the caller's signal, unless failFast must be able to cancel them while
  // the caller's stays untouched: then one signal of their own, linked to it.
  const group = options.failFast || !caller ? new AbortController() : undefined
  const shared = group ? group.signal : (caller as AbortSignal)
  let onAbort: (() => void) | undefined
  if (group && caller?.aborted) group.abort(caller.reason)
  else if (group && caller)
    caller.addEventListener('abort', (onAbort = () => group.abort(caller.reason)), { once: true })
  let cancelReason: unknown
  const metrics = AsyncMetrics.default

  const settlements = plan.names.map((shard, i): Promise<ShardSettlement<T>> => {
    const db = plan.dbs[i] as Kysely<DB>
    const run = async (): Promise<T> => {
      let signal = shared
      signal.throwIfAborted()
      if (timeout === undefined) return await fn({ shard, db, signal })
      const own = linkSignals(signal)
      signal = own.signal
      const timer = setTimeout(
        () => own.abort(new AsyncTimeoutError(`${operation}@${shard}`, timeout)),
        timeout,
      )
      try {
        return await fn({ shard, db, signal })
      } finally {
        clearTimeout(timer)
        own.dispose()
      }
    }
    const counter = metrics.operation(`${operation}@${shard}`)
    const startedAt = counter.begin()
    return (limit ? limit(run) : run()).then(
      (value): ShardSettlement<T> => {
        counter.end(startedAt, false)
        return { shard, status: 'fulfilled', value }
      },
      (reason: unknown): ShardSettlement<T> => {
        counter.end(startedAt, true)
        const cancelled = cancelReason !== undefined && reason === cancelReason
        if (options.failFast && group && !group.signal.aborted) {
          cancelReason = new AsyncCancelledError(operation, `shard ${shard} failed`)
          group.abort(cancelReason)
        }
        return { shard, status: 'rejected', reason, cancelled }
      },
    )
  })
  const all = Promise.all(settlements)
  if (onAbort) {
    const listener = onAbort
    void all.then(() => caller?.removeEventListener('abort', listener))
  }
  return all
}
