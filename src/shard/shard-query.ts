/**
 * The SQL of a cross-shard scope: its conditions, and the per-shard queries each merged helper
 * needs (partial aggregates, ordered rows with the order columns, distinct values, groups).
 * Compiled once per dialect and reused on every shard of that dialect.
 */
import type { CompiledQuery, RawBuilder } from 'kysely'
import { sql } from '../model/kysely'
import { writeValue } from '../model/coerce'
import { columnOf, QueryShape, whereExpression, type Condition, type Order } from '../model/conditions'
import { databaseState, type AnyKysely } from '../model/connection'
import { type ModelMeta } from '../model/decorators'
import { compilerKey, templateFor } from '../model/templates'

/** @internal The state of a cross-shard scope. */
export interface ShardQueryState {
  readonly conditions: readonly Condition[]
  readonly order: readonly Order[]
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** @internal A query builder for one dialect: `select … from table where …`. */
export function baseSelect(db: AnyKysely, meta: ModelMeta, conditions: readonly Condition[]) {
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
  conditions: readonly Condition[],
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
 * @internal What a cross-shard scope's SQL depends on (its {@link QueryShape}: columns,
 * operators, list lengths, order, whether rows are limited), and a copy of its state with a
 * hole for each value (`limit` standing for the `offset + limit` rows each shard sends).
 */
export interface ShardShape {
  readonly shape: QueryShape
  readonly holed: ShardQueryState
}

/** @internal The {@link ShardShape} of `state`. */
export function shapeOf(state: ShardQueryState): ShardShape {
  const shape = new QueryShape()
  const conditions = shape.where(state.conditions)
  shape.orderBy(state.order)
  let limit: number | undefined
  if (state.limit !== undefined) {
    shape.key += '|L'
    // Kysely binds a limit of any value as a parameter, so a hole can stand in for it.
    limit = shape.hole(state.limit + (state.offset ?? 0)) as unknown as number
  }
  return { shape, holed: { conditions, order: state.order, limit, offset: undefined } }
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
    const { shape, holed } = this.shape
    // Namespaced: a model scope of the same model keeps its own templates under similar keys.
    const template = templateFor(this.meta, `acrossShards:${this.key}|${shape.key}`, db, () =>
      this.build(db, holed),
    )
    query = shape.fill(template, databaseState(db).sqlite)
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
