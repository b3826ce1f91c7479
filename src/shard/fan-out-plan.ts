/**
 * The checked shape of a fan-out: its shards, operation name, per-shard timeout and limiter.
 * Shared by `ShardedAsyncExecutor` and the cross-shard helpers.
 */
import type { Kysely } from 'kysely'
import pLimit from 'p-limit'
import { checks, durationProblem } from '../core/option-checks'
import { type ShardManager } from './shard-manager'

/**
 * Options of a fan-out.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * new ShardedAsyncExecutor(shards).executeAcrossShards(undefined, () => User.asyncCount(), {
 *   concurrency: 2,
 *   timeout: 1_000,
 *   failFast: true,
 * })
 * ```
 */
export interface FanOutOptions {
  /** How many shards run at once. Defaults to the manager's `concurrency`. */
  concurrency?: number
  /**
   * Milliseconds each shard may take once started (queued time is not counted); past it the
   * shard's signal aborts and its result rejects with an `AsyncTimeoutError`. Defaults to none.
   */
  timeout?: number
  /** Cancels every shard still running or queued. Defaults to none. */
  signal?: AbortSignal
  /**
   * Whether the first failure cancels the shards still running or queued. Defaults to `false`
   * (every shard runs to its end).
   */
  failFast?: boolean
  /** The name recorded in metrics and errors. Defaults to `'executeAcrossShards'`. */
  operation?: string
}

/** @internal */
export interface FanOutPlan<DB> {
  readonly names: readonly string[]
  readonly dbs: ReadonlyArray<Kysely<DB>>
  readonly operation: string
  readonly timeout: number | undefined
  readonly limit: ReturnType<typeof pLimit> | undefined
}

/** @internal Checks the options of a fan-out and resolves its shards. */
export function planFanOut<DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  options: FanOutOptions,
  defaultOperation: string,
): FanOutPlan<DB> {
  const names = shards ?? manager.names
  const dbs = names.map((name) => manager.database(name))
  const operation = options.operation ?? defaultOperation
  const concurrency = options.concurrency ?? manager.concurrency
  const problem = checks.integer(1)(concurrency)
  if (problem !== undefined) throw new RangeError(`${operation}: option "concurrency" ${problem}`)
  const timeoutProblem = durationProblem(options.timeout, { positive: true })
  if (timeoutProblem !== undefined) throw new RangeError(`${operation}: option "timeout" ${timeoutProblem}`)
  // Infinity: no timeout.
  const timeout = options.timeout === Infinity ? undefined : options.timeout
  // No limiter when every shard may run at once: it would only add work.
  const limit = concurrency < names.length ? pLimit(concurrency) : undefined
  return { names, dbs, operation, timeout, limit }
}
