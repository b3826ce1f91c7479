/**
 * The SQL of a cross-shard scope: its conditions, and the per-shard queries each merged helper
 * needs (partial aggregates, ordered rows with the order columns, distinct values, groups).
 * Compiled once per dialect and reused on every shard of that dialect.
 */
import { sql, type CompiledQuery, type Expression, type RawBuilder, type SqlBool } from 'kysely'
import { writeValue } from '../model/coerce'
import { databaseState, type AnyKysely } from '../model/connection'
import { type ColumnMeta, type ModelMeta } from '../model/decorators'
import { InvalidColumnError, InvalidOperatorError, InvalidQueryError } from '../model/errors'

/** The operators a cross-shard `where(column, operator, value)` allows. */
export const SHARD_OPERATORS: ReadonlySet<string> = new Set([
  '=',
  '!=',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'not in',
  'like',
  'not like',
  'is',
  'is not',
])

/** @internal One condition of a cross-shard scope. */
export interface ShardCondition {
  readonly column: ColumnMeta
  readonly operator: string
  readonly value: unknown
}

/** @internal One `orderBy` term. */
export interface ShardOrder {
  readonly column: ColumnMeta
  readonly direction: 'asc' | 'desc'
}

/** @internal The state of a cross-shard scope. */
export interface ShardQueryState {
  readonly conditions: readonly ShardCondition[]
  readonly order: readonly ShardOrder[]
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** @internal */
export function columnOf(meta: ModelMeta, name: unknown): ColumnMeta {
  const found = typeof name === 'string' ? meta.lookup.get(name) : undefined
  if (!found) throw new InvalidColumnError(meta.model, name)
  return found
}

/** @internal Validates and normalises a condition the way model scopes do. */
export function condition(
  meta: ModelMeta,
  col: ColumnMeta,
  operator: unknown,
  value: unknown,
): ShardCondition {
  const op = typeof operator === 'string' ? operator.toLowerCase() : operator
  if (typeof op !== 'string' || !SHARD_OPERATORS.has(op)) throw new InvalidOperatorError(meta.model, operator)
  if ((op === 'in' || op === 'not in') && !Array.isArray(value)) {
    throw new InvalidQueryError(meta.model, col.property, `"${op}" needs an array value`)
  }
  if (value === null && op === '=') return { column: col, operator: 'is', value }
  if (value === null && (op === '!=' || op === '<>')) return { column: col, operator: 'is not', value }
  if ((op === 'is' || op === 'is not') && value !== null && typeof value !== 'boolean') {
    throw new InvalidQueryError(meta.model, col.property, `"${op}" takes null or a boolean`)
  }
  return { column: col, operator: op, value }
}

function whereExpression(
  conditions: readonly ShardCondition[],
  sqlite: boolean,
): Expression<SqlBool> | undefined {
  if (conditions.length === 0) return undefined
  const parts = conditions.map((c): RawBuilder<unknown> => {
    const ref = sql.id(c.column.name)
    if (c.operator === 'is' || c.operator === 'is not') {
      const v = c.value === null ? sql`null` : c.value ? sql`true` : sql`false`
      return sql`${ref} ${sql.raw(c.operator)} ${v}`
    }
    if (c.operator === 'in' || c.operator === 'not in') {
      const values = (c.value as unknown[]).map((v) => writeValue(c.column.kind, v, sqlite))
      if (values.length === 0) return c.operator === 'in' ? sql`1 = 0` : sql`1 = 1`
      return sql`${ref} ${sql.raw(c.operator)} (${sql.join(values)})`
    }
    return sql`${ref} ${sql.raw(c.operator)} ${writeValue(c.column.kind, c.value, sqlite)}`
  })
  return (parts.length === 1 ? parts[0] : sql.join(parts, sql` and `)) as Expression<SqlBool>
}

/** @internal A query builder for one dialect: `select … from table where …`. */
export function baseSelect(db: AnyKysely, meta: ModelMeta, conditions: readonly ShardCondition[]) {
  const sqlite = databaseState(db).sqlite
  let qb = db.selectFrom(meta.table)
  const where = whereExpression(conditions, sqlite)
  if (where) qb = qb.where(where)
  return qb
}

/** @internal `update`/`delete` with the scope's conditions. */
export function compileWrite(
  db: AnyKysely,
  meta: ModelMeta,
  conditions: readonly ShardCondition[],
  values: Record<string, unknown> | undefined,
): CompiledQuery<unknown> {
  const sqlite = databaseState(db).sqlite
  const where = whereExpression(conditions, sqlite)
  if (values) {
    const row: Record<string, unknown> = {}
    for (const key of Object.keys(values)) {
      const col = columnOf(meta, key)
      row[col.name] = writeValue(col.kind, values[key], sqlite)
    }
    let qb = db.updateTable(meta.table).set(row)
    if (where) qb = qb.where(where)
    return qb.compile()
  }
  let qb = db.deleteFrom(meta.table)
  if (where) qb = qb.where(where)
  return qb.compile()
}

/** @internal Orders and limits rows: each shard returns its first `offset + limit` rows. */
export function orderedSelect(
  db: AnyKysely,
  meta: ModelMeta,
  state: ShardQueryState,
  selection: ReadonlyArray<RawBuilder<unknown> | ReturnType<typeof aliased>>,
): CompiledQuery<Record<string, unknown>> {
  let qb = baseSelect(db, meta, state.conditions).select(selection as never)
  for (const o of state.order) qb = qb.orderBy(sql.id(o.column.name), o.direction)
  if (state.limit !== undefined) qb = qb.limit(state.limit + (state.offset ?? 0))
  return qb.compile() as CompiledQuery<Record<string, unknown>>
}

/** @internal `column as alias`. */
export function aliased(column: string, alias: string) {
  return sql.id(column).as(alias)
}

/** @internal Compiles once per dialect (adapter class) and reuses the query on every shard. */
export class CompileOnce<R> {
  private readonly byDialect = new Map<unknown, CompiledQuery<R>>()
  constructor(private readonly build: (db: AnyKysely) => CompiledQuery<R>) {}

  /** How many times the query was compiled (one per dialect). */
  get compilations(): number {
    return this.byDialect.size
  }

  for(db: AnyKysely): CompiledQuery<R> {
    const dialect = db.getExecutor().adapter.constructor
    let query = this.byDialect.get(dialect)
    if (!query) this.byDialect.set(dialect, (query = this.build(db)))
    return query
  }
}
