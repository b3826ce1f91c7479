/**
 * The query store's option and state types, their defaults and their checks: shared by the
 * cache entries, the `Query` handles and the store.
 */
import { TributaryError, hasErrorKind } from '../core/errors'
import {
  describeIssues,
  isStandardSchema,
  type StandardSchemaIssue,
  type StandardSchemaV1,
} from '../core/standard-schema'
import type { QueryKey } from './key-hash'
import { defaultRetryDelay, type RetryDelayOption, type RetryOption } from './retry'

/** Where a query is: never fetched, fetching its first value, holding data, or failed. */
export type QueryStatus = 'idle' | 'loading' | 'success' | 'error'

/** A snapshot of a query's state. A new object after every change. */
export interface QueryState<T> {
  /** `idle` before the first fetch; `loading` while fetching with no data; then `success`/`error`. */
  readonly status: QueryStatus
  /** The last value (kept through later errors and refetches), or the placeholder. */
  readonly data: T | undefined
  /** The error of the last attempt of the last failed fetch; `null` after a success. */
  readonly error: unknown
  /** True when the data is older than `staleTime`, invalidated, or missing. */
  readonly isStale: boolean
  /** True while a fetch (including retries and their waits) is running. */
  readonly isFetching: boolean
  /** When `data` was last set (ms since the epoch); 0 before the first value. */
  readonly updatedAt: number
  /** Failures of the current fetch (while retrying) or of the last failed fetch; 0 after a success. */
  readonly failureCount: number
  /** The error of the latest failure counted in `failureCount`; `null` when it is 0. */
  readonly failureReason: unknown
  /** True when `data` is the handle's `placeholderData`, not cached data. */
  readonly isPlaceholderData: boolean
}

/** Free-form information attached to a query, passed to its fetcher (TanStack's `meta`). */
export type QueryMeta = Readonly<Record<string, unknown>>

/** What a fetcher receives. */
export interface QueryFunctionContext {
  /** The query's key. */
  readonly key: QueryKey
  /** Aborted when the fetch is cancelled, superseded, times out, or the store closes. */
  readonly signal: AbortSignal
  /** 0 for the first attempt, then 1, 2, … for retries. */
  readonly attempt: number
  /** The query's `meta` option. */
  readonly meta: QueryMeta | undefined
  /** Set by infinite queries: which page the fetch loads. @internal */
  readonly direction?: 'forward' | 'backward'
}

/** Loads a query's value. It should stop when `signal` aborts, and never resolve `undefined`. */
export type QueryFetcher<T> = (context: QueryFunctionContext) => T | PromiseLike<T>

/** Called with the new state after each batch of changes. */
export type QueryListener<T> = (state: QueryState<T>) => void

/**
 * Options of a cache entry; the store's options (and `setQueryDefaults`) give the defaults.
 * The latest given for a key are the ones in effect.
 */
export interface StoreQueryOptions {
  /** How long data stays fresh (served without a request), in ms. Defaults to 0 (always revalidate). */
  staleTime?: number
  /** How long an entry with no subscribers is kept, in ms (`Infinity`: until evicted). Defaults to 300_000 (5 minutes). */
  gcTime?: number
  /** @deprecated The name before TanStack Query v5; use {@link gcTime}. Used when `gcTime` is not given. */
  cacheTime?: number
  /** Retries after a failure: a count, `true`, or `(failureCount, error) => boolean`. Defaults to 0. */
  retry?: RetryOption
  /** Delay before a retry, in ms. Defaults to `min(1000 * 2 ** failureCount, 30_000)`. */
  retryDelay?: RetryDelayOption
  /** Aborts an attempt after this many ms with an `AsyncTimeoutError`. Defaults to no limit. */
  timeout?: number
  /**
   * Keeps the references of unchanged parts when new data is deep-equal in places to the old
   * (`true`), keeps the new data as is (`false`), or merges with your function. Defaults to true.
   */
  structuralSharing?: boolean | ((oldData: unknown, newData: unknown) => unknown)
  /** Passed to the fetcher as `context.meta`. Defaults to none. */
  meta?: QueryMeta
  /**
   * Accept `undefined` from the fetcher as data (for caches where "nothing" is an answer, such
   * as a lookup of a missing row). Defaults to false: it fails the fetch, as in TanStack.
   */
  allowUndefined?: boolean
  /**
   * How long past `staleTime` a value may still be served when its fetch fails or times out
   * (the failure is reported through the store's `onError`), in ms; with an L2 the value is
   * kept there that much longer too (Bentocache's grace period). Defaults to 0 (never).
   */
  grace?: number
  /** Tags for {@link QueryStore.invalidateTags} (kept in L2 too with one). Defaults to none. */
  tags?: readonly string[]
  /**
   * A Standard Schema (zod, valibot, arktype…) the fetched data must pass: each attempt's value
   * is validated, the schema's output (with its transforms and defaults) is what the entry
   * holds (and an L2 stores), and its issues fail the attempt with a {@link QuerySchemaError}
   * (retried as any failure, per `retry`). `setData` and `initialData` are not validated; for
   * `store.paginated` it checks the `{ pages, pageParams }` the entry holds. Defaults to none.
   */
  schema?: StandardSchemaV1
}

