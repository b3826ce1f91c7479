/**
 * `acrossShards().stream()`: one reader per shard (a PostgreSQL cursor, keyset pages
 * elsewhere; see `model/row-stream.ts`), after the shard's collation check, its rows keyed
 * once by the merge codecs, merged in order as they arrive (`stream-merge.ts`). A failing
 * shard ends the iteration with a `ShardError` naming it; the other readers are closed.
 * @internal
 */
import type { CompiledQuery } from 'kysely'
import { type AnyKysely, databaseState } from '../model/connection'
import { cursorBatches, keysetBatches, type RawRow } from '../model/row-stream'
import { ShardError, isUnsupportedCollationError } from './errors'
import { mergeStreams, type BatchSource } from './stream-merge'

/** A row with its merge keys. @internal */
export interface KeyedRow {
  readonly row: RawRow
  readonly key: unknown[]
}

/** How one shard's rows are read. @internal */
export interface ShardReaderSpec {
  /** `select … where … order by …` of every row (PostgreSQL's cursor query). */
  readonly all: (db: AnyKysely) => CompiledQuery<unknown>
  /** One keyset page after `after` (other dialects). */
  readonly page: (
    db: AnyKysely,
    after: readonly unknown[] | undefined,
    batchSize: number,
  ) => CompiledQuery<unknown>
  /** The keyset values of a row (order columns, then the primary key). */
  readonly keysetOf: (row: RawRow) => readonly unknown[]
  /** The row's merge keys. */
  readonly keyOf: (row: RawRow) => unknown[]
  /** Resolves when the merge may rely on the shard's collations (else rejects). */
  readonly check: (db: AnyKysely) => Promise<void> | undefined
  readonly batchSize: number
}

async function* shardReader(
  db: AnyKysely,
  spec: ShardReaderSpec,
): AsyncGenerator<KeyedRow[], void, undefined> {
  const check = spec.check(db)
  if (check) await check
  const state = databaseState(db)
  const batches =
    state.postgres && !state.transaction
      ? cursorBatches(db, spec.all(db), spec.batchSize)
      : keysetBatches(db, (after) => spec.page(db, after, spec.batchSize), spec.keysetOf, spec.batchSize)
  try {
    for await (const rows of batches) yield rows.map((row) => ({ row, key: spec.keyOf(row) }))
  } finally {
    await batches.return(undefined)
  }
}

/** What {@link streamAcrossShards} needs. @internal */
export interface ShardStreamSpec<T> extends ShardReaderSpec {
  readonly operation: string
  readonly shards: readonly string[]
  readonly dbs: readonly AnyKysely[]
  readonly compare: (a: KeyedRow, b: KeyedRow) => number
  readonly read: (row: RawRow) => T
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly signal: AbortSignal | undefined
}

/** The merged rows of every shard, read as `T`, with `offset`/`limit` applied. @internal */
export async function* streamAcrossShards<T>(spec: ShardStreamSpec<T>): AsyncGenerator<T, void, undefined> {
  const sources: BatchSource<KeyedRow>[] = spec.dbs.map((db) => shardReader(db, spec))
  const merged = mergeStreams(
    sources,
    spec.compare,
    (index, cause) =>
      // A collation the merge cannot follow is the caller's to fix, not a shard's failure.
      isUnsupportedCollationError(cause)
        ? cause
        : new ShardError(spec.operation, [{ shard: spec.shards[index] as string, cause }]),
    spec.signal,
    spec.operation,
  )
  let skip = spec.offset ?? 0
  let left = spec.limit ?? Number.POSITIVE_INFINITY
  if (left <= 0) return
  try {
    for await (const entry of merged) {
      if (skip > 0) {
        skip--
        continue
      }
      yield spec.read(entry.row)
      if (--left <= 0) return
    }
  } finally {
    await merged.return(undefined)
  }
}
