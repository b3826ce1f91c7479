/**
 * Errors of the shard layer: failed fan-outs, unknown shard names, keys no resolver can route,
 * and merges that would exceed their memory bound.
 */
import { describeCause, hasErrorKind, TributaryError } from '../core/errors'
import { InvalidQueryError } from '../model/errors'

/**
 * One shard that failed during a fan-out, and why.
 *
 * @example
 * ```ts
 * import { isShardError } from 'tributary'
 * try { await User.acrossShards().asyncCount() } catch (e) {
 *   if (isShardError(e)) for (const { shard, cause } of e.failures) console.error(shard, cause)
 * }
 * ```
 */
export interface ShardFailure {
  /** The shard's name. */
  readonly shard: string
  /** What it failed with (an `AsyncTimeoutError` when its `timeout` passed). */
  readonly cause: unknown
}

/**
 * A fan-out failed on one or more shards (`onShardError: 'fail'`, the default). Thrown only
 * after every other shard has settled or been cancelled. `failures` lists every failed shard
 * and its cause; `cancelled` names the shards stopped because of them; `completed` holds the
 * per-shard answers that did arrive (for writes: their row counts, which are not rolled back).
 *
 * @example
 * ```ts
 * import { isShardError } from 'tributary'
 * try {
 *   await User.acrossShards().asyncCount()
 * } catch (e) {
 *   if (isShardError(e)) for (const f of e.failures) console.error(f.shard, f.cause)
 * }
 * ```
 */
export class ShardError extends TributaryError {
  static override readonly kind: string = 'ShardError'

  constructor(
    /** What ran, e.g. `User.acrossShards.asyncCount`. */
    readonly operation: string,
    /** Every failed shard and its cause, in the order the shards were given. */
    readonly failures: readonly ShardFailure[],
    /** Shards cancelled after the first failure (their work was stopped, not failed). */
    readonly cancelled: readonly string[] = [],
    /** The answers of the shards that succeeded, by shard name. */
    readonly completed: ReadonlyMap<string, unknown> = new Map(),
  ) {
    super(
      `${operation} failed on ${failures.length} shard${failures.length === 1 ? '' : 's'}: ` +
        failures.map((f) => `${f.shard} (${describeCause(f.cause)})`).join(', ') +
        (cancelled.length > 0 ? `; cancelled: ${cancelled.join(', ')}` : ''),
      { cause: failures[0]?.cause },
    )
  }

  /** The names of the failed shards. */
  get failedShards(): string[] {
    return this.failures.map((f) => f.shard)
  }
}

/**
 * True when `error` is a {@link ShardError}.
 *
 * @example
 * ```ts
 * import { isShardError } from 'tributary'
 * const error = await User.acrossShards().asyncCount().catch((e: unknown) => e)
 * if (isShardError(error)) console.log(error.failedShards)
 * ```
 */
export function isShardError(error: unknown): error is ShardError {
  return hasErrorKind(error, 'ShardError')
}

/**
 * A shard name that the `ShardManager` does not hold; the message lists the known ones.
 *
 * @example
 * ```ts
 * import { isUnknownShardError } from 'tributary'
 * try { shards.withShard('mars', () => User.asyncCount()) } catch (e) {
 *   if (isUnknownShardError(e)) console.log(e.known) // ['us_east', 'us_west', 'eu']
 * }
 * ```
 */
export class UnknownShardError extends TributaryError {
  static override readonly kind: string = 'UnknownShardError'

  constructor(
    /** The name asked for. */
    readonly shard: string,
    /** The names the manager holds. */
    readonly known: readonly string[],
  ) {
    super(`unknown shard ${JSON.stringify(shard)}; known shards: ${known.join(', ') || '(none)'}`)
  }
}

/**
 * True when `error` is an {@link UnknownShardError}.
 *
 * @example
 * ```ts
 * import { isUnknownShardError } from 'tributary'
 * try { shards.database('mars') } catch (e) { if (isUnknownShardError(e)) console.log(e.shard) }
 * ```
 */
export function isUnknownShardError(error: unknown): error is UnknownShardError {
  return hasErrorKind(error, 'UnknownShardError')
}