/** The data type a Standard Schema outputs (`z.output<S>` for zod). */
export type SchemaOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output']

/** The data an entry starts with, instead of loading. */
export type InitialData<T> = T | (() => T | undefined)

/**
 * Options of `store.query(key, fetcher, options)`: the entry's options, plus those of this
 * handle (`enabled`, `select`, `placeholderData`) and the entry's starting data.
 */
export interface QueryHandleOptions<TQueryFnData, TData = TQueryFnData> extends StoreQueryOptions {
  /** False: subscribing does not fetch (explicit `fetch`/`refetch` still do). Defaults to true. */
  enabled?: boolean
  /** Derives this handle's `data` from the cached data (memoized on the cached value). Defaults to the data as is. */
  select?: (data: TQueryFnData) => TData
  /**
   * Shown as this handle's `data` (with `isPlaceholderData: true`) while the entry has none; not
   * cached. A function receives the previous data this handle showed. Defaults to none.
   */
  placeholderData?: TQueryFnData | ((previous: TData | undefined) => TQueryFnData | undefined)
  /** Data the entry starts with when created (cached, counts as fetched at `initialDataUpdatedAt`). Defaults to none. */
  initialData?: InitialData<TQueryFnData>
  /** When the initial data was fetched (ms since the epoch, or a function of nothing). Defaults to now. */
  initialDataUpdatedAt?: number | (() => number | undefined)
}

/** What creating an entry takes: its options and its starting data. @internal */
export type EntryOptions<T> = StoreQueryOptions &
  Pick<QueryHandleOptions<T>, 'initialData' | 'initialDataUpdatedAt'>

/** {@link StoreQueryOptions} with every default filled in. */
export interface ResolvedQueryOptions {
  readonly staleTime: number
  readonly gcTime: number
  /** @deprecated Same as {@link gcTime}. */
  readonly cacheTime: number
  readonly retry: RetryOption
  readonly retryDelay: RetryDelayOption
  readonly timeout: number
  readonly structuralSharing: boolean | ((oldData: unknown, newData: unknown) => unknown)
  readonly meta: QueryMeta | undefined
  readonly allowUndefined: boolean
  readonly grace: number
  readonly tags: readonly string[]
  readonly schema: StandardSchemaV1 | undefined
}

/** The defaults of {@link StoreQueryOptions}. */
export const DEFAULT_QUERY_OPTIONS: ResolvedQueryOptions = Object.freeze({
  staleTime: 0,
  gcTime: 300_000,
  cacheTime: 300_000,
  retry: 0,
  retryDelay: defaultRetryDelay,
  timeout: Infinity,
  structuralSharing: true,
  meta: undefined,
  allowUndefined: false,
  grace: 0,
  tags: Object.freeze([]) as readonly string[],
  schema: undefined,
})

/** Options for {@link Query.refetch}. */
export interface RefetchOptions {
  /** Abort a fetch in flight and start over (its awaiters get the new result). Defaults to true. */
  cancelRefetch?: boolean
}

