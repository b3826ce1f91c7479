/**
 * The SQL of a cross-shard scope: its conditions, and the per-shard queries each merged helper
 * needs (partial aggregates, ordered rows with the order columns, distinct values, groups).
 * Compiled once per dialect and reused on every shard of that dialect.
 */
import { sql, type CompiledQuery, type Expression, type RawBuilder, type SqlBool } from 'kysely'
import { writeValue, type ColumnKind } from '../model/coerce'
import { databaseState, type AnyKysely } from '../model/connection'
import { type ColumnMeta, type ModelMeta } from '../model/decorators'
import { InvalidColumnError, InvalidOperatorError, InvalidQueryError } from '../model/errors'
import { OPERATORS } from '../model/scope'
import { compilerKey, fillHoles, Hole, templateFor } from '../model/templates'

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
  if (typeof op !== 'string' || !OPERATORS.has(op)) throw new InvalidOperatorError(meta.model, operator)
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
    const bind = (v: unknown): unknown => (v instanceof Hole ? v : writeValue(c.column.kind, v, sqlite))
    if (c.operator === 'in' || c.operator === 'not in') {
      const values = (c.value as unknown[]).map(bind)
      if (values.length === 0) return c.operator === 'in' ? sql`1 = 0` : sql`1 = 1`
      return sql`${ref} ${sql.raw(c.operator)} (${sql.join(values)})`
    }
    return sql`${ref} ${sql.raw(c.operator)} ${bind(c.value)}`
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

/**
 * @internal Orders and limits rows. Given a {@link ShardShape}'s holed state, whose `limit`
 * already stands for `offset + limit`: each shard returns its first `offset + limit` rows.
 */
export function orderedSelect(
  db: AnyKysely,
  meta: ModelMeta,
  state: ShardQueryState,
  selection: ReadonlyArray<RawBuilder<unknown> | ReturnType<typeof aliased>>,
): CompiledQuery<Record<string, unknown>> {
  let qb = baseSelect(db, meta, state.conditions).select(selection as never)
  for (const o of state.order) qb = qb.orderBy(sql.id(o.column.name), o.direction)
  if (state.limit !== undefined) qb = qb.limit(state.limit)
  return qb.compile() as CompiledQuery<Record<string, unknown>>
}

/** @internal `column as alias`. */
export function aliased(column: string, alias: string) {
  return sql.id(column).as(alias)
}

/**
 * @internal What a cross-shard scope's SQL depends on (columns, operators, list lengths, order,
 * whether rows are limited) as `key`, its values in hole order, and a copy of its state with a
 * {@link Hole} for each value (`limit` standing for the `offset + limit` rows each shard sends).
 */
export interface ShardShape {
  readonly key: string
  readonly values: readonly unknown[]
  readonly kinds: readonly ColumnKind[]
  readonly holed: ShardQueryState
}

/** @internal The {@link ShardShape} of `state`. */
export function shapeOf(state: ShardQueryState): ShardShape {
  let key = ''
  const values: unknown[] = []
  const kinds: ColumnKind[] = []
  const hole = (value: unknown, kind: ColumnKind): Hole => {
    values.push(value)
    kinds.push(kind)
    return new Hole(values.length - 1)
  }
  const conditions = state.conditions.map((c): ShardCondition => {
    key += `${JSON.stringify(c.column.name)} ${c.operator} `
    if (c.operator === 'is' || c.operator === 'is not') {
      key += `${String(c.value)};`
      return c
    }
    if (c.operator === 'in' || c.operator === 'not in') {
      const list = c.value as unknown[]
      key += `[${list.length}];`
      return { ...c, value: list.map((v) => hole(v, c.column.kind)) }
    }
    key += '?;'
    return { ...c, value: hole(c.value, c.column.kind) }
  })
  key += '|'
  for (const o of state.order) key += `${JSON.stringify(o.column.name)} ${o.direction},`
  let limit: number | undefined
  if (state.limit !== undefined) {
    key += '|L'
    // Kysely binds a limit of any value as a parameter, so a hole can stand in for it.
    limit = hole(state.limit + (state.offset ?? 0), 'unknown') as unknown as number
  }
  return { key, values, kinds, holed: { conditions, order: state.order, limit, offset: undefined } }
}

/**
 * @internal One query of a cross-shard scope. Its SQL is compiled once per shape and dialect
 * (and kept for later scopes of the same shape, as model scopes do), then filled with this
 * scope's values once per dialect: every shard of a dialect runs the same `CompiledQuery`.
 */
export class ShardQuery<R> {
  private readonly filled = new Map<unknown, CompiledQuery<R>>()

  constructor(
    private readonly meta: ModelMeta,
    private readonly key: string,
    private readonly shape: ShardShape,
    private readonly build: (db: AnyKysely, holed: ShardQueryState) => CompiledQuery<R>,
  ) {}

  for(db: AnyKysely): CompiledQuery<R> {
    const compiler = compilerKey(db)
    let query = this.filled.get(compiler)
    if (query) return query
    const sqlite = databaseState(db).sqlite
    const { key, values, kinds, holed } = this.shape
    // Namespaced: a model scope of the same model keeps its own templates under similar keys.
    const template = templateFor(this.meta, `acrossShards:${this.key}|${key}`, db, () =>
      this.build(db, holed),
    )
    query = fillHoles(
      template,
      values.map((v, i) => writeValue(kinds[i] as ColumnKind, v, sqlite)),
    )
    this.filled.set(compiler, query)
    return query
  }
}

/**
 * @internal Compiles once per dialect (and plugins, see `compilerKey`) and reuses the query on
 * every shard of it.
 */
export class CompileOnce<R> {
  private readonly byCompiler = new Map<object, CompiledQuery<R>>()
  constructor(private readonly build: (db: AnyKysely) => CompiledQuery<R>) {}

  for(db: AnyKysely): CompiledQuery<R> {
    const compiler = compilerKey(db)
    let query = this.byCompiler.get(compiler)
    if (!query) this.byCompiler.set(compiler, (query = this.build(db)))
    return query
  }
}
