/**
 * The SQL of a cross-shard scope: its conditions, and the per-shard queries each merged helper
 * needs (partial aggregates, ordered rows with the order columns, distinct values, groups).
 * Compiled once per dialect and reused on every shard of that dialect.
 */
import type { CompiledQuery } from 'kysely'
import { sql } from '../model/kysely'
import { writeValue } from '../model/coerce'
import { columnOf, whereExpression, type Condition } from '../model/conditions'
import { databaseState, type AnyKysely } from '../model/connection'
import { type ModelMeta } from '../model/decorators'
import { PreparedQueries, type QueryParts } from '../model/prepared-query'
import { compilerKey } from '../model/templates'

/** @internal The state of a cross-shard scope: its conditions, order and page. */
export type ShardQueryState = QueryParts

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

/** @internal `column as alias`. */
export function aliased(column: string, alias: string) {
  return sql.id(column).as(alias)
}

/**
 * @internal The prepared queries of a cross-shard scope: its shape with `limit` standing for
 * the `offset + limit` rows each shard sends (the offset applies to the merged rows). Each
 * query is compiled once per shape and dialect, kept apart from the model scopes' templates,
 * and filled once per dialect: every shard of a dialect runs the same `CompiledQuery`.
 */
export function shardQueries(meta: ModelMeta, state: ShardQueryState): PreparedQueries {
  const limit = state.limit === undefined ? undefined : state.limit + (state.offset ?? 0)
  return new PreparedQueries(meta, 'acrossShards:', {
    conditions: state.conditions,
    order: state.order,
    limit,
    offset: undefined,
  })
}

/** @internal One query of a cross-shard scope, for each shard's database. */
export interface ShardQuery<R> {
  for(db: AnyKysely): CompiledQuery<R>
}

/**
 * @internal Compiles once per dialect (and plugins, see `compilerKey`) and reuses the query on
 * every shard of it.
 */
export class CompileOnce<R> implements ShardQuery<R> {
  private readonly byCompiler = new Map<object, CompiledQuery<R>>()
  constructor(private readonly build: (db: AnyKysely) => CompiledQuery<R>) {}

  for(db: AnyKysely): CompiledQuery<R> {
    const compiler = compilerKey(db)
    let query = this.byCompiler.get(compiler)
    if (!query) this.byCompiler.set(compiler, (query = this.build(db)))
    return query
  }
}
