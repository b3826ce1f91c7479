/**
 * The collation check of cross-shard merges: strings are merged by code point, which is the
 * order of PostgreSQL's `C`, `POSIX` and `C.UTF-8` collations (and of the `builtin`
 * provider), and of MySQL/MariaDB's binary NO PAD collations (`utf8mb4_nopad_bin` on MariaDB,
 * `utf8mb4_0900_bin` on MySQL: UTF-8 bytes sort as code points). A column with any other
 * collation would be merged in a different order than the database's — MySQL's defaults
 * ignore case and accents, and a PAD SPACE `_bin` collation ignores trailing spaces — so the
 * helper rejects with an {@link UnsupportedCollationError} telling the caller to pass
 * `compare`. Asked once per database and column. @internal
 */
import { CompiledQuery } from '../model/kysely'
import { type AnyKysely } from '../model/connection'
import { type ColumnMeta, type ModelMeta } from '../model/decorators'
import { UnsupportedCollationError } from './errors'
import type { MergeDialect } from './merge-keys'

const QUERY = `select to_jsonb(c) as coll, to_jsonb(d) as db
from pg_attribute a
left join pg_collation c on c.oid = a.attcollation
join pg_database d on d.datname = current_database()
where a.attrelid = to_regclass($1) and a.attname = $2`

/** MySQL/MariaDB: the column's collation (`null` for a type without one). */
const MYSQL_QUERY = `select collation_name as coll from information_schema.columns
where table_schema = coalesce(?, database()) and table_name = ? and column_name = ?`

type Json = Record<string, unknown> | null

/**
 * The MySQL/MariaDB collations that order by code point: binary, and the NO PAD binary
 * collations of charsets whose bytes sort as code points. (`utf8mb4_bin` is PAD SPACE: `'a'`
 * and `'a '` are equal, and `'a'` sorts after `'a\t'`.) @internal
 */
export function mysqlCodePointCollation(name: unknown): boolean {
  return (
    name === null ||
    name === undefined ||
    (typeof name === 'string' &&
      /^(binary|utf8mb4_0900_bin|(utf8mb4|utf8mb3|utf8|ascii|latin1)_nopad_bin)$/i.test(name))
  )
}

const MYSQL_REMEDY =
  'give the column COLLATE utf8mb4_nopad_bin (MariaDB) or utf8mb4_0900_bin (MySQL), which order by code point'

/** Whether a libc locale name orders by code point. */
function codePointLocale(name: unknown): boolean {
  return typeof name === 'string' && /^(C|POSIX|C\.utf-?8)$/i.test(name)
}

/** The collation's name when it does not order by code point, else `undefined`. */
export function nonCodePointCollation(coll: Json, db: Json): string | undefined {
  if (!coll) return undefined // not a collatable type
  let provider = coll.collprovider
  let locale: unknown = coll.collcollate ?? coll.colllocale ?? coll.colliculocale
  let name = String(coll.collname)
  if (provider === 'd') {
    // The database's default: libc before PostgreSQL 15 (no datlocprovider).
    provider = db?.datlocprovider ?? 'c'
    locale = provider === 'c' ? db?.datcollate : (db?.datlocale ?? db?.daticulocale)
    name = `default (${String(locale)})`
  }
  if (provider === 'b') return undefined // builtin: C, C.UTF-8, PG_UNICODE_FAST order by code point
  if (provider === 'c' && codePointLocale(locale)) return undefined
  return name
}

function regclass(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.')
}

const ok = new WeakSet<Promise<void>>()
const checked = new WeakMap<AnyKysely, Map<string, Promise<void>>>()

/** The refusal of a column whose collation this dialect's catalogue cannot tell. */
function unknownDialect(meta: ModelMeta, col: ColumnMeta): UnsupportedCollationError {
  return new UnsupportedCollationError(
    meta.model,
    col.property,
    'unknown (a dialect other than PostgreSQL, MySQL or SQLite)',
  )
}

/** The column's collation on `db`, read from the catalogue: the refusal, or `undefined`. */
async function lookUp(
  db: AnyKysely,
  dialect: MergeDialect,
  meta: ModelMeta,
  col: ColumnMeta,
): Promise<UnsupportedCollationError | undefined> {
  if (dialect === 'postgres') {
    const { rows } = await db.executeQuery(CompiledQuery.raw(QUERY, [regclass(meta.table), col.name]))
    const row = rows[0] as { coll: Json; db: Json } | undefined
    const bad = row ? nonCodePointCollation(row.coll, row.db) : undefined
    return bad === undefined ? undefined : new UnsupportedCollationError(meta.model, col.property, bad)
  }
  if (dialect !== 'mysql') return unknownDialect(meta, col)
  const dot = meta.table.indexOf('.')
  const schema = dot < 0 ? null : meta.table.slice(0, dot)
  const table = dot < 0 ? meta.table : meta.table.slice(dot + 1)
  const { rows } = await db.executeQuery(CompiledQuery.raw(MYSQL_QUERY, [schema, table, col.name]))
  const coll = (rows[0] as { coll?: unknown } | undefined)?.coll
  return mysqlCodePointCollation(coll)
    ? undefined
    : new UnsupportedCollationError(
        meta.model,
        col.property,
        `${String(coll)} of MySQL/MariaDB (the defaults, utf8mb4_general_ci and utf8mb4_0900_ai_ci, ignore case and accents; a PAD SPACE _bin collation ignores trailing spaces)`,
        MYSQL_REMEDY,
      )
}

/**
 * Resolves when every column of `columns` on `db` (a PostgreSQL or MySQL/MariaDB database)
 * orders strings by code point; rejects with an `UnsupportedCollationError` naming the first
 * that does not (any column of another dialect). `undefined` when every column was checked
 * before (no promise to wait for). @internal
 */
export function checkCollations(
  db: AnyKysely,
  dialect: MergeDialect,
  meta: ModelMeta,
  columns: readonly ColumnMeta[],
): Promise<void> | undefined {
  let perDb = checked.get(db)
  if (!perDb) checked.set(db, (perDb = new Map()))
  let pending: Promise<void>[] | undefined
  for (const col of columns) {
    const key = `${meta.table}\u0000${col.name}`
    let check = perDb.get(key)
    if (check === undefined) {
      const cache = perDb
      check = lookUp(db, dialect, meta, col).then((refusal) => {
        if (refusal !== undefined) throw refusal
      })
      const settled = check
      // A failed lookup (not a refused collation) is asked again next time.
      settled.then(
        () => ok.add(settled),
        (error: unknown) => {
          if (!(error instanceof UnsupportedCollationError)) cache.delete(key)
        },
      )
      perDb.set(key, check)
      ;(pending ??= []).push(check)
    } else if (!ok.has(check)) (pending ??= []).push(check)
  }
  return pending ? Promise.all(pending).then(() => undefined) : undefined
}