/** A query store misuse: a bad option, a fetch with no fetcher, a fetcher resolving `undefined`. */
export class QueryStoreError extends TributaryError {
  static override readonly kind: string = 'QueryStoreError'
}

/** True when `error` is a {@link QueryStoreError}. */
export function isQueryStoreError(error: unknown): error is QueryStoreError {
  return hasErrorKind(error, 'QueryStoreError')
}

/**
 * A query's `schema` rejected the data its fetcher returned. A {@link QueryStoreError} too;
 * `issues` holds what the schema reported, each with its path.
 *
 * @example
 * ```ts
 * import { isQuerySchemaError } from 'tributary'
 * try {
 *   await store.fetch(['user', 1], loadUser, { schema: User })
 * } catch (error) {
 *   if (isQuerySchemaError(error)) console.error(error.issues)
 * }
 * ```
 */
export class QuerySchemaError extends QueryStoreError {
  static override readonly kind: string = 'QuerySchemaError'

  constructor(
    /** The stable hash of the query's key. */
    readonly queryHash: string,
    /** What the schema reported. */
    readonly issues: ReadonlyArray<StandardSchemaIssue>,
    /** The library that made the schema (`'zod'`, `'valibot'`…). */
    readonly vendor: string,
  ) {
    super(
      `QueryStore: the data of query ${queryHash} does not match its ${vendor} schema: ${describeIssues(issues)}`,
    )
  }
}

/** True when `error` is a {@link QuerySchemaError}. */
export function isQuerySchemaError(error: unknown): error is QuerySchemaError {
  return hasErrorKind(error, 'QuerySchemaError')
}

/**
 * `value` checked by `schema`: its output (or a promise of it), or a {@link QuerySchemaError}
 * with its issues. A schema that throws fails the attempt with its own error. @internal
 */
export function validateQueryData(schema: StandardSchemaV1, hash: string, value: unknown): unknown {
  const vendor = schema['~standard'].vendor
  const checked = (result: Awaited<ReturnType<StandardSchemaV1['~standard']['validate']>>): unknown => {
    if (result.issues !== undefined) throw new QuerySchemaError(hash, Array.from(result.issues), vendor)
    return result.value
  }
  const result = schema['~standard'].validate(value)
  return typeof (result as { then?: unknown }).then === 'function'
    ? Promise.resolve(result).then(checked)
    : checked(result as Awaited<typeof result>)
}

/** `options` over `base`, checked (durations are ms ≥ 0, `Infinity` allowed). @internal */
export function resolveOptions(base: ResolvedQueryOptions, options: StoreQueryOptions): ResolvedQueryOptions {
  const gcTime = options.gcTime ?? options.cacheTime ?? base.gcTime
  const resolved: ResolvedQueryOptions = {
    staleTime: options.staleTime ?? base.staleTime,
    gcTime,
    cacheTime: gcTime,
    retry: options.retry ?? base.retry,
    retryDelay: options.retryDelay ?? base.retryDelay,
    timeout: options.timeout ?? base.timeout,
    structuralSharing: options.structuralSharing ?? base.structuralSharing,
    meta: options.meta ?? base.meta,
    allowUndefined: options.allowUndefined ?? base.allowUndefined,
    grace: options.grace ?? base.grace,
    tags: options.tags ?? base.tags,
    schema: options.schema ?? base.schema,
  }
  if (resolved.schema !== undefined && !isStandardSchema(resolved.schema)) {
    throw new QueryStoreError(
      'QueryStore: option schema must implement Standard Schema v1 (a `~standard` property with `validate`)',
    )
  }
  if (!Array.isArray(resolved.tags) || !resolved.tags.every((tag) => typeof tag === 'string')) {
    throw new QueryStoreError(
      `QueryStore: option tags must be an array of strings, got ${String(resolved.tags)}`,
    )
  }
  for (const name of ['staleTime', 'gcTime', 'timeout', 'grace'] as const) {
    const value = resolved[name]
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      const given = name === 'gcTime' && options.gcTime === undefined && options.cacheTime !== undefined
      throw new QueryStoreError(
        `QueryStore: option ${given ? 'cacheTime' : name} must be a number of ms >= 0, got ${String(value)}`,
      )
    }
  }
  return resolved
}
