/**
 * `@Table(name)` and `@Column(options)`: where a model's rows live and which properties are
 * columns. Metadata is recorded with reflect-metadata (legacy decorators, where `design:type`
 * gives each column's kind) or in the class's decorator metadata (TC39 standard decorators,
 * where `type` should be given explicitly).
 */
import 'reflect-metadata'
import { type ColumnKind } from './coerce'
import { InvalidQueryError } from './errors'
import {
  checks,
  describeValue,
  formatOptionProblem,
  specProblem,
  type OptionSpec,
} from '../core/option-checks'

// TC39 decorator metadata needs Symbol.metadata, which Node 20 lacks (TypeScript's docs polyfill it).
;(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata')
const METADATA = (Symbol as { metadata?: symbol }).metadata as symbol

const TABLE = Symbol.for('tributary.model.table')
const COLUMNS = Symbol.for('tributary.model.columns')

/** A constructor of a value type accepted as `@Column({ type })`. */
export type ColumnTypeConstructor =
  | NumberConstructor
  | StringConstructor
  | BooleanConstructor
  | DateConstructor
  | BigIntConstructor
  | ObjectConstructor
  | ArrayConstructor

/** Options for {@link Column}. */
export interface ColumnOptions {
  /** The column's name in the table. Defaults to the property name. */
  name?: string
  /** Whether this is the primary key used by `asyncFind`. Defaults to `false`. */
  primary?: boolean
  /**
   * How values are coerced when read and written. Defaults to the property's `design:type`
   * (legacy decorators) or no coercion (TC39 decorators, which emit no type). Give it for
   * nullable properties: `design:type` of `Date | null` is `Object` when compiled file by
   * file (`isolatedModules`), which means no coercion. `'json'` (or `Object`) stores JSON text.
   */
  type?: ColumnKind | ColumnTypeConstructor
}

/** What is recorded for one column. */
export interface ColumnMeta {
  /** The model property. */
  readonly property: string
  /** The column name in SQL. */
  readonly name: string
  readonly primary: boolean
  readonly kind: ColumnKind
}

/** Everything known about one model class, computed once on first use. */
export interface ModelMeta {
  readonly model: string
  readonly table: string
  readonly columns: readonly ColumnMeta[]
  /** By property name and by column name. */
  readonly lookup: ReadonlyMap<string, ColumnMeta>
  readonly primary: ColumnMeta | undefined
}

/** Any class, abstract or not: what a model decorator or lookup accepts. */
export type ModelConstructor = abstract new (...args: never[]) => object

function kindOf(type: ColumnOptions['type'] | unknown): ColumnKind {
  if (typeof type === 'string') return type as ColumnKind
  if (type === Number) return 'number'
  if (type === String) return 'string'
  if (type === Boolean) return 'boolean'
  if (type === Date) return 'date'
  if (type === BigInt) return 'bigint'
  if (type === Object) return 'json'
  // `Object` is also what design:type says for a union such as `Date | null`: no coercion.
  if (type === Array) return 'json'
  return 'unknown'
}

function designKind(type: unknown): ColumnKind {
  return type === Object ? 'unknown' : kindOf(type)
}

interface PendingColumn {
  readonly property: string
  readonly options: ColumnOptions
  readonly designType: unknown
}

function ownColumns(holder: object): PendingColumn[] {
  if (!Object.prototype.hasOwnProperty.call(holder, COLUMNS)) {
    Object.defineProperty(holder, COLUMNS, { value: [], enumerable: false })
  }
  return (holder as { [COLUMNS]: PendingColumn[] })[COLUMNS]
}

/**
 * Names the table a model's rows live in. Works as a legacy or a TC39 standard decorator.
 *
 * @example
 * ```ts
 * import { Column, Model, Table } from 'tributary'
 * @Table('users')
 * class User extends Model {
 *   @Column({ primary: true }) id!: number
 * }
 * ```
 */
export function Table(name: string) {
  return (target: ModelConstructor, _context?: ClassDecoratorContext): void => {
    Reflect.defineMetadata(TABLE, name, target)
  }
}

/**
 * Declares a property as a column. Only declared columns may appear in `where`, `orderBy`,
 * aggregates and writes; everything else is refused before SQL is built.
 *
 * @example
 * ```ts
 * import { Column, Model, Table } from 'tributary'
 * @Table('users')
 * class User extends Model {
 *   @Column({ primary: true }) id!: number
 *   @Column({ name: 'updated_at' }) updatedAt!: Date
 *   @Column({ type: 'boolean' }) active!: boolean
 * }
 * ```
 */
export function Column(options: ColumnOptions = {}) {
  return (target: object | undefined, context: string | symbol | ClassFieldDecoratorContext): void => {
    checkColumnOptions(options, target, context)
    if (typeof context === 'object') {
      // TC39 standard decorator: record in the class's decorator metadata.
      if (typeof context.name !== 'string')
        throw new InvalidQueryError('?', String(context.name), 'a column must have a string name')
      const metadata = context.metadata as object | undefined
      if (!metadata) throw new InvalidQueryError('?', context.name, 'decorator metadata is unavailable')
      ownColumns(metadata).push({ property: context.name, options, designType: undefined })
      return
    }
    if (typeof context !== 'string' || !target)
      throw new InvalidQueryError('?', String(context), 'a column must have a string name')
    const designType: unknown = Reflect.getMetadata('design:type', target, context)
    ownColumns((target as { constructor: object }).constructor).push({
      property: context,
      options,
      designType,
    })
  }
}

const COLUMN_KINDS: readonly ColumnKind[] = [
  'number',
  'string',
  'boolean',
  'date',
  'bigint',
  'json',
  'unknown',
]
const COLUMN_TYPES: readonly unknown[] = [Number, String, Boolean, Date, BigInt, Object, Array]
const COLUMN_OPTIONS: OptionSpec = {
  name: checks.name,
  primary: checks.boolean,
  type: (value) =>
    COLUMN_KINDS.includes(value as ColumnKind) || COLUMN_TYPES.includes(value)
      ? undefined
      : `must be one of ${COLUMN_KINDS.map((kind) => `'${kind}'`).join(', ')} or Number, String, Boolean, Date, BigInt, Object, Array, got ${describeValue(value)}`,
}

/** Refuses a misspelt or mistyped `@Column` option when the decorator runs, naming the property. */
function checkColumnOptions(
  options: unknown,
  target: object | undefined,
  context: string | symbol | ClassFieldDecoratorContext,
): void {
  const problem = specProblem(options, COLUMN_OPTIONS)
  if (problem === undefined) return
  const property = String(typeof context === 'object' ? context.name : context)
  const owner =
    typeof context === 'object' ? undefined : (target as { constructor?: { name?: unknown } })?.constructor
  const model = typeof owner?.name === 'string' && owner.name !== '' ? owner.name : '?'
  throw new InvalidQueryError(model, property, `@Column on ${property}: ${formatOptionProblem(problem)}`)
}

const cache = new WeakMap<object, ModelMeta>()

function collect(model: ModelConstructor): PendingColumn[] {
  const chain: object[] = []
  for (
    let c: unknown = model;
    typeof c === 'function' && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    chain.unshift(c as object)
  }
  const all: PendingColumn[] = []
  for (const c of chain) {
    if (Object.prototype.hasOwnProperty.call(c, COLUMNS))
      all.push(...(c as { [COLUMNS]: PendingColumn[] })[COLUMNS])
    const metadata = (c as { [key: symbol]: unknown })[METADATA]
    if (metadata && typeof metadata === 'object' && Object.prototype.hasOwnProperty.call(metadata, COLUMNS)) {
      all.push(...(metadata as { [COLUMNS]: PendingColumn[] })[COLUMNS])
    }
  }
  return all
}

/**
 * The table and columns of a model class, computed on first use and cached. Throws an
 * {@link InvalidQueryError} naming the model when it has no `@Table` or no `@Column`. @internal
 */
export function getModelMeta(model: ModelConstructor): ModelMeta {
  let meta = cache.get(model)
  if (meta) return meta
  const table = Reflect.getMetadata(TABLE, model) as string | undefined
  if (!table) throw new InvalidQueryError(model.name, 'table', `${model.name} has no @Table(name)`)
  const byProperty = new Map<string, ColumnMeta>()
  for (const pending of collect(model)) {
    byProperty.set(pending.property, {
      property: pending.property,
      name: pending.options.name ?? pending.property,
      primary: pending.options.primary ?? false,
      kind:
        pending.options.type !== undefined ? kindOf(pending.options.type) : designKind(pending.designType),
    })
  }
  const columns = [...byProperty.values()]
  if (columns.length === 0)
    throw new InvalidQueryError(model.name, 'columns', `${model.name} declares no @Column`)
  const lookup = new Map<string, ColumnMeta>()
  for (const c of columns) if (!lookup.has(c.name)) lookup.set(c.name, c)
  for (const c of columns) lookup.set(c.property, c)
  meta = { model: model.name, table, columns, lookup, primary: columns.find((c) => c.primary) }
  cache.set(model, meta)
  return meta
}
