/**
 * Reading a query's rows in batches of `batchSize`, never all at once: on PostgreSQL through a
 * server-side cursor (`DECLARE … NO SCROLL CURSOR` in a read-only transaction on one held pool
 * connection, then `FETCH FORWARD n`), elsewhere through keyset pages (`where (order columns,
 * primary key) come after the last row's … order by … limit n`), whose predicate the server
 * evaluates, so it follows the server's own order (collations and NULL placement included).
 * Closing the reader (`return()` on the iterator: a `break`, an abort, a failure elsewhere)
 * issues no further query, waits for the one in flight, and releases the connection. @internal
 */
import type { CompiledQuery, Expression, SqlBool } from 'kysely'
import { CompiledQuery as Compiled, sql } from './kysely'
import { type AnyKysely } from './connection'
import { type Order } from './conditions'
import { InvalidQueryError } from './errors'
import { checks, formatOptionProblem, specProblem, type OptionSpec } from '../core/option-checks'
import { abortError, throwIfAborted } from '../core/abort'

/** A result row as the driver returned it. @internal */
export type RawRow = Record<string, unknown>

/** The default `batchSize` of `stream()`. */
export const DEFAULT_STREAM_BATCH_SIZE = 1_000

/**
 * Options of `stream()` on a model scope or a cross-shard scope.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * for await (const user of User.orderBy('createdAt').stream({ batchSize: 500, signal: controller.signal })) {
 *   if (user.id === 42) break // closes the cursor
 * }
 * ```
 */
export interface StreamOptions {
  /** Rows fetched per round trip (per shard, across shards). Defaults to 1 000. */
  batchSize?: number
  /**
   * Ends the iteration: the pending `next()` rejects with the signal's reason once the fetch
   * in flight (if any) has returned, and every cursor is closed. Defaults to none.
   */
  signal?: AbortSignal
}

/** `options.batchSize`, checked (a positive safe integer). @internal */
export function batchSizeOf(model: string, options: StreamOptions | undefined): number {
  if (options !== undefined) {
    const problem = specProblem(options, STREAM_OPTIONS)
    if (problem !== undefined) {
      throw new InvalidQueryError(
        model,
        problem.option ?? 'options',
        `stream(options): ${formatOptionProblem(problem)}`,
      )
    }
  }
  return options?.batchSize ?? DEFAULT_STREAM_BATCH_SIZE
}

/** What `stream(options)` may hold. */
const STREAM_OPTIONS: OptionSpec = { batchSize: checks.integer(1), signal: checks.signal }

let cursors = 0

/**
 * The rows of `query` on a PostgreSQL `db`, `batchSize` at a time, through a server-side
 * cursor on one connection held for the iteration. @internal
 */
export async function* cursorBatches(
  db: AnyKysely,
  query: CompiledQuery<unknown>,
  batchSize: number,
): AsyncGenerator<RawRow[], void, undefined> {
  const name = `tributary_stream_${++cursors}`
  let release: () => void = () => undefined
  const hold = new Promise<void>((resolve) => (release = resolve))
  let held: Promise<void> | undefined
  const connection = await new Promise<AnyKysely>((resolve, reject) => {
    held = db
      .connection()
      .execute(async (conn) => {
        resolve(conn as AnyKysely)
        await hold
      })
      .catch(reject)
  })
  let open = false
  try {
    await connection.executeQuery(Compiled.raw('begin read only'))
    open = true
    await connection.executeQuery(
      Compiled.raw(`declare ${name} no scroll cursor for ${query.sql}`, [...query.parameters]),
    )
    const fetch = Compiled.raw(`fetch forward ${batchSize} from ${name}`)
    for (;;) {
      const { rows } = await connection.executeQuery<RawRow>(fetch)
      if (rows.length > 0) yield rows
      if (rows.length < batchSize) return
    }
  } finally {
    // Rolling back closes the cursor; a broken connection just fails to, and is discarded by pg.
    if (open) await connection.executeQuery(Compiled.raw('rollback')).catch(() => undefined)
    release()
    await held?.catch(() => undefined)
  }
}

