/**
 * Batched lookups (DataLoader's idea, built in): `asyncFind(id)` / `asyncFindBy({ key })`
 * calls made for one model, one column and one database in the same tick are collected and
 * sent as one `select … where key in (…)` (chunks of {@link MAX_BATCH_SIZE} keys), each caller
 * getting its own row or `undefined`.
 *
 * - Scheduling as DataLoader's: the batch is sent from a `process.nextTick` queued after the
 *   promise jobs of the current tick, so loads made in the same synchronous frame and in the
 *   promise callbacks it sets off join one batch.
 * - Keys are deduplicated within a batch (equal keys share one lookup); nothing is memoised
 *   across batches — a later tick asks the database again. Caching is `scope.cached({ ttl })`'s
 *   job (cached scopes are not batched).
 * - A failed query rejects every caller of that chunk (each with its own operation name); a
 *   caller of another chunk or another database (another shard, inside `withShard`) is not
 *   touched. A caller's `signal` ends only its own wait; the shared query runs on.
 * @internal
 */
import { AsyncExecutionError, isTributaryError } from '../core/errors'
import type { CompiledQuery, Expression, SqlBool } from 'kysely'
import { readValue, writeValue } from './coerce'
import { fillHoles, Hole } from './templates'
import { executeWith, type AnyKysely } from './connection'
import { type ColumnMeta, type ModelMeta } from './decorators'
import { whereExpression } from './conditions'
import { rowReader } from './row-reader'
import { sql } from './kysely'

/** The most keys one batched query sends; more are split into several queries. */
export const MAX_BATCH_SIZE = 1_000

/** The most `in` list lengths whose compiled query a batcher keeps. */
const MAX_LIST_TEMPLATES = 64

/** One caller of a batched lookup. @internal */
export interface Waiter {
  readonly operation: string
  readonly resolve: (row: object | undefined) => void
  readonly reject: (error: unknown) => void
}

interface Pending {
  readonly value: unknown
  readonly waiters: Waiter[]
}

// Stands for the key in the compiled single-key query.
const KEY = new Hole(-2)

let resolved: Promise<void> | undefined
/** DataLoader's `enqueuePostPromiseJob`: after the current tick's promise jobs. */
function schedule(fn: () => void): void {
  ;(resolved ??= Promise.resolve()).then(() => process.nextTick(fn))
}

/** A value's identity as a `Map` key: equal for equal values read by the column's kind. */
function identity(col: ColumnMeta, raw: unknown): unknown {
  const v = readValue(col.kind, raw)
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : `\u0000big:${v}`
  if (v instanceof Date) return `\u0000date:${v.getTime()}`
  if (typeof v === 'object' && v !== null) return `\u0000json:${JSON.stringify(v)}`
  return v
}

class KeyBatcher {
  private queue: Map<unknown, Pending> | undefined

  constructor(
    private readonly db: AnyKysely,
    private readonly model: new () => object,
    private readonly meta: ModelMeta,
    private readonly col: ColumnMeta,
    private readonly sqlite: boolean,
  ) {}

  load(value: unknown, operation: string): Promise<object | undefined> {
    return new Promise((resolve, reject) => this.add(value, { operation, resolve, reject }))
  }

  /** Joins `waiter` to this tick's batch: it is called with its row (or `undefined`) or the error. */
  add(value: unknown, waiter: Waiter): void {
    if (!this.queue) {
      this.queue = new Map()
      schedule(() => this.dispatch())
    }
    const key = identity(this.col, value)
    let pending = this.queue.get(key)
    if (!pending) this.queue.set(key, (pending = { value, waiters: [] }))
    pending.waiters.push(waiter)
  }

  private dispatch(): void {
    const queue = this.queue as Map<unknown, Pending>
    this.queue = undefined
    const entries = [...queue]
    for (let i = 0; i < entries.length; i += MAX_BATCH_SIZE) this.run(entries.slice(i, i + MAX_BATCH_SIZE))
  }

