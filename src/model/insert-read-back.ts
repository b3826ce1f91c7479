/**
 * `asyncInsert` on a dialect without `INSERT … RETURNING` (MySQL; MariaDB has it for inserts
 * only from 10.5, and not for updates): the rows are inserted, then read back by primary key,
 * so the instances carry the database's defaults and generated ids as with `returning`.
 *
 * The ids are the ones the rows gave, or, for an auto-increment key, the ones the server
 * generated: MySQL reports the first id of a multi-row insert (`insertId`) and hands a
 * statement's ids out consecutively, `@@auto_increment_increment` apart (InnoDB does so for
 * inserts whose row count is known, in every `innodb_autoinc_lock_mode`). Rows that give some
 * ids and leave others to the server are inserted one by one, since a given id can move the
 * counter. A model without a primary key gets back the values it wrote.
 *
 * The statements run on one connection held for the whole insert (within the database's
 * concurrency limit): inside a transaction, no helper started after the insert runs between
 * its statements, so helpers still run in the order started. @internal
 */
import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import { sql } from './kysely'
import { databaseState, transformed, type AnyKysely } from './connection'
import { type ColumnMeta, type ModelMeta } from './decorators'

type Row = Record<string, unknown>
type Run = <R>(query: CompiledQuery<R>) => Promise<QueryResult<R>>

/** `@@auto_increment_increment` of the session. */
async function increment(db: AnyKysely, run: Run): Promise<bigint> {
  const { rows } = await run(sql<{ v: unknown }>`select @@auto_increment_increment as v`.compile(db))
  return BigInt(String(rows[0]?.v ?? 1))
}

/** What `returning` would have given for a model without a primary key: the values written. */
function asWritten(meta: ModelMeta, values: readonly Row[]): Row[] {
  return values.map((v) => Object.fromEntries(meta.columns.map((c) => [c.property, v[c.name] ?? null])))
}

/**
 * Inserts `values` (rows keyed by column name, bound for the driver) into `meta.table` on `db`
 * and returns the inserted rows keyed by property, in the order given. @internal
 */
export function insertAndReadBack(
  db: AnyKysely,
  meta: ModelMeta,
  values: readonly Row[],
  signal: AbortSignal,
): Promise<Row[]> {
  const executor = db.getExecutor()
  return databaseState(db).run(() =>
    executor.provideConnection((connection: DatabaseConnection) => {
      const run: Run = async <R>(query: CompiledQuery<R>) => {
        if (signal.aborted) throw signal.reason
        const result = await connection.executeQuery<R>(query)
        return executor.plugins.length === 0 ? result : await transformed(executor, query, result)
      }
      return insertOn(db, run, meta, values)
    }),
  )
}

async function insertOn(db: AnyKysely, run: Run, meta: ModelMeta, values: readonly Row[]): Promise<Row[]> {
  const insert = (rows: readonly Row[]) =>
    run(
      db
        .insertInto(meta.table)
        .values(rows as Row[])
        .compile(),
    )
  const primary = meta.primary
  if (!primary) {
    await insert(values)
    return asWritten(meta, values)
  }
  const given = values.filter((v) => v[primary.name] !== undefined && v[primary.name] !== null).length
  const ids: unknown[] = []
  if (given === values.length) {
    await insert(values)
    for (const v of values) ids.push(v[primary.name])
  } else if (given === 0) {
    const result = await insert(values)
    if (result.insertId === undefined) return asWritten(meta, values)
    const step = values.length > 1 ? await increment(db, run) : 1n
    for (let i = 0n; i < BigInt(values.length); i++) ids.push(result.insertId + i * step)
  } else {
    for (const v of values) {
      const result = await insert([v])
      ids.push(v[primary.name] ?? result.insertId)
    }
  }
  return readBack(db, run, meta, primary, ids)
}

/** The rows whose primary key is in `ids`, in the order of `ids`. */
async function readBack(
  db: AnyKysely,
  run: Run,
  meta: ModelMeta,
  primary: ColumnMeta,
  ids: readonly unknown[],
): Promise<Row[]> {
  const query = db
    .selectFrom(meta.table)
    .select(meta.columns.map((c) => sql.id(c.name).as(c.property)))
    .where(sql.id(primary.name), 'in', ids.map(bindable))
    .compile() as CompiledQuery<Row>
  const { rows } = await run(query)
  const byId = new Map(rows.map((row) => [String(row[primary.property]), row]))
  const out: Row[] = []
  for (const id of ids) {
    const row = byId.get(String(id))
    if (row) out.push(row) // a row deleted between the insert and the read is not returned
  }
  return out
}

/** A bigint id as a number when it is safe (mysql2 binds both). */
function bindable(id: unknown): unknown {
  return typeof id === 'bigint' && id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id
}
