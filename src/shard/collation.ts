/**
 * The collation check of cross-shard merges: strings are merged by code point, which is the
 * order of PostgreSQL's `C`, `POSIX` and `C.UTF-8` collations (and of the `builtin`
 * provider); a column with any other collation would be merged in a different order than
 * the database's, so the helper rejects with an {@link UnsupportedCollationError} telling
 * the caller to pass `compare`. Asked once per database and column. @internal
 */
import { CompiledQuery } from '../model/kysely'
import { type AnyKysely } from '../model/connection'
import { type ColumnMeta, type ModelMeta } from '../model/decorators'
import { UnsupportedCollationError } from './errors'

const QUERY = `select to_jsonb(c) as coll, to_jsonb(d) as db
from pg_attribute a
left join pg_collation c on c.oid = a.attcollation
join pg_database d on d.datname = current_database()
where a.attrelid = to_regclass($1) and a.attname = $2`

type Json = Record<string, unknown> | null

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

/**
 * Resolves when every column of `columns` on `db` (a PostgreSQL database) orders strings by
 * code point; rejects with an `UnsupportedCollationError` naming the first that does not.
 * `undefined` when every column was checked before (no promise to wait for). @internal
 */
export function checkCollations(
  db: AnyKysely,
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
      check = db.executeQuery(CompiledQuery.raw(QUERY, [regclass(meta.table), col.name])).then(({ rows }) => {
        const row = rows[0] as { coll: Json; db: Json } | undefined
        const bad = row ? nonCodePointCollation(row.coll, row.db) : undefined
        if (bad !== undefined) throw new UnsupportedCollationError(meta.model, col.property, bad)
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
