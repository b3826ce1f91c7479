/**
 * Turns the raw values sources return (mostly strings) into the property's type: numbers
 * (finite ones), booleans, dates, URLs, JSON objects and arrays, instances of a class, or
 * whatever a parser function makes of them. Keys that could replace a prototype (`__proto__`,
 * `constructor`, `prototype`) are dropped from every object parsed or built here.
 */
import { SECRET_MASK } from '../core/redact'
import { TributaryError } from '../core/errors'

/** A parser: takes the raw value a source returned and produces the property's value. */
export type ComponentParser<T = unknown> = (raw: unknown) => T | PromiseLike<T>

/** A constructor: a built-in (`Number`, `String`, `Boolean`, `Date`, `URL`, `Object`, `Array`, `BigInt`) or a class. */
export type ComponentConstructor = abstract new (...args: never[]) => unknown

/** A class built from a JSON object by its static `fromJSON` (its constructor may be private). */
export interface JsonFactory {
  fromJSON(data: never): unknown
  readonly prototype: unknown
}

/**
 * The type of a component: a constructor, a class with a static `fromJSON`, or a parser function. A function written with
 * `class` syntax (or a built-in) is a constructor; any other function is a parser.
 */
export type ComponentType = ComponentConstructor | JsonFactory | ComponentParser

/** A value-to-type converter built for a component's `type` (what `@Component` coerces a source's value with). */
export interface Coercer {
  /** Converts; throws a {@link CoercionError} (or returns a promise, for async parsers). */
  (raw: unknown): unknown
  /** What it converts to, e.g. `'number'`, for messages. */
  readonly typeName: string
}

/**
 * A raw value could not be converted. The message never contains the value: the resolver adds
 * it (masked for secrets) when it wraps this error in a `ComponentError`.
 */
export class CoercionError extends TributaryError {
  static override readonly kind: string = 'CoercionError'

  constructor(
    /** What the value should have become, e.g. `'number'`. */
    readonly typeName: string,
    /** Why, without the value itself. */
    readonly reason?: string,
  ) {
    super(`cannot convert to ${typeName}${reason ? ` (${reason})` : ''}`)
  }
}

const TRUE = new Set(['true', '1', 'yes', 'y', 'on'])
const FALSE = new Set(['false', '0', 'no', 'n', 'off'])
const BUILT_INS = new Set<unknown>([Number, String, Boolean, Date, URL, Object, Array, BigInt])

/** True when `type` is a constructor rather than a parser function. */
export function isConstructorType(type: ComponentType): type is ComponentConstructor {
  return (
    BUILT_INS.has(type) ||
    (typeof type === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(type)))
  )
}

/** A short, safe description of a raw value for an error message: `'***'` when secret. */
export function showValue(raw: unknown, secret: boolean): string {
  if (secret) return SECRET_MASK
  if (typeof raw === 'string') return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw)
  if (raw === null || raw === undefined || typeof raw !== 'object') return String(raw)
  if (raw instanceof Date) return raw.toISOString()
  return Array.isArray(raw) ? 'an array' : 'an object'
}

/** The type a fallback value shows, used when there is no `design:type` and no `type`. */
export function typeOfValue(value: unknown): ComponentConstructor | undefined {
  switch (typeof value) {
    case 'number':
      return Number
    case 'string':
      return String
    case 'boolean':
      return Boolean
    case 'bigint':
      return BigInt as unknown as ComponentConstructor
    case 'object':
      if (value === null) return undefined
      if (Array.isArray(value)) return Array
      if (value instanceof Date) return Date
      if (value instanceof URL) return URL
      return Object
    default:
      return undefined
  }
}

/** Keys that would replace an object's prototype (or reach its class) when assigned. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

function dropUnsafeKey(this: unknown, key: string, value: unknown): unknown {
  return UNSAFE_KEYS.has(key) ? undefined : value
}

function parseJson(raw: string, typeName: string): unknown {
  try {
    return JSON.parse(raw, dropUnsafeKey)
  } catch (error) {
    // The reviver walks the document recursively: one nested thousands deep overflows the stack.
    if (error instanceof RangeError) throw new CoercionError(typeName, 'JSON nested too deeply')
    throw new CoercionError(typeName, 'not valid JSON')
  }
}

/**
 * A copy of plain data without `__proto__`, `constructor` and `prototype` keys at any depth
 * (a source may hand over parsed JSON or YAML holding them as own properties); other values
 * are returned as they are.
 */
function withoutUnsafeKeys(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 64) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    value.forEach((item, index) => {
      const clean = withoutUnsafeKeys(item, depth + 1)
      if (clean !== item) (copy ??= value.slice())[index] = clean
    })
    return copy ?? value
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  let changed = false
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (UNSAFE_KEYS.has(key)) {
      changed = true
      continue
    }
    const item = (value as Record<string, unknown>)[key]
    const clean = withoutUnsafeKeys(item, depth + 1)
    if (clean !== item) changed = true
    Object.defineProperty(copy, key, { value: clean, enumerable: true, writable: true, configurable: true })
  }
  return changed ? copy : value
}

function toNumber(raw: unknown): unknown {
  if (typeof raw === 'number') {
    if (Number.isNaN(raw)) throw new CoercionError('number', 'NaN')
    if (!Number.isFinite(raw)) throw new CoercionError('number', 'not a finite number')
    return raw
  }
  if (typeof raw === 'bigint') {
    const value = Number(raw)
    if (!Number.isFinite(value)) throw new CoercionError('number', 'not a finite number')
    return value
  }
  if (typeof raw === 'string' && raw.trim() !== '') {
    const value = Number(raw.trim())
    if (!Number.isNaN(value)) {
      if (!Number.isFinite(value)) throw new CoercionError('number', 'not a finite number')
      return value
    }
  }
  throw new CoercionError('number')
}

