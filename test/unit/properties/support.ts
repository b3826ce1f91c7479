/**
 * What the property tests share: arbitrary inputs (anything, with null prototypes, BigInts,
 * boxed values, `__proto__`/`constructor`/`prototype` keys, cyclic and deep values, huge and
 * non-finite numbers), the rule every call must keep, and a check that `Object.prototype` and
 * `Array.prototype` are left as they were.
 */
import fc from 'fast-check'
import { isTributaryError } from 'tributary'

/** Runs per property: enough to find the odd input, few enough to keep the suite fast. */
export const RUNS = { numRuns: 200 } as const

const dangerousKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'then')

/** Keys as a user (or an attacker) may write them. */
export const anyKey: fc.Arbitrary<string> = fc.oneof(fc.string({ maxLength: 12 }), dangerousKey)

/** Any value fast-check can make, with the unusual kinds on. */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  key: anyKey,
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
})

/** Numbers at the edges: huge, tiny, negative zero, non-finite, past 2^31 and 2^53. */
export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    Infinity,
    -Infinity,
    Number.NaN,
    -0,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.parseFloat('1e400'),
    -1,
  ),
)

/** A value that refers to itself: an array, an object, or a `toJSON` returning itself. */
export const cyclic: fc.Arbitrary<unknown> = fc.tuple(anyValue, fc.nat(2)).map(([inner, kind]) => {
  if (kind === 0) {
    const array: unknown[] = [inner]
    array.push(array)
    return array
  }
  if (kind === 1) {
    const object: Record<string, unknown> = { inner }
    object.self = object
    return object
  }
  const json: { toJSON(): unknown } = { toJSON: () => json }
  return json
})

/** Arrays or objects nested `depth` levels (no cycle). */
export function deep(depth: number, kind: 'array' | 'object' = 'array'): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value }
  return value
}

/** A value for an option: often of the kinds options take, often anything. */
export const optionValue: fc.Arbitrary<unknown> = fc.oneof(
  anyValue,
  edgeNumber,
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.constant(undefined),
  fc.constant(null),
  fc.func(fc.anything()),
  cyclic,
)

/** An options object over `known` keys (plus misspelt and dangerous ones), with any values. */
export function optionsOver(known: readonly string[]): fc.Arbitrary<unknown> {
  const keys = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: anyKey })
  return fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(keys, optionValue, { maxKeys: 5 }) },
    { weight: 1, arbitrary: anyValue },
    { weight: 1, arbitrary: cyclic },
  )
}

/**
 * The rule: a call with arbitrary input returns, or throws a `TributaryError`, or a
 * `TypeError`/`RangeError` that names the option(s). Anything else fails the property.
 */
export function assertAcceptable(error: unknown, names: RegExp = /option/): void {
  if (isTributaryError(error)) return
  if ((error instanceof TypeError || error instanceof RangeError) && names.test(error.message)) return
  throw new Error(
    `unacceptable ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    { cause: error },
  )
}

/** Calls `fn`, holding it to {@link assertAcceptable}. */
export function attempt(fn: () => unknown, names?: RegExp): unknown {
  try {
    return fn()
  } catch (error) {
    assertAcceptable(error, names)
    return undefined
  }
}

/** Awaits `fn` (at most `ms`: a hang fails), holding a rejection to {@link assertAcceptable}. */
export async function attemptAsync(fn: () => unknown, names?: RegExp, ms = 2_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([Promise.resolve().then(fn), hang])
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('hung for')) throw error
    assertAcceptable(error, names)
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

/** What `Object.prototype` and `Array.prototype` hold now, to compare after a run. */
function prototypeState(): Array<[string, PropertyDescriptor | undefined]> {
  const describe = (target: object, label: string): Array<[string, PropertyDescriptor | undefined]> =>
    Reflect.ownKeys(target).map((key) => [
      `${label}.${String(key)}`,
      Object.getOwnPropertyDescriptor(target, key),
    ])
  return [...describe(Object.prototype, 'Object'), ...describe(Array.prototype, 'Array')]
}

const pristine = prototypeState()

function same(a: PropertyDescriptor | undefined, b: PropertyDescriptor | undefined): boolean {
  return Object.is(a?.value, b?.value) && Object.is(a?.get, b?.get) && Object.is(a?.set, b?.set)
}

/** Fails when a run has added, removed or replaced anything on the built-in prototypes. */
export function assertPrototypesUntouched(): void {
  const now = prototypeState()
  const changed = now
    .filter(([name, d], i) => pristine[i]?.[0] !== name || !same(d, pristine[i]?.[1]))
    .map(([name]) => name)
  if (now.length !== pristine.length || changed.length > 0) {
    throw new Error(`a prototype was changed: ${changed.join(', ') || 'a key was removed'}`)
  }
  if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype polluted')
}
