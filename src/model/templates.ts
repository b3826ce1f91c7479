/**
 * Compiled-query templates: a scope's SQL depends only on its shape (which columns, operators,
 * list lengths, order, whether it has a limit or offset), not on its values. Each shape is
 * compiled once per database with {@link Hole}s where the values go; a scope then only fills
 * its own values in. So a helper on a new scope (`User.where({ email }).asyncFindBy(…)` with a
 * different email each call) costs no Kysely compile after the first. @internal
 */
import { type CompiledQuery } from 'kysely'
import { type AnyKysely } from './connection'

/** Stands for the value at `index` in a compiled template. @internal */
export class Hole {
  constructor(readonly index: number) {}
}

/** The most shapes kept per model; past it the oldest go (a list of many lengths makes many). */
const MAX_TEMPLATES = 512

const perModel = new WeakMap<object, Map<string, WeakMap<AnyKysely, CompiledQuery<unknown>>>>()

/**
 * The template compiled for `shape` on `db`, building it with `build` the first time.
 * `owner` is what the templates are kept per (a model's metadata). @internal
 */
export function templateFor<R>(
  owner: object,
  shape: string,
  db: AnyKysely,
  build: () => CompiledQuery<R>,
): CompiledQuery<R> {
  let templates = perModel.get(owner)
  if (!templates) perModel.set(owner, (templates = new Map()))
  let perDb = templates.get(shape)
  if (!perDb) {
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value as string)
    templates.set(shape, (perDb = new WeakMap()))
  }
  let template = perDb.get(db)
  if (!template) perDb.set(db, (template = build() as CompiledQuery<unknown>))
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