  /** `where col = ? limit 1`, compiled once: a batch of one key costs what an unbatched lookup does. */
  private single: CompiledQuery<unknown> | undefined

  private query(chunk: Array<[unknown, Pending]>): CompiledQuery<unknown> {
    const { db, meta, col, sqlite } = this
    const select = () =>
      db.selectFrom(meta.table).select(meta.columns.map((c) => sql.id(c.name).as(c.property)))
    if (chunk.length === 1) {
      const single = (this.single ??= select()
        .where(whereExpression([{ column: col, operator: '=', value: KEY }], sqlite) as Expression<SqlBool>)
        .limit(1)
        .compile())
      const value = writeValue(col.kind, (chunk[0] as [unknown, Pending])[1].value, sqlite)
      return { ...single, parameters: single.parameters.map((p) => (p === KEY ? value : p)) }
    }
    // `where key in (…)` compiled once per list length, with holes for the keys.
    let template = this.lists.get(chunk.length)
    if (template === undefined) {
      const holes = chunk.map((_, i) => new Hole(i))
      template = select()
        .where(
          whereExpression([{ column: col, operator: 'in', value: holes }], sqlite) as Expression<SqlBool>,
        )
        .compile()
      if (this.lists.size >= MAX_LIST_TEMPLATES) this.lists.delete(this.lists.keys().next().value as number)
      this.lists.set(chunk.length, template)
    }
    return fillHoles(
      template,
      chunk.map(([, p]) => writeValue(col.kind, p.value, sqlite)),
    )
  }

  /** The compiled `in` queries, by list length (the most recent {@link MAX_LIST_TEMPLATES}). */
  private readonly lists = new Map<number, CompiledQuery<unknown>>()

  private run(chunk: Array<[unknown, Pending]>): void {
    const { db, meta, col } = this
    const query = this.query(chunk)
    const read = rowReader(this.model, meta.columns)
    executeWith(db, query).then(
      ({ rows }) => {
        // One key: the query was `where key = ? limit 1`, its first row is the answer.
        const found = chunk.length === 1 ? undefined : new Map<unknown, Record<string, unknown>>()
        if (found !== undefined) {
          for (const row of rows as Array<Record<string, unknown>>) {
            const key = identity(col, row[col.property])
            if (!found.has(key)) found.set(key, row)
          }
        }
        for (const [key, pending] of chunk) {
          const row = found ? found.get(key) : (rows[0] as Record<string, unknown> | undefined)
          const instance = row ? read(row) : undefined
          // Each caller its own instance: callers may change what they get.
          for (const w of pending.waiters)
            w.resolve(instance && w !== pending.waiters[0] ? read(row as Record<string, unknown>) : instance)
        }
      },
      (error: unknown) => {
        for (const [, pending] of chunk) {
          for (const w of pending.waiters) {
            w.reject(isTributaryError(error) ? error : new AsyncExecutionError(w.operation, error))
          }
        }
      },
    )
  }
}

const batchers = new WeakMap<AnyKysely, Map<object, Map<string, KeyBatcher>>>()

/** The batcher of `model`'s `col` lookups on `db`. @internal */
export function batcherFor(
  db: AnyKysely,
  model: new () => object,
  meta: ModelMeta,
  col: ColumnMeta,
  sqlite: boolean,
): {
  load(value: unknown, operation: string): Promise<object | undefined>
  add(value: unknown, waiter: Waiter): void
} {
  let perDb = batchers.get(db)
  if (!perDb) batchers.set(db, (perDb = new Map()))
  let perModel = perDb.get(model)
  if (!perModel) perDb.set(model, (perModel = new Map()))
  let batcher = perModel.get(col.name)
  if (!batcher) perModel.set(col.name, (batcher = new KeyBatcher(db, model, meta, col, sqlite)))
  return batcher
}
