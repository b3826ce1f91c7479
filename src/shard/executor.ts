/**
 * `ShardedAsyncExecutor`: starts a function on many shards at once (bounded by a concurrency
 * limit, each with an optional timeout) and hands back one `AsyncResult` per shard.
 */
import { type Kysely } from 'kysely'
import pLimit from 'p-limit'
import { linkSignals, raceAbort } from '../core/abort'
import { AsyncResult } from '../core/async-result'
import { AsyncMetrics } from '../core/metrics'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { type SqlNumber } from '../model/coerce'
import { addSqlNumbers } from './merge'
import { ShardError, UnknownShardError, type ShardFailure } from './errors'
import { openShardManagers, type ShardManager } from './shard-manager'

/** What the function given to `executeAcrossShards` receives. */
export interface ShardContext<DB = unknown> {
  /** The shard's name. */
  readonly shard: string
  /** The shard's Kysely. Model helpers started in the function already run on it. */
  readonly db: Kysely<DB>
  /** Aborts on timeout, on cancellation, on the caller's signal, or (with `failFast`) on another shard's failure. */
  readonly signal: AbortSignal
}

/** Options of a fan-out. */
export interface FanOutOptions {
  /** How many shards run at once. Defaults to the manager's `concurrency`. */
  concurrency?: number
  /**
   * Milliseconds each shard may take once started (queued time is not counted); past it the
   * shard's signal aborts and its result rejects with an `AsyncTimeoutError`. Defaults to none.
   */
  timeout?: number
  /** Cancels every shard still running or queued. */
  signal?: AbortSignal
  /**
   * Whether the first failure cancels the shards still running or queued. Defaults to `false`
   * (every shard runs to its end).
   */
  failFast?: boolean
  /** The name recorded in metrics and errors. Defaults to `'executeAcrossShards'`. */
  operation?: string
}

/** Options of the static `ShardedAsyncExecutor.executeAcrossShards`. */
export interface StaticFanOutOptions<DB> extends FanOutOptions {
  /**
   * The manager holding the shards. Defaults to the one open `ShardManager` that holds every
   * named shard (an error when none or several do).
   */
  manager?: ShardManager<DB>
}

/** How one shard's work ended. */
export type ShardSettlement<T> =
  | { readonly shard: string; readonly status: 'fulfilled'; readonly value: T }
  | {
      readonly shard: string
      readonly status: 'rejected'
      readonly reason: unknown
      readonly cancelled: boolean
    }

/**
 * The per-shard results of a fan-out, keyed by shard name (in the order given), with helpers
 * to wait for them together.
 */
export class ShardResults<T> extends Map<string, AsyncResult<T>> {
  /** @internal */
  constructor(
    entries: Iterable<readonly [string, AsyncResult<T>]>,
    /** The operation name used in a `ShardError`. */
    readonly operation: string,
    private readonly cancelledBy: () => unknown,
  ) {
    super(entries)
  }

  /** Waits for every shard; never rejects. */
  async settle(): Promise<Map<string, ShardSettlement<T>>> {
    const out = new Map<string, ShardSettlement<T>>()
    const reason = (): unknown => this.cancelledBy()
    await Promise.all(
      [...this.entries()].map(([shard, result]) =>
        result.then(
          (value) => void out.set(shard, { shard, status: 'fulfilled', value }),
          (error: unknown) =>
            void out.set(shard, {
              shard,
              status: 'rejected',
              reason: error,
              cancelled: error !== undefined && error === reason(),
            }),
        ),
      ),
    )
    // Keep the order the shards were given.
    return new Map([...this.keys()].map((shard) => [shard, out.get(shard) as ShardSettlement<T>]))
  }

  /**
   * Every shard's value by shard name. Rejects, after every shard has settled, with a
   * {@link ShardError} listing each failed shard and its cause.
   */
  async collect(): Promise<Map<string, T>> {
    const settled = await this.settle()
    const values = new Map<string, T>()
    const failures: ShardFailure[] = []
    const cancelled: string[] = []
    for (const s of settled.values()) {
      if (s.status === 'fulfilled') values.set(s.shard, s.value)
      else if (s.cancelled) cancelled.push(s.shard)
      else failures.push({ shard: s.shard, cause: s.reason })
    }
    if (failures.length > 0 || cancelled.length > 0) {
      throw new ShardError(this.operation, failures, cancelled, values)
    }
    return values
  }

