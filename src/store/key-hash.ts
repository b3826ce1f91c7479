/**
 * Stable hashing of query keys: arrays of JSON values, where the order of an object's
 * properties does not matter. Also prefix matching on hashes, used by `invalidate(prefix)`.
 */
import { TributaryError, hasErrorKind } from '../core/errors'

/** A JSON value that may appear in a query key. */
export type QueryKeyPart =
  | string
  | number
  | boolean
  | null
  | readonly QueryKeyPart[]
  | { readonly [property: string]: QueryKeyPart | undefined }

/** A query key: an array of JSON values, e.g. `['user', 42]` or `['users', { active: true }]`. */
export type QueryKey = readonly QueryKeyPart[]

/** A query key that cannot be hashed: not an array, or holding a value JSON cannot express. */
export class QueryKeyError extends TributaryError {
  static override readonly kind: string = 'QueryKeyError'

  constructor(
    /** Where in the key the bad value sits, e.g. `key[1].id`. */
    readonly path: string,
    /** What is wrong with it. */
    readonly problem: string,
  ) {
    super(`QueryStore: query key ${path} ${problem}; keys are arrays of JSON values`)
  }
}

/** True when `error` is a {@link QueryKeyError}. */
export function isQueryKeyError(error: unknown): error is QueryKeyError {
  return hasErrorKind(error, 'QueryKeyError')
}

/** Nesting below which no cycle check is made (a key that deep is almost surely cyclic). */
const TRACK_FROM_DEPTH = 32

/** The deepest nesting a key may have: deeper, the encoder's recursion would overflow the stack. */
const MAX_KEY_DEPTH = 256

/**
 * Encodes one part. Past {@link TRACK_FROM_DEPTH} levels the objects on the current path are
 * tracked, so a cycle (an array or object holding itself, or a `toJSON` returning itself) is a
 * {@link QueryKeyError} at the position where it closes — while the common shallow key pays
 * nothing for the check.
 */
function encode(value: unknown, path: string, depth = 0, ancestors?: Set<object>): string {
  if (depth > MAX_KEY_DEPTH) {
    const at = path.length > 60 ? `${path.slice(0, 60)}…` : path
    throw new QueryKeyError(at, `is nested deeper than ${MAX_KEY_DEPTH} levels`)
  }
  if (depth >= TRACK_FROM_DEPTH && typeof value === 'object' && value !== null) {
    ancestors ??= new Set()
    if (ancestors.has(value)) throw new QueryKeyError(path, 'refers back to itself (a cycle)')
    ancestors.add(value)
    try {
      return encodeValue(value, path, depth, ancestors)
    } finally {
      ancestors.delete(value)
    }
  }
  return encodeValue(value, path, depth, ancestors)
}

function encodeValue(
  value: unknown,
  path: string,
  depth: number,
  ancestors: Set<object> | undefined,
): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw new QueryKeyError(path, `is ${value}, not a finite number`)
      return value === 0 ? '0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++)
          out += (i ? ',' : '') + encode(value[i], `${path}[${i}]`, depth + 1, ancestors)
        return out + ']'
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') {
        const json: unknown = toJSON.call(value)
        if (json === value) throw new QueryKeyError(path, 'has a toJSON() that returns itself (a cycle)')
        return encode(json, path, depth + 1, ancestors)
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new QueryKeyError(path, `is a ${describeType(value)}, not a plain object`)
      }
      const record = value as Record<string, unknown>
      const names = Object.keys(record).sort()
      let out = '{'
      let first = true
      for (const name of names) {
        const item = record[name]
        if (item === undefined) continue
        out +=
          (first ? '' : ',') +
          JSON.stringify(name) +
          ':' +
          encode(item, `${path}.${name}`, depth + 1, ancestors)
        first = false
      }
      return out + '}'
    }
    default:
      throw new QueryKeyError(path, `is ${describeType(value)}`)
  }
}

function describeType(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object'
  return typeof value === 'function' ? 'a function' : String(typeof value === 'symbol' ? 'a symbol' : value)
}

/**
 * Hashes a query key to a string: equal keys (object properties in any order) give equal
 * hashes. Throws {@link QueryKeyError} for a key that is not an array of JSON values.
 *
 * @example
 * ```ts
 * import { hashKey } from 'tributary'
 * hashKey(['users', { b: 1, a: 2 }]) === hashKey(['users', { a: 2, b: 1 }]) // true
 * ```
 */
export function hashKey(key: QueryKey): string {
  if (!Array.isArray(key)) throw new QueryKeyError('key', `is ${describeType(key)}, not an array`)
  let out = '['
  for (let i = 0; i < key.length; i++) out += (i ? ',' : '') + encode(key[i], `key[${i}]`)
  return out + ']'
}

/** The hash prefix every key starting with `prefix` has (the hash without its closing `]`). */
export function prefixOfHash(prefixHash: string): string {
  return prefixHash.slice(0, -1)
}

/**
 * True when the key hashed to `hash` starts with the key whose {@link prefixOfHash} is
 * `prefix`. Element boundaries are respected: `['a']` matches `['a', 1]` but not `['ab']`.
 */
export function hashStartsWith(hash: string, prefix: string): boolean {
  if (!hash.startsWith(prefix)) return false
  if (prefix.length === 1) return true // the empty key matches every key
  const next = hash.charCodeAt(prefix.length)
  return next === 44 /* , */ || next === 93 /* ] */
}

/**
 * True when `key` starts with every element of `prefix` (compared by value, object property
 * order ignored).
 *
 * @example
 * ```ts
 * import { matchesKeyPrefix } from 'tributary'
 * matchesKeyPrefix(['user', 1, 'posts'], ['user', 1]) // true
 * ```
 */
export function matchesKeyPrefix(key: QueryKey, prefix: QueryKey): boolean {
  return hashStartsWith(hashKey(key), prefixOfHash(hashKey(prefix)))
}
