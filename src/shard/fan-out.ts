/**
 * The one fan-out engine: runs work on every shard of a plan — at most its concurrency at a
 * time, each shard with its timeout — and settles every shard, never rejecting. `failFast`
 * cancels the shards still running or queued after the first failure, the caller's cancellation
 * reaches them all, and each shard is traced and recorded in metrics as `<operation>@<shard>`.
 * `ShardedAsyncExecutor` (one `AsyncResult` per shard) and the cross-shard helpers (every
 * shard's settlement, merged) both stand on it. Internal: not exported from the package.
 */
import type { Kysely } from 'kysely'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { AsyncMetrics } from '../core/metrics'
import { activeTracer, endSpan, withSpan } from '../core/telemetry'
import { setLongTimeout } from '../core/timers'
import { CancelToken, fromSignal, type Cancellation } from '../model/connection'
import { planFanOut, type FanOutOptions, type FanOutPlan } from './fan-out-plan'
import { traceFanOut } from './fan-out-trace'
import { type ShardManager } from './shard-manager'

/**
 * How one shard's work ended.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * const settled = await ShardedAsyncExecutor.executeAcrossShards(['a', 'b'], () => User.asyncCount()).settle()
 * for (const s of settled.values()) console.log(s.shard, s.status === 'fulfilled' ? s.value : s.reason)
 * ```
 */
export type ShardSettlement<T> =
  | { readonly shard: string; readonly status: 'fulfilled'; readonly value: T }
  | {
      readonly shard: string
      readonly status: 'rejected'
      readonly reason: unknown
      /** Whether it failed because `failFast` cancelled it after another shard's failure. */
      readonly cancelled: boolean
    }

/** @internal What each shard's work is given. */
export interface ShardWork<DB> {
  /** The shard's place in the plan. */
  readonly index: number
  readonly shard: string
  readonly db: Kysely<DB>
  /** Cancels this shard's work: the caller, a failFast group, its own timeout, or {@link ShardRun.cancel}. */
  readonly cancellation: Cancellation | undefined
}

/** @internal How the engine runs a fan-out, beside the user's {@link FanOutOptions}. */
export interface EngineOptions extends FanOutOptions {
  /** The caller's cancellation (a `CancelToken`); else `signal`'s, if any. */
  readonly cancellation?: Cancellation
  /**
   * Whether every shard gets a cancellation of its own, so that {@link ShardRun.cancel} stops
   * one shard alone. Defaults to `false`: the shards share the caller's (one of their own only
   * where a timeout needs it), and no cancellation exists at all when the caller gave none.
   */
  readonly separately?: boolean
  /** Whether each shard is recorded in `AsyncMetrics`. Defaults to `true`; off where an `AsyncResult` records it. */
  readonly record?: boolean
}

/** @internal One shard of a started fan-out. */
export interface ShardRun<T> {
  readonly shard: string
  /** How it ended; never rejects. */
  readonly settlement: Promise<ShardSettlement<T>>
  /** The shard's own cancellation (with `separately`): cancel it to stop this shard alone. */
  readonly token: CancelToken | undefined
}

/** @internal A started fan-out. */
export interface FanOut<T> {
  /** One per shard, in shard order. */
  readonly runs: ReadonlyArray<ShardRun<T>>
  /** The reason `failFast` cancelled the others with, once a shard has failed. */
  readonly failFastReason: unknown
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
 * @internal Starts `work` on every shard of `plan` and returns one {@link ShardRun} per shard,
 * in shard order. `work` should honour its
 * cancellation; the engine does not race it (the executor does, for functions that ignore
 * their signal).
 */
export function startFanOut<T, DB>(
  plan: FanOutPlan<DB>,
  work: (context: ShardWork<DB>) => T | PromiseLike<T>,
  options: EngineOptions,
): FanOut<T> {
  const { operation, timeout, limit } = plan
  const caller = options.cancellation ?? (options.signal ? fromSignal(options.signal) : undefined)
  // The shards share the caller's cancellation, unless failFast must be able to cancel them
  // while the caller's stays untouched: then one of their own, following it.
  const group = options.failFast ? child(caller) : undefined
  const shared = group ? group.token : caller
  let failFastReason: unknown
  const metrics = options.record === false ? undefined : AsyncMetrics.default
  const tracer = activeTracer()
  const trace = tracer === undefined ? undefined : traceFanOut(tracer, operation, plan.names)

  const runs = plan.names.map((shard, i): ShardRun<T> => {
    const db = plan.dbs[i] as Kysely<DB>
    const own = options.separately ? child(shared) : undefined
    const cancellation = own ? own.token : shared
    const call = (current: Cancellation | undefined): Promise<T> => {
      const span = trace?.shard(shard, db)
      const context: ShardWork<DB> = { index: i, shard, db, cancellation: current }
      if (span === undefined) return new Promise<T>((resolve) => resolve(work(context)))
      return new Promise<T>((resolve) => resolve(withSpan(span, () => work(context)))).then(
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
      if (cancellation?.aborted) throw cancellation.reason
      if (timeout === undefined) return await call(cancellation)
      // The timer cancels the shard's own cancellation (one is made here if it has none yet).
      const timed = own ?? child(shared)
      const timer = setLongTimeout(
        () => timed.token.cancel(new AsyncTimeoutError(`${operation}@${shard}`, timeout)),
        timeout,
      )
      try {
        return await call(timed.token)
      } finally {
        timer.clear()
        if (timed !== own) timed.dispose()
      }
    }
    const counter = metrics?.operation(`${operation}@${shard}`)
    const startedAt = counter?.begin() ?? 0
    const started = limit ? limit(run) : run()
    const settlement = (trace === undefined ? started : trace.settles(started)).then(
      (value): ShardSettlement<T> => {
        counter?.end(startedAt, false)
        own?.dispose()
        return { shard, status: 'fulfilled', value }
      },
      (reason: unknown): ShardSettlement<T> => {
        counter?.end(startedAt, true)
        own?.dispose()
        const cancelled = failFastReason !== undefined && reason === failFastReason
        if (group && !group.token.aborted) {
          failFastReason = new AsyncCancelledError(operation, `shard ${shard} failed`)
          group.token.cancel(failFastReason)
        }
        return { shard, status: 'rejected', reason, cancelled }
      },
    )
    return { shard, settlement, token: own?.token }
  })
  trace?.started()
  if (group) void Promise.all(runs.map((r) => r.settlement)).then(group.dispose)
  return {
    runs,
    get failFastReason() {
      return failFastReason
    },
  }
}

/**
 * @internal The fan-out of the cross-shard helpers: `work` on every shard, resolving with each
 * shard's settlement in shard order; never rejects. Plain promises, a shared cancellation and
 * no `AbortController` unless the caller gave a signal: nobody else holds its per-shard results.
 */
export function settleAcrossShards<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  work: (context: ShardWork<DB>) => T | PromiseLike<T>,
  options: EngineOptions,
): Promise<Array<ShardSettlement<T>>> {
  return Promise.all(
    startFanOut(planFanOut(manager, shards, options, 'acrossShards'), work, options).runs.map(
      (run) => run.settlement,
    ),
  )
}
