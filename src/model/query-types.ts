/**
 * The types a model helper is called with: attributes, column keys, `where` operators and
 * the options every helper takes. Their own module, below the scope and the condition
 * builders that both use them (no import cycle).
 */

/** A model class whose instances are `M`. */
export type ModelClass<M extends object = object> = new () => M

/** The data properties of `M` (its methods left out). */
export type Attributes<M> = {
  [K in keyof M as K extends string ? (M[K] extends (...args: never[]) => unknown ? never : K) : never]: M[K]
}

/** A property of `M` that may be a column. */
export type ColumnKey<M> = keyof Attributes<M> & string

/** `where(attributes)`: each value is compared with `=`, an array with `in`, `null` with `is null`. */
export type WhereAttributes<M> = { [K in ColumnKey<M>]?: M[K] | readonly M[K][] | null }

/** The operators `where(column, operator, value)` allows; anything else is refused. */
export type ComparisonOperator =
  '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | 'like' | 'not like' | 'is' | 'is not'

/** Options every helper takes. */
export interface QueryOptions {
  /**
   * Cancels the helper. A helper still queued never starts; a running PostgreSQL query is
   * cancelled on the server (`pg_cancel_backend`); SQLite queries cannot be interrupted once
   * started. The helper rejects with the signal's reason. `result.cancel()` does the same on
   * PostgreSQL; on SQLite and inside a transaction (one query at a time, none stoppable) only
   * this signal makes a helper reject early. Defaults to none.
   */
  signal?: AbortSignal
  /**
   * For `asyncFind`, `asyncFindOrFail` and `asyncFindBy({ column: value })` on a model's
   * unfiltered scope: whether calls made in the same tick for one model, column and database
   * are sent together as one `where column in (…)` query (DataLoader's batching; see the
   * README). `false` sends this call's own query. Calls on a cached or filtered scope, and
   * inside a transaction, are never batched. Defaults to `true`.
   */
  batch?: boolean
}
