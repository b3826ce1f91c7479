/**
 * Model instances from result rows, at the cost of hand-written code: one function per model
 * (and row shape), generated once, that constructs the instance and reads each column with a
 * reader for its kind — no per-row loop over the columns, no switch on the kind per value,
 * and property stores the engine can inline. @internal
 */
import { readValue, toSqlNumber, type ColumnKind } from './coerce'
import { type ColumnMeta } from './decorators'

type Reader = (value: unknown) => unknown

/** A reader of one value of `kind` (as `readValue`, without its switch per value). @internal */
export function readerOf(kind: ColumnKind): (value: unknown) => unknown {
  switch (kind) {
    case 'number':
      return (v) => (typeof v === 'number' ? v : v === null || v === undefined ? null : toSqlNumber(v))
    case 'string':
      return (v) => (typeof v === 'string' ? v : readValue('string', v))
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : readValue('boolean', v))
    case 'unknown':
      return (v) => (v === undefined ? null : v)
    default:
      return (v) => readValue(kind, v)
  }
}

const cache = new WeakMap<object, Map<string, (row: Record<string, unknown>) => object>>()

/**
 * The function reading a row into an instance of `model`: column `c` is read from the row's
 * `prefix + c.property`. @internal
 */
export function rowReader<M extends object>(
  model: new () => M,
  columns: readonly ColumnMeta[],
  prefix = '',
): (row: Record<string, unknown>) => M {
  let perPrefix = cache.get(model)
  if (!perPrefix) cache.set(model, (perPrefix = new Map()))
  let read = perPrefix.get(prefix)
  if (!read) {
    const body = columns
      .map((c, i) => {
        const name = JSON.stringify(c.property)
        return `m[${name}] = r[${i}](row[${JSON.stringify(prefix + c.property)}]);`
      })
      .join('\n')
    const make = new Function(
      'M',
      'r',
      `return function read(row) { const m = new M();\n${body}\nreturn m }`,
    ) as (m: new () => M, readers: Reader[]) => (row: Record<string, unknown>) => M
    read = make(
      model,
      columns.map((c) => readerOf(c.kind)),
    ) as (row: Record<string, unknown>) => object
    perPrefix.set(prefix, read)
  }
  return read as (row: Record<string, unknown>) => M
}
