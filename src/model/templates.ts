/**
 * Compiled-query templates: a scope's SQL depends only on its shape (which columns, operators,
 * list lengths, order, whether it has a limit or offset) and on the database's dialect and
 * plugins, not on its values. Each shape is compiled once per dialect (and set of plugins)
 * with {@link Hole}s where the values go; a scope then only fills its own values in. So a
 * helper on a new scope (`User.where({ email }).asyncFindBy(…)` with a different email each
 * call) costs no Kysely compile after the first, and shards of one dialect share one
 * compile. @internal
 */
import type { CompiledQuery } from 'kysely'
import { type AnyKysely } from './connection'

/** Stands for the value at `index` in a compiled template. @internal */
export class Hole {
  constructor(readonly index: number) {}
}

/** A value, or the {@link Hole} standing for it in a template. @internal */
export type Holed<T> = T | Hole

/** The most shapes kept per model; past it the oldest go (a list of many lengths makes many). */
const MAX_TEMPLATES = 512

const NO_PLUGINS = {}
/** One key per dialect (adapter class) and plugins: what compiled SQL depends on besides the query. */
const compilerKeys = new WeakMap<object, WeakMap<object, object>>()
const compilerKeyOf = new WeakMap<AnyKysely, object>()

/**
 * What `db`'s compiled SQL depends on, as a key: the same object for every database of one
 * dialect without plugins (plugins can change the SQL, so a database with plugins gets the
 * key of those plugins). @internal
 */
export function compilerKey(db: AnyKysely): object {
  let key = compilerKeyOf.get(db)
  if (key) return key
  const executor = db.getExecutor()
  const dialect = executor.adapter.constructor
  const plugins = executor.plugins.length === 0 ? NO_PLUGINS : executor.plugins
  let byPlugins = compilerKeys.get(dialect)
  if (!byPlugins) compilerKeys.set(dialect, (byPlugins = new WeakMap()))
  key = byPlugins.get(plugins)
  if (!key) byPlugins.set(plugins, (key = {}))
  compilerKeyOf.set(db, key)
  return key
}

const perModel = new WeakMap<object, Map<string, WeakMap<object, CompiledQuery<unknown>>>>()

/**
 * The template compiled for `shape` on `db`'s dialect (see {@link compilerKey}), building it
 * with `build` the first time. `owner` is what the templates are kept per (a model's
 * metadata). @internal
 */
export function templateFor<R>(
  owner: object,
  shape: string,
  db: AnyKysely,
  build: () => CompiledQuery<R>,
): CompiledQuery<R> {
  let templates = perModel.get(owner)
  if (!templates) perModel.set(owner, (templates = new Map()))
  let perCompiler = templates.get(shape)
  if (!perCompiler) {
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value as string)
    templates.set(shape, (perCompiler = new WeakMap()))
  }
  const compiler = compilerKey(db)
  let template = perCompiler.get(compiler)
  if (!template) perCompiler.set(compiler, (template = build() as CompiledQuery<unknown>))
  return template as CompiledQuery<R>
}

/** `template` with each {@link Hole} replaced by `values[hole.index]` (other holes kept). @internal */
export function fillHoles<R>(template: CompiledQuery<R>, values: readonly unknown[]): CompiledQuery<R> {
  if (values.length === 0) return template
  const parameters = template.parameters.map((p) =>
    p instanceof Hole && p.index >= 0 && p.index < values.length ? values[p.index] : p,
  )
  return { ...template, parameters }
}