/**
 * "Comes strictly after `values`" in the order `terms` (the last one a unique column), as
 * one SQL predicate: `(a > x) or (a = x and b > y) or …`, with NULLs placed as the database
 * places them (`nullsLargest`: PostgreSQL; not SQLite or MySQL). @internal
 */
export function keysetAfter(
  terms: readonly Order[],
  values: readonly unknown[],
  nullsLargest: boolean,
): Expression<SqlBool> {
  const ors = terms.map((term, i) => {
    const ands = terms.slice(0, i).map((t, j) => {
      const v = values[j]
      return v === null || v === undefined
        ? sql`${sql.id(t.column.name)} is null`
        : sql`${sql.id(t.column.name)} = ${v}`
    })
    ands.push(afterTerm(term, values[i], nullsLargest))
    return sql`(${sql.join(ands, sql` and `)})`
  })
  return sql<SqlBool>`(${sql.join(ors, sql` or `)})`
}

function afterTerm(term: Order, value: unknown, nullsLargest: boolean) {
  const col = sql.id(term.column.name)
  const nullsLast = nullsLargest === (term.direction === 'asc')
  if (value === null || value === undefined) return nullsLast ? sql`false` : sql`${col} is not null`
  const cmp = sql.raw(term.direction === 'asc' ? '>' : '<')
  return nullsLast ? sql`(${col} ${cmp} ${value} or ${col} is null)` : sql`${col} ${cmp} ${value}`
}

/**
 * Keyset pages: `page(after)` compiles the query of the rows after `after` (the previous
 * page's last row's keyset values, read by `keyOf`; `undefined` for the first page), ordered
 * and limited to `batchSize`. @internal
 */
export async function* keysetBatches(
  db: AnyKysely,
  page: (after: readonly unknown[] | undefined) => CompiledQuery<unknown>,
  keyOf: (row: RawRow) => readonly unknown[],
  batchSize: number,
): AsyncGenerator<RawRow[], void, undefined> {
  let after: readonly unknown[] | undefined
  for (;;) {
    const { rows } = await db.executeQuery<RawRow>(page(after))
    if (rows.length > 0) yield rows
    if (rows.length < batchSize) return
    after = keyOf(rows[rows.length - 1] as RawRow)
  }
}

/**
 * One row at a time from batches, with `offset`/`limit` applied, checking `signal` between
 * rows; the batches are closed when the iteration ends in any way. @internal
 */
export async function* rowsOf<T>(
  batches: AsyncGenerator<RawRow[], void, undefined>,
  read: (row: RawRow) => T,
  page: { readonly limit?: number; readonly offset?: number },
  signal: AbortSignal | undefined,
  wrap: (error: unknown) => unknown,
): AsyncGenerator<T, void, undefined> {
  let skip = page.offset ?? 0
  let left = page.limit ?? Number.POSITIVE_INFINITY
  try {
    if (left <= 0) return
    throwIfAborted(signal)
    for (;;) {
      let next: IteratorResult<RawRow[], void>
      try {
        next = await batches.next()
      } catch (error) {
        throw signal?.aborted ? abortError(signal) : wrap(error)
      }
      throwIfAborted(signal)
      if (next.done) return
      for (const row of next.value) {
        if (skip > 0) {
          skip--
          continue
        }
        yield read(row)
        if (--left <= 0) return
        throwIfAborted(signal)
      }
    }
  } finally {
    await batches.return(undefined).catch(() => undefined)
  }
}

/**
 * The terms of a keyset: the order, then the primary key (unique, the tiebreaker) unless it
 * is already in the order; `undefined` without a primary key. @internal
 */
export function keysetTerms(
  order: readonly Order[],
  primary: Order['column'] | undefined,
): Order[] | undefined {
  if (primary === undefined) return undefined
  if (order.some((o) => o.column === primary)) return [...order]
  return [...order, { column: primary, direction: 'asc' }]
}
