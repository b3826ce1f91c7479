/**
 * Errors of the query store's shared tiers (L2 cache, invalidation bus, locks), reported
 * through the store's `onError`, never thrown at readers: a read falls back to L1 and the fetcher.
 */
import { TributaryError, hasErrorKind } from '../../core/errors'

/** The base of the distributed store's errors. */
export class DistributedCacheError extends TributaryError {
  static override readonly kind: string = 'DistributedCacheError'
}

/** True when `error` is a {@link DistributedCacheError} (or one of its subclasses). */
export function isDistributedCacheError(error: unknown): error is DistributedCacheError {
  return hasErrorKind(error, 'DistributedCacheError')
}

/**
 * The L2 cache or the bus failed (Redis down, a command timed out). Reported once per outage:
 * again only after a success in between. The store keeps working on L1 and the fetchers.
 */
export class L2UnavailableError extends DistributedCacheError {
  static override readonly kind: string = 'L2UnavailableError'

  constructor(
    /** Which tier failed: `l2` or `bus`. */
    readonly tier: 'l2' | 'bus',
    /** The operation that failed, e.g. `get`, `set`, `publish`. */
    readonly operation: string,
    cause: unknown,
  ) {
    super(
      `QueryStore: the ${tier} is unavailable (${operation} failed: ${messageOf(cause)}); serving from L1 and fetchers`,
      {
        cause,
      },
    )
  }
}

/** True when `error` is an {@link L2UnavailableError}. */
export function isL2UnavailableError(error: unknown): error is L2UnavailableError {
  return hasErrorKind(error, 'L2UnavailableError')
}

/**
 * A fetch failed (or timed out) and a stale value within the query's `grace` was served
 * instead. `cause` is the fetch's error.
 */
export class StaleValueServedError extends DistributedCacheError {
  static override readonly kind: string = 'StaleValueServedError'

  constructor(
    /** The query's key hash. */
    readonly key: string,
    /** Where the stale value came from. */
    readonly tier: 'l1' | 'l2',
    /** How old the served value is, in ms. */
    readonly ageMs: number,
    cause: unknown,
  ) {
    super(
      `QueryStore: the fetch of query ${key} failed (${messageOf(cause)}); served a stale value from ${tier}, ${ageMs} ms old`,
      {
        cause,
      },
    )
  }
}

/** True when `error` is a {@link StaleValueServedError}. */
export function isStaleValueServedError(error: unknown): error is StaleValueServedError {
  return hasErrorKind(error, 'StaleValueServedError')
}

/** An L2 value that the codec cannot decode (written by another version, or corrupted). */
export class L2CodecError extends DistributedCacheError {
  static override readonly kind: string = 'L2CodecError'

  constructor(
    /** The Redis key that held it. */
    readonly key: string,
    cause: unknown,
  ) {
    super(`QueryStore: the L2 value at ${key} cannot be decoded (${messageOf(cause)}); treated as a miss`, {
      cause,
    })
  }
}

/** True when `error` is an {@link L2CodecError}. */
export function isL2CodecError(error: unknown): error is L2CodecError {
  return hasErrorKind(error, 'L2CodecError')
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
