/**
 * The fan-out of the cross-shard helpers (`acrossShards()`): every shard's settlement, never a
 * rejection. Internal: not exported from the package.
 */
import type { Kysely } from 'kysely'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { AsyncMetrics } from '../core/metrics'
import { CancelToken, fromSignal, type Cancellation } from '../model/connection'
import { type FanOutOptions, type ShardSettlement } from './executor'
import { planFanOut } from './fan-out-plan'
import { setLongTimeout } from '../core/timers'
import { traceFanOut } from './fan-out-trace'
import { activeTracer, endSpan, withSpan } from '../core/telemetry'
import { type ShardManager } from './shard-manager'

/** @internal What each shard's work is given. */
export interface SettleContext<DB> {
  readonly shard: string
  readonly db: Kysely<DB>
  /** Cancels this shard's query (the caller's, a failFast group's, or its own timeout). */
  readonly cancellation: Cancellation | undefined
}

/** A cancellation that follows `parent` and can also be set off on its own. */
function child(parent: Cancellation | undefined): { token: CancelToken; dispose: () => void } {
  const token = new CancelToken()
  if (parent?.aborted) token.cancel(parent.reason)
  const dispose =
    parent && !parent.aborted ? parent.listen(() => token.cancel(parent.reason)) : () => undefined
  return { token, dispose }
}

/**
 * @internal The fan-out of the cross-shard helpers: runs `fn` (which honours its
 * cancellation) on every shard and resolves with each shard's settlement, in shard order;
 * never rejects.
 *
 * Leaner than the fan-out of `ShardedAsyncExecutor`, because nobody else holds its per-shard
 * results: plain promises; one cancellation shared by the shards — the caller's (a
 * `CancelToken` or its signal), unless `failFast` needs one it can set off (a shard with a
 * `timeout` gets its own) — and no `AbortController` at all unless the caller gave a signal;
 * no `withShard` (`fn` is given the shard's Kysely). Each shard is still recorded in
 * `AsyncMetrics` as `<operation>@<shard>`.
 */
export function settleAcrossShards<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  fn: (context: SettleContext<DB>) => PromiseLike<T>,
  options: FanOutOptions & { readonly cancellation?: Cancellation },
): Promise<Array<ShardSettlement<T>>> {
  const plan = planFanOut(manager, shards, options, 'acrossShards')
  const { operation, timeout, limit } = plan
  const caller = options.cancellation ?? (options.signal ? fromSignal(options.signal) : undefined)
  // The shards share the caller's cancellation, unless failFast must be able to cancel them
  // while the caller's stays untouched: then one of their own, following it.
  const group = options.failFast ? child(caller) : undefined
  const shared = group ? group.token : caller
  let cancelReason: unknown
  const metrics = AsyncMetrics.default
  const tracer = activeTracer()
  const trace = tracer === undefined ? undefined : traceFanOut(tracer, operation, plan.names)

  const settlements = plan.names.map((shard, i): Promise<ShardSettlement<T>> => {
    const db = plan.dbs[i] as Kysely<DB>
    const work = (cancellation: Cancellation | undefined): PromiseLike<T> => {
      const span = trace?.shard(shard, db)
      if (span === undefined) return fn({ shard, db, cancellation })
      return new Promise<T>((resolve) => resolve(withSpan(span, () => fn({ shard, db, cancellation })))).then(
        (value) => {
          endSpan(span)
          return value
        },
        (error: unknown) => {
          endSpan(span, error)
          throw error
        },
      )
    }
    const run = async (): Promise<T> => {
      if (shared?.aborted) throw shared.reason
      if (timeout === undefined) return await work(shared)
      const own = child(shared)
      const timer = setLongTimeout(
        () => own.token.cancel(new AsyncTimeoutError(`${operation}@${shard}`, timeout)),
        timeout,
      )
      try {
        return await work(own.token)
      } finally {
        timer.clear()
        own.dispose()
      }
    }
    const counter = metrics.operation(`${operation}@${shard}`)
    const startedAt = counter.begin()
    const started = limit ? limit(run) : run()
    return (trace === undefined ? started : trace.settles(started)).then(
      (value): ShardSettlement<T> => {
        counter.end(startedAt, false)
        return { shard, status: 'fulfilled', value }
      },
      (reason: unknown): ShardSettlement<T> => {
        counter.end(startedAt, true)
        const cancelled = cancelReason !== undefined && reason === cancelReason
        if (options.failFast && group && !group.token.aborted) {
          cancelReason = new AsyncCancelledError(operation, `shard ${shard} failed`)
          group.token.cancel(cancelReason)
        }
        return { shard, status: 'rejected', reason, cancelled }
      },
    )
  })
  trace?.started()
  const all = Promise.all(settlements)
  if (group) void all.then(group.dispose)
  return all
}
