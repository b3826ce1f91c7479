/**
 * Prepared queries, the one place model scopes, grouped scopes and cross-shard scopes turn
 * their state into SQL: the state's shape (what its SQL depends on: columns, operators, list
 * lengths, `is` values, order, whether it has a limit or offset) as one key, the state with a
 * {@link Hole} for each value, each helper's template compiled once per shape and dialect
 * (`templates.ts`), and that template filled with the state's own values. A new clause is
 * added here once: to the key, to {@link HoledParts} and to {@link selectParts}. @internal
 */
import type { CompiledQuery } from 'kysely'
import { sql } from './kysely'
import { writeValue, type ColumnKind } from './coerce'
import { applyPage, whereExpression, type Condition, type Order } from './conditions'
import { databaseState, type AnyKysely } from './connection'
import { type ColumnMeta, type ModelMeta } from './decorators'
import { compilerKey, fillHoles, Hole, templateFor, type Holed } from './templates'

/** What a scope's SQL is made of. @internal */
export interface QueryParts {
  readonly conditions: readonly Condition[]
  readonly order: readonly Order[]
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** {@link QueryParts} with a hole for each value: what a template is built from. @internal */
export interface HoledParts {
  readonly conditions: readonly Condition[]
  readonly order: readonly Order[]
  readonly limit: Holed<number> | undefined
  readonly offset: Holed<number> | undefined
}

const quotedNames = new WeakMap<ColumnMeta, string>()
/** A column's SQL name as JSON, for keys (kept: a shape is built per helper call). */
function quoted(column: ColumnMeta): string {
  let name = quotedNames.get(column)
  if (name === undefined) quotedNames.set(column, (name = JSON.stringify(column.name)))
  return name
}

/**
 * The prepared queries of one scope state: its shape's key and holed parts, built once in one
 * pass, and each helper's query compiled from the shape's template and filled with this
 * state's values (kept per dialect, so a scope returns the same object). @internal
 */
export class PreparedQueries {
  /** What the SQL depends on besides the helper; two states of one key differ only in values. */
  private key = ''
  private readonly values: unknown[] = []
  private readonly kinds: ColumnKind[] = []
  /** The filled queries by compiler (see `compilerKey`), then name. */
  private filled: Map<object, Map<string, CompiledQuery<unknown>>> | undefined
  /** The parts with a hole for each value. */
  readonly holed: HoledParts

  constructor(
    /** What the templates are kept per (a model's metadata). */
    private readonly owner: ModelMeta,
    /** Keeps one kind of scope's templates apart from another's under the same helper names. */
    private readonly namespace: string,
    parts: QueryParts,
  ) {
    const conditions = parts.conditions.map((c) => this.condition(c))
    this.key += '|'
    for (const o of parts.order) this.key += `${quoted(o.column)} ${o.direction},`
    // Kysely binds a limit or offset of any value as a parameter, so a hole stands in for it.
    const limit = parts.limit === undefined ? undefined : this.hole(parts.limit, 'number', '|L')
    const offset = parts.offset === undefined ? undefined : this.hole(parts.offset, 'number', '|O')
    this.holed = { conditions, order: parts.order, limit, offset }
  }

  /** `c` with a hole for each value (an `is` value stays, in the key). */
  private condition(c: Condition): Condition {
    this.key += `${quoted(c.column)} ${c.operator} `
    if (c.operator === 'is' || c.operator === 'is not') {
      this.key += `${String(c.value)};`
      return c
    }
    if (c.operator === 'in' || c.operator === 'not in') {
      const list = c.value as unknown[]
      this.key += `[${list.length}];`
      return { ...c, value: list.map((v) => this.hole(v, c.column.kind)) }
    }
    return { ...c, value: this.hole(c.value, c.column.kind, '?;') }
  }

  /**
   * A hole standing for `value` (bound as a `kind` value when filled), its place noted in the
   * key by `mark`. For values beyond the parts (a grouped scope's `having` values): make them
   * before the first {@link query}.
   */
  hole(value: unknown, kind: ColumnKind = 'unknown', mark = ''): Hole {
    if (this.filled !== undefined) throw new Error('PreparedQueries.hole() after query(): the key is fixed')
    this.key += mark
    this.values.push(value)
    this.kinds.push(kind)
    return new Hole(this.values.length - 1)
  }

  /**
   * The query `name` on `db`: the template of this shape (built by `build` from the holed
   * parts, once per shape, name and dialect) filled with this state's values. `name` says
   * everything else the SQL depends on (the helper, its columns).
   */
  query<R>(
    name: string,
    db: AnyKysely,
    build: (holed: HoledParts, sqlite: boolean) => CompiledQuery<R>,
  ): CompiledQuery<R> {
    const compiler = compilerKey(db)
    this.filled ??= new Map()
    let byName = this.filled.get(compiler)
    if (!byName) this.filled.set(compiler, (byName = new Map()))
    const kept = byName.get(name) as CompiledQuery<R> | undefined
    if (kept) return kept
    const sqlite = databaseState(db).sqlite
    const template = templateFor(this.owner, `${this.namespace}${name}|${this.key}`, db, () =>
      build(this.holed, sqlite),
    )
    const query = fillHoles(
      template,
      this.values.map((v, i) => writeValue(this.kinds[i] as ColumnKind, v, sqlite)),
    )
    byName.set(name, query as CompiledQuery<unknown>)
    return query
  }
}

/** `select … from table where …` with `conditions` (holed or not). @internal */
export function selectWhere(db: AnyKysely, meta: ModelMeta, conditions: readonly Condition[]) {
  let qb = db.selectFrom(meta.table)
  const where = whereExpression(conditions, databaseState(db).sqlite)
  if (where) qb = qb.where(where)
  return qb
}

/**
 * `select … from table where … order by … limit … offset …` of `parts` (holed or not), with
 * `extra` joined to the conditions; `ordered: false` leaves the order out (an aggregate over
 * every row ignores it, and PostgreSQL refuses `count(*) … order by col`). @internal
 */
export function selectParts(
  db: AnyKysely,
  meta: ModelMeta,
  parts: HoledParts,
  options: { readonly extra?: Condition; readonly ordered?: boolean } = {},
) {
  const { extra, ordered = true } = options
  let qb = selectWhere(db, meta, extra ? [...parts.conditions, extra] : parts.conditions)
  if (ordered) for (const o of parts.order) qb = qb.orderBy(sql.id(o.column.name), o.direction)
  return applyPage(qb, parts.limit, parts.offset, databaseState(db).dialect)
}

/** Whether `parts` has a limit or an offset (then an aggregate reads a subquery of its rows). @internal */
export function isPaged(parts: HoledParts): boolean {
  return parts.limit !== undefined || parts.offset !== undefined
}