/**
 * A shard resolver could not route a key (outside every range, or missing from the directory).
 *
 * @example
 * ```ts
 * import { isShardRoutingError, rangeShardResolver } from 'tributary'
 * try { rangeShardResolver([{ shard: 'a', to: 10 }]).resolve(42) } catch (e) {
 *   if (isShardRoutingError(e)) console.log(e.key) // 42
 * }
 * ```
 */
export class ShardRoutingError extends TributaryError {
  static override readonly kind: string = 'ShardRoutingError'

  constructor(
    /** The resolver, e.g. `rangeShardResolver` or `AsyncShardResolver(shard_directory)`. */
    readonly resolver: string,
    /** The key that could not be routed. */
    readonly key: unknown,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${resolver} cannot route key ${String(key)}: ${reason}`, options)
  }
}

/**
 * True when `error` is a {@link ShardRoutingError}.
 *
 * @example
 * ```ts
 * import { isShardRoutingError } from 'tributary'
 * const error = await directory.resolveAsync('unknown-tenant').catch((e: unknown) => e)
 * if (isShardRoutingError(error)) console.log(error.resolver)
 * ```
 */
export function isShardRoutingError(error: unknown): error is ShardRoutingError {
  return hasErrorKind(error, 'ShardRoutingError')
}

/**
 * A merge needed more memory than its bound allows (e.g. `countDistinct` past `maxDistinct`).
 *
 * @example
 * ```ts
 * import { isShardMergeLimitError } from 'tributary'
 * const n = await User.acrossShards({ maxDistinct: 10_000 }).asyncCountDistinct('email').catch((e: unknown) => e)
 * if (isShardMergeLimitError(n)) console.log(n.limit) // 10000
 * ```
 */
export class ShardMergeLimitError extends TributaryError {
  static override readonly kind: string = 'ShardMergeLimitError'

  constructor(
    /** What was merging, e.g. `User.acrossShards.asyncCountDistinct`. */
    readonly operation: string,
    /** The bound that was exceeded. */
    readonly limit: number,
    what: string,
  ) {
    super(`${operation}: more than ${limit} ${what}; raise the bound or narrow the query`)
  }
}

/**
 * True when `error` is a {@link ShardMergeLimitError}.
 *
 * @example
 * ```ts
 * import { isShardMergeLimitError } from 'tributary'
 * const n = await User.acrossShards().asyncCountDistinct('email').catch((e: unknown) => e)
 * if (isShardMergeLimitError(n)) console.log('too many distinct values to merge')
 * ```
 */
export function isShardMergeLimitError(error: unknown): error is ShardMergeLimitError {
  return hasErrorKind(error, 'ShardMergeLimitError')
}

/**
 * A cross-shard merge would order strings differently than the database: the column's
 * PostgreSQL collation does not order by code point (only `C`, `POSIX`, `C.UTF-8` and the
 * `builtin` provider do), and no `compare` was given. `model` names the class, `property` the
 * column, `collation` the collation found; pass `acrossShards({ compare })` with a comparator
 * of that collation (e.g. `new Intl.Collator('en').compare`) to merge in its order.
 *
 * @example
 * ```ts
 * import { isUnsupportedCollationError } from 'tributary'
 * const e = await User.acrossShards().orderBy('name').asyncAll().catch((e: unknown) => e)
 * if (isUnsupportedCollationError(e)) console.log(e.property, e.collation)
 * ```
 */
export class UnsupportedCollationError extends InvalidQueryError {
  static override readonly kind: string = 'UnsupportedCollationError'

  constructor(
    model: string,
    column: string,
    /** The collation of the column, e.g. `'default (en_US.UTF-8)'`. */
    readonly collation: string,
    /** How to give the column a collation the merge follows, on its database. */
    remedy = 'give the column COLLATE "C"',
  ) {
    super(
      model,
      column,
      `${column} has collation ${collation}, whose order a cross-shard merge does not know: ` +
        `pass acrossShards({ compare }) with a comparator of that collation, or ${remedy}`,
    )
  }
}

/**
 * True when `error` is an {@link UnsupportedCollationError}.
 *
 * @example
 * ```ts
 * import { isUnsupportedCollationError } from 'tributary'
 * isUnsupportedCollationError(new Error('x')) // false
 * ```
 */
export function isUnsupportedCollationError(error: unknown): error is UnsupportedCollationError {
  return hasErrorKind(error, 'UnsupportedCollationError')
}

/**
 * How one shard of a cross-shard transaction ended.
 *
 * @example
 * ```ts
 * import { isShardTransactionError } from 'tributary'
 * const e = await shardTransaction(shards, work).catch((e: unknown) => e)
 * if (isShardTransactionError(e)) for (const o of e.outcomes) console.log(o.shard, o.state, o.cause)
 * ```
 */
export interface ShardTransactionOutcome {
  /** The shard's name. */
  readonly shard: string
  /** Where the shard's part ended: `'committed'`, `'rolled back'`, or `'prepared'` (left for `recoverShardTransactions`). */
  readonly state: 'committed' | 'rolled back' | 'prepared'
  /** What failed on this shard, if anything. */
  readonly cause?: unknown
}

/**
 * A cross-shard transaction did not commit everywhere. `decision` says what happened to the
 * whole: `'rolled back'` (no shard kept any write), `'committed'` (the decision was logged, so
 * every shard commits; the shards in state `'prepared'` are finished by
 * `recoverShardTransactions`), or `'unknown'` (the decision could not be read back from the log;
 * `recoverShardTransactions` settles it). `outcomes` lists every touched shard.
 *
 * @example
 * ```ts
 * import { isShardTransactionError } from 'tributary'
 * try { await shardTransaction(shards, work) } catch (e) {
 *   if (isShardTransactionError(e)) console.log(e.id, e.decision, e.outcomes)
 * }
 * ```
 */
export class ShardTransactionError extends TributaryError {
  static override readonly kind: string = 'ShardTransactionError'

  constructor(
    /** The coordinator transaction's id (the prefix of every shard's prepared-transaction gid). */
    readonly id: string,
    /** What happened to the transaction as a whole. */
    readonly decision: 'rolled back' | 'committed' | 'unknown',
    /** Every touched shard's outcome, in the order the shards were touched. */
    readonly outcomes: readonly ShardTransactionOutcome[],
    /** The first failure (the callback's error when it threw). */
    cause: unknown,
  ) {
    super(
      `cross-shard transaction ${id} ${decision === 'unknown' ? 'has an unknown outcome' : decision}: ` +
        outcomes
          .map((o) => `${o.shard} ${o.state}${o.cause === undefined ? '' : ` (${describeCause(o.cause)})`}`)
          .join(', ') +
        (decision === 'rolled back' ? '' : '; run recoverShardTransactions to finish the prepared shards') +
        (outcomes.some((o) => o.cause !== undefined) ? '' : `; cause: ${describeCause(cause)}`),
      { cause },
    )
  }
}

/**
 * True when `error` is a {@link ShardTransactionError}.
 *
 * @example
 * ```ts
 * import { isShardTransactionError } from 'tributary'
 * isShardTransactionError(new Error('x')) // false
 * ```
 */
export function isShardTransactionError(error: unknown): error is ShardTransactionError {
  return hasErrorKind(error, 'ShardTransactionError')
}

/**
 * A shard cannot take part in two-phase commit: PostgreSQL's `max_prepared_transactions` is 0
 * (its default), or the shard's dialect has no prepared transactions (SQLite). Nothing was
 * written: every shard was rolled back.
 *
 * @example
 * ```ts
 * import { isPreparedTransactionsDisabledError } from 'tributary'
 * const e = await shardTransaction(shards, work).catch((e: unknown) => e)
 * if (isPreparedTransactionsDisabledError(e)) console.log(e.shard, e.setting)
 * ```
 */
export class PreparedTransactionsDisabledError extends TributaryError {
  static override readonly kind: string = 'PreparedTransactionsDisabledError'

  constructor(
    /** The shard that cannot prepare. */
    readonly shard: string,
    /** The setting to change, e.g. `max_prepared_transactions`. */
    readonly setting: string,
    how: string,
  ) {
    super(`shard ${shard} cannot prepare transactions for a cross-shard commit: ${how}`)
  }
}

/**
 * True when `error` is a {@link PreparedTransactionsDisabledError}.
 *
 * @example
 * ```ts
 * import { isPreparedTransactionsDisabledError } from 'tributary'
 * isPreparedTransactionsDisabledError(new Error('x')) // false
 * ```
 */
export function isPreparedTransactionsDisabledError(
  error: unknown,
): error is PreparedTransactionsDisabledError {
  return hasErrorKind(error, 'PreparedTransactionsDisabledError')
}