  /** The sum of every shard's number (bigint-safe); rejects like {@link collect}. */
  async sum(this: ShardResults<SqlNumber>): Promise<SqlNumber> {
    let total: SqlNumber = 0
    for (const value of (await this.collect()).values()) total = addSqlNumbers(total, value)
    return total
  }

  /** Every shard's array concatenated, in shard order; rejects like {@link collect}. */
  async concat<E>(this: ShardResults<readonly E[]>): Promise<E[]> {
    const out: E[] = []
    for (const value of (await this.collect()).values()) out.push(...value)
    return out
  }

  /** Cancels every shard still running or queued. */
  cancel(reason?: unknown): void {
    for (const result of this.values()) result.cancel(reason)
  }
}

/**
 * Runs a function on many shards at once. Each shard's call runs inside
 * `manager.withShard(shard, …)`, so model helpers in it use that shard.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * const perShard = ShardedAsyncExecutor.executeAcrossShards(['us_east', 'us_west', 'eu'], () =>
 *   User.where({ active: true }).asyncCount(),
 * ) // Map<shard, AsyncResult<number>>
 * console.log(await perShard.get('eu'), await perShard.sum())
 * ```
 */
export class ShardedAsyncExecutor<DB = unknown> {
  constructor(
    /** The manager whose shards this executor runs on. */
    readonly manager: ShardManager<DB>,
    private readonly defaults: FanOutOptions = {},
  ) {}

  /**
   * Starts `fn` on each of `shards` (every shard of the manager when omitted), at most
   * `concurrency` at a time, and returns their results at once, keyed by shard name.
   */
  executeAcrossShards<T>(
    shards: readonly string[] | undefined,
    fn: (context: ShardContext<DB>) => T | PromiseLike<T>,
    options: FanOutOptions = {},
  ): ShardResults<T> {
    return fanOut(this.manager, shards, fn, { ...this.defaults, ...options })
  }

  /**
   * {@link ShardedAsyncExecutor.executeAcrossShards} on the open `ShardManager` holding every
   * named shard (or `options.manager`).
   */
  static executeAcrossShards<T, DB = unknown>(
    shards: readonly string[],
    fn: (context: ShardContext<DB>) => T | PromiseLike<T>,
    options: StaticFanOutOptions<DB> = {},
  ): ShardResults<T> {
    const manager = options.manager ?? findManager<DB>(shards)
    return fanOut(manager, shards, fn, options)
  }
}

function findManager<DB>(shards: readonly string[]): ShardManager<DB> {
  const candidates = [...openShardManagers()].filter((m) => shards.every((s) => m.has(s)))
  if (candidates.length === 1) return candidates[0] as ShardManager<DB>
  if (candidates.length === 0) {
    const known = [...openShardManagers()].flatMap((m) => m.names)
    const missing = shards.find((s) => !known.includes(s)) ?? shards[0] ?? '(no shard named)'
    throw new UnknownShardError(missing, known)
  }
  throw new RangeError(
    `executeAcrossShards: ${candidates.length} open ShardManagers hold ${shards.join(', ')}; pass { manager }`,
  )
}

/**
 * Starts the fan-out; see {@link ShardedAsyncExecutor.executeAcrossShards}. Each shard's result
 * has one `AbortSignal`, its own, which a timeout, the caller's signal, `failFast` and
 * `cancel()` abort (creating signals costs microseconds on Node 20, so there are no others).
 */
