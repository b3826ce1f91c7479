/**
 * `ShardedAsyncExecutor`: starts a function on many shards at once (bounded by a concurrency
 * limit, each with an optional timeout) and hands back one `AsyncResult` per shard.
 */
import type { Kysely } from 'kysely'
import { raceAbort } from '../core/abort'
import { AsyncResult } from '../core/async-result'
import { type SqlNumber } from '../model/coerce'
import { addSqlNumbers } from './merge'
import { ShardError, UnknownShardError, type ShardFailure } from './errors'
import { planFanOut, type FanOutOptions } from './fan-out-plan'
import { checkOptions, checks, type OptionSpec } from '../core/option-checks'
import { type CancelToken } from '../model/connection'
import { startFanOut, type ShardSettlement } from './fan-out'
import { openShardManagers, type ShardManager } from './shard-manager'

/**
 * What the function given to `executeAcrossShards` receives.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * ShardedAsyncExecutor.executeAcrossShards(['a', 'b'], ({ shard, db, signal }) =>
 *   db.selectFrom('users').select('id').execute(),
 * )
 * ```
 */
export interface ShardContext<DB = unknown> {
  /** The shard's name. */
  readonly shard: string
  /** The shard's Kysely. Model helpers started in the function already run on it. */
  readonly db: Kysely<DB>
  /** Aborts on timeout, on cancellation, on the caller's signal, or (with `failFast`) on another shard's failure. */
  readonly signal: AbortSignal
}

export type { FanOutOptions } from './fan-out-plan'

/**
 * Options of the static `ShardedAsyncExecutor.executeAcrossShards`.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * ShardedAsyncExecutor.executeAcrossShards(['a', 'b'], () => User.asyncCount(), { manager: shards })
 * ```
 */
export interface StaticFanOutOptions<DB> extends FanOutOptions {
  /**
   * The manager holding the shards. Defaults to the one open `ShardManager` that holds every
   * named shard (an error when none or several do).
   */
  manager?: ShardManager<DB>
}

export type { ShardSettlement } from './fan-out'

/**
 * The per-shard results of a fan-out, keyed by shard name (in the order given), with helpers
 * to wait for them together.
 *
 * @example
 * ```ts
 * import { ShardedAsyncExecutor } from 'tributary'
 * const perShard = ShardedAsyncExecutor.executeAcrossShards(['us', 'eu'], () => User.asyncCount())
 * await perShard.get('eu') // one shard's count
 * await perShard.sum() // all of them; a ShardError if any failed
 * ```
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

/** What a fan-out's options may hold (values checked again where the fan-out is planned). */
const FAN_OUT_OPTIONS: OptionSpec = {
  concurrency: checks.integer(1),
  timeout: checks.duration({ positive: true }),
  signal: checks.signal,
  failFast: checks.boolean,
  operation: checks.name,
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
  ) {
    checkOptions('new ShardedAsyncExecutor(manager, options)', defaults, FAN_OUT_OPTIONS)
  }

  /**
   * Starts `fn` on each of `shards` (every shard of the manager when omitted), at most
   * `concurrency` at a time, and returns their results at once, keyed by shard name.
   */
  executeAcrossShards<T>(
    shards: readonly string[] | undefined,
    fn: (context: ShardContext<DB>) => T | PromiseLike<T>,
    options: FanOutOptions = {},
  ): ShardResults<T> {
    checkOptions('executeAcrossShards(shards, fn, options)', options, FAN_OUT_OPTIONS)
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
    checkOptions('ShardedAsyncExecutor.executeAcrossShards(shards, fn, options)', options, {
      ...FAN_OUT_OPTIONS,
      manager: checks.object,
    })
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
 * Starts the fan-out on the one engine; see {@link ShardedAsyncExecutor.executeAcrossShards}.
 * Each shard's result has one `AbortSignal`, its own, which a timeout, the caller's signal,
 * `failFast` and `cancel()` abort (creating signals costs microseconds on Node 20, so there are
 * no others); `fn` runs in `withShard` and is raced against that signal, since it may ignore it.
 */
function fanOut<T, DB>(
  manager: ShardManager<DB>,
  shards: readonly string[] | undefined,
  fn: (context: ShardContext<DB>) => T | PromiseLike<T>,
  options: FanOutOptions,
): ShardResults<T> {
  const plan = planFanOut(manager, shards, options, 'executeAcrossShards')
  const results = plan.names.map((shard) =>
    AsyncResult.deferred<T>({ operation: `${plan.operation}@${shard}` }),
  )
  const started = startFanOut(
    plan,
    ({ index, shard, db }) => {
      const signal = (results[index] as AsyncResult<T>).signal
      signal.throwIfAborted()
      const work = new Promise<T>((resolve) =>
        resolve(manager.withShard(shard, () => fn({ shard, db, signal }))),
      )
      return raceAbort(work, signal)
    },
    { ...options, separately: true, record: false },
  )
  const entries = started.runs.map((run, i): readonly [string, AsyncResult<T>] => {
    const result = results[i] as AsyncResult<T>
    const token = run.token as CancelToken
    // Either side cancels the other: `result.cancel()` stops the shard; a timeout, failFast or
    // the caller's signal (through the shard's token) aborts the signal `fn` was given.
    if (token.aborted) result.cancel(token.reason)
    else {
      token.listen(() => result.cancel(token.reason))
      result.signal.addEventListener('abort', () => token.cancel(result.signal.reason), { once: true })
    }
    void run.settlement.then((s) =>
      AsyncResult.settle(result, s.status === 'fulfilled', s.status === 'fulfilled' ? s.value : s.reason),
    )
    return [run.shard, result]
  })
  return new ShardResults<T>(entries, plan.operation, () => started.failFastReason)
}
