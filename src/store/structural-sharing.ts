/**
 * Structural sharing: new data that is deep-equal to the old, in whole or in parts, keeps the
 * old references for the equal parts — so `===` tells a consumer what did not change.
 */

function isPlainArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length === Object.keys(value).length
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * `next`, except that every part of it deep-equal to the same part of `previous` is replaced
 * by that part of `previous` (plain objects and arrays are compared; anything else by
 * `Object.is`). When everything is equal, `previous` itself is returned.
 *
 * @example
 * ```ts
 * import { replaceEqualDeep } from 'tributary'
 * const old = { user: { id: 1 }, tags: ['a'] }
 * const merged = replaceEqualDeep(old, { user: { id: 1 }, tags: ['a', 'b'] })
 * merged.user === old.user // true
 * ```
 */
export function replaceEqualDeep<T>(previous: unknown, next: T): T {
  if (previous === next) return next
  const array = isPlainArray(previous) && isPlainArray(next)
  if (!array && !(isPlainObject(previous) && isPlainObject(next))) return next
  const prev = previous as Record<string, unknown>
  const nextRecord = next as Record<string, unknown>
  const prevKeys = array ? undefined : Object.keys(prev)
  const nextKeys = array ? undefined : Object.keys(nextRecord)
  const prevSize = array ? (previous as unknown[]).length : (prevKeys as string[]).length
  const size = array ? (next as unknown[]).length : (nextKeys as string[]).length
  const copy = (array ? new Array<unknown>(size) : {}) as Record<string, unknown>
  let equal = 0
  for (let i = 0; i < size; i++) {
    const key = array ? i : (nextKeys as string[])[i]!
    const a = prev[key]
    const b = nextRecord[key]
    if (a === b) {
      copy[key] = a
      if (array ? i < prevSize : Object.prototype.hasOwnProperty.call(prev, key)) equal++
      continue
    }
    const shared =
      a === null || b === null || typeof a !== 'object' || typeof b !== 'object' ? b : replaceEqualDeep(a, b)
    copy[key] = shared
    if (shared === a && a !== undefined) equal++
  }
  return (prevSize === size && equal === prevSize ? previous : copy) as T
}

/** Applies a `structuralSharing` option to new data. @internal */
export function shareStructure<T>(
  option: boolean | ((oldData: unknown, newData: unknown) => unknown),
  previous: T | undefined,
  next: T,
): T {
  if (option === false || previous === undefined) return next
  if (typeof option === 'function') return option(previous, next) as T
  return replaceEqualDeep(previous, next)
}