function toString(raw: unknown): unknown {
  if (typeof raw === 'string') return raw
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') return String(raw)
  if (raw instanceof Date) return raw.toISOString()
  if (raw instanceof URL) return raw.href
  if (Buffer.isBuffer(raw)) return raw.toString('utf8')
  throw new CoercionError('string', `got ${Array.isArray(raw) ? 'an array' : typeof raw}`)
}

function toBoolean(raw: unknown): unknown {
  if (typeof raw === 'boolean') return raw
  if (raw === 1 || raw === 0) return raw === 1
  if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase()
    if (TRUE.has(text)) return true
    if (FALSE.has(text)) return false
  }
  throw new CoercionError('boolean', 'expected true/false, 1/0, yes/no')
}

function toDate(raw: unknown): unknown {
  const value =
    raw instanceof Date
      ? raw
      : typeof raw === 'number'
        ? new Date(raw)
        : typeof raw === 'string' && raw.trim() !== ''
          ? new Date(/^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw.trim())
          : undefined
  if (!value || Number.isNaN(value.getTime())) throw new CoercionError('Date')
  return value
}

function toUrl(raw: unknown): unknown {
  if (raw instanceof URL) return raw
  if (typeof raw === 'string') {
    try {
      return new URL(raw.trim())
    } catch {
      throw new CoercionError('URL', 'not an absolute URL')
    }
  }
  throw new CoercionError('URL')
}

function toBigInt(raw: unknown): unknown {
  if (typeof raw === 'bigint') return raw
  try {
    if (typeof raw === 'number' || (typeof raw === 'string' && raw.trim() !== '')) {
      return BigInt(typeof raw === 'string' ? raw.trim() : raw)
    }
  } catch {
    // reported below
  }
  throw new CoercionError('bigint')
}

/** `Object` (also what the compiler emits for interfaces and unions): parses JSON-looking strings. */
function toObject(raw: unknown): unknown {
  if (typeof raw === 'string') {
    const text = raw.trim()
    if (text.startsWith('{') || text.startsWith('[')) return parseJson(text, 'object')
  }
  return withoutUnsafeKeys(raw)
}

function toArray(raw: unknown): unknown {
  if (Array.isArray(raw)) return withoutUnsafeKeys(raw)
  if (typeof raw === 'string') {
    const text = raw.trim()
    if (text.startsWith('[')) {
      const value = parseJson(text, 'array')
      if (Array.isArray(value)) return value
      throw new CoercionError('array')
    }
    return text === '' ? [] : text.split(',').map((part) => part.trim())
  }
  throw new CoercionError('array')
}

function toInstance(type: ComponentConstructor): (raw: unknown) => unknown {
  const typeName = type.name || 'class'
  const fromJSON = (type as unknown as { fromJSON?: unknown }).fromJSON
  return (raw) => {
    if (raw instanceof type) return raw
    const data = typeof raw === 'string' ? parseJson(raw, typeName) : withoutUnsafeKeys(raw)
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new CoercionError(typeName, 'expected a JSON object')
    }
    if (typeof fromJSON === 'function') return (fromJSON as (data: unknown) => unknown).call(type, data)
    return Object.assign(new (type as unknown as new () => object)(), data)
  }
}

function named(convert: (raw: unknown) => unknown, typeName: string): Coercer {
  return Object.assign((raw: unknown) => convert(raw), { typeName })
}

/**
 * Builds the converter for a component type. `undefined` (no type known) passes values
 * through. Strings become numbers, booleans (`true/false/1/0/yes/no/on/off`), dates (ISO text
 * or epoch ms), URLs, JSON objects or arrays (an array also accepts `a,b,c`); a class is built
 * from a JSON object (with its static `fromJSON` if it has one, else by assigning the fields to
 * `new Class()`); a parser function gets the raw value. Internal: `@Component`'s `type` is
 * how users choose one.
 *
 * @example
 * ```ts
 * createCoercer(Number)('8080')      // 8080
 * createCoercer(Boolean)('yes')      // true
 * ```
 * @internal
 */
export function createCoercer(type: ComponentType | undefined): Coercer {
  if (type === undefined) return named((raw) => raw, 'any')
  if (type === Number) return named(toNumber, 'number')
  if (type === String) return named(toString, 'string')
  if (type === Boolean) return named(toBoolean, 'boolean')
  if (type === Date) return named(toDate, 'Date')
  if (type === URL) return named(toUrl, 'URL')
  if (type === Object) return named(toObject, 'object')
  if (type === Array) return named(toArray, 'array')
  if (type === (BigInt as unknown)) return named(toBigInt, 'bigint')
  if ((type as unknown) === Function || (type as unknown) === Promise || (type as unknown) === Symbol) {
    return named((raw) => raw, 'any')
  }
  if (isConstructorType(type)) return named(toInstance(type), type.name || 'class')
  if (typeof type !== 'function') throw new TypeError('a component type must be a constructor or a function')
  const parser = type as ComponentParser
  // An arrow written inline as `type: (raw) => …` is named "type"; call that one "parser".
  const label = parser.name && parser.name !== 'type' ? `${parser.name}()` : 'parser'
  return named((raw) => parser(raw), label)
}