export function fanOut<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  fn: (context: ShardContext<DB>) => T | PromiseLike<T>,
  options: FanOutOptions,
): ShardResults<T> {
  const plan = planFanOut(manager, shards, options, 'executeAcrossShards')
  const { operation, timeout, limit } = plan
  const caller = options.signal
  let cancelReason: unknown
  const results: Array<readonly [string, AsyncResult<T>]> = []
  const cancelAll = (reason: unknown): void => {
    for (const [, result] of results) result.cancel(reason)
  }
  plan.names.forEach((shard, i) => {
    const db = plan.dbs[i] as Kysely<DB>
    const self: { result?: AsyncResult<T> } = {}
    const run = async (signal: AbortSignal): Promise<T> => {
      signal.throwIfAborted()
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(
              () => self.result?.cancel(new AsyncTimeoutError(`${operation}@${shard}`, timeout)),
              timeout,
            )
      try {
        const context = { shard, db, signal }
        const work = new Promise<T>((resolve) => resolve(manager.withShard(shard, () => fn(context))))
        return await raceAbort(work, signal)
      } finally {
        if (timer) clearTimeout(timer)
      }
    }
    const result = AsyncResult.from((signal) => (limit ? limit(() => run(signal)) : run(signal)), {
      operation: `${operation}@${shard}`,
    })
    self.result = result
    if (options.failFast) {
      result.then(undefined, (error: unknown) => {
        if (cancelReason !== undefined || (caller?.aborted && error === caller.reason)) return
        cancelReason = new AsyncCancelledError(operation, `shard ${shard} failed`)
        cancelAll(cancelReason)
      })
    }
    results.push([shard, result])
  })
  if (caller) {
    if (caller.aborted) cancelAll(caller.reason)
    else {
      const onAbort = (): void => cancelAll(caller.reason)
      caller.addEventListener('abort', onAbort, { once: true })
      let pending = results.length
      const done = (): void => {
        if (--pending === 0) caller.removeEventListener('abort', onAbort)
      }
      for (const [, result] of results) result.then(done, done)
    }
  }
  return new ShardResults<T>(results, operation, () => cancelReason)
}

/**
 * @internal The fan-out of the cross-shard helpers: runs `fn` (which honours its signal) on
 * every shard and resolves with each shard's settlement, in shard order; never rejects.
 *
 * Leaner than {@link fanOut}, because nobody else holds its per-shard results: plain promises,
 * one `AbortSignal` shared by the shards (a shard with a `timeout` gets its own), no
 * `withShard` (`fn` is given the shard's Kysely). Each shard is still recorded in
 * `AsyncMetrics` as `<operation>@<shard>`.
 */
export function settleAcrossShards<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  fn: (context: ShardContext<DB>) => PromiseLike<T>,
  options: FanOutOptions,
): Promise<Array<ShardSettlement<T>>> {
  const plan = planFanOut(manager, shards, options, 'acrossShards')
  const { operation, timeout, limit } = plan
  const group = new AbortController()
  const caller = options.signal
  let onAbort: (() => void) | undefined
  if (caller?.aborted) group.abort(caller.reason)
  else if (caller)
    caller.addEventListener('abort', (onAbort = () => group.abort(caller.reason)), { once: true })
  let cancelReason: unknown
  const metrics = AsyncMetrics.default

  const settlements = plan.names.map((shard, i): Promise<ShardSettlement<T>> => {
    const db = plan.dbs[i] as Kysely<DB>
    const run = async (): Promise<T> => {
      let signal = group.signal
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
        if (options.failFast && !group.signal.aborted) {
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

interface FanOutPlan<DB> {
  readonly names: readonly string[]
  readonly dbs: ReadonlyArray<Kysely<DB>>
  readonly operation: string
  readonly timeout: number | undefined
  readonly limit: ReturnType<typeof pLimit> | undefined
}

/** Checks the options of a fan-out and resolves its shards. */
function planFanOut<DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  options: FanOutOptions,
  defaultOperation: string,
): FanOutPlan<DB> {
  const names = shards ?? manager.names
  const dbs = names.map((name) => manager.database(name))
  const operation = options.operation ?? defaultOperation
  const concurrency = options.concurrency ?? manager.concurrency
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`${operation}: concurrency must be a positive integer, got ${concurrency}`)
  }
  const timeout = options.timeout
  if (timeout !== undefined && !(timeout > 0)) {
    throw new RangeError(`${operation}: timeout must be a positive number of ms, got ${timeout}`)
  }
  // No limiter when every shard may run at once: it would only add work.
  const limit = concurrency < names.length ? pLimit(concurrency) : undefined
  return { names, dbs, operation, timeout, limit }
}
