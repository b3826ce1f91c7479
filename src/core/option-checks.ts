/**
 * The shared checks for options objects handed to the public API: unknown keys (with a
 * suggestion for a misspelling) and durations. Each caller wraps the problem text in its own
 * typed error (or a `RangeError`/`TypeError`) naming where it was given.
 *
 * The duration rule, library-wide: a duration is a number of milliseconds >= 0 (or > 0 where
 * zero makes no sense); any length is kept — past 2³¹−1 ms with chained timers
 * (`setLongTimeout`) — and `Infinity` means "never" where an option documents it. The one
 * exception is `ttl`, how long a value or key may be reused, which is seconds everywhere
 * (`@Component`, `cached()`, `ComponentCache`, `AsyncShardResolver`, `idempotent`), as Redis
 * `EXPIRE`, Consul and HTTP `max-age` count it; see {@link ttlProblem}.
 */
import { didYouMean } from './suggest'

/**
 * A short, safe description of any value for a message: never throws (a `Symbol`, a BigInt, a
 * null-prototype object or a Proxy are fine), never prints an object's contents (which may
 * hold a secret), and cuts long strings. @internal
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return value.description === undefined ? 'a symbol' : `Symbol(${value.description.slice(0, 40)})`
    case 'function':
      return 'a function'
    case 'object':
      return Array.isArray(value) ? 'an array' : 'an object'
    default:
      return String(value)
  }
}

const describe = describeValue

/** The first own key of `options` that is not in `known`, if any. @internal */
export function unknownOption(options: object, known: readonly string[]): string | undefined {
  for (const name of Object.keys(options)) if (!known.includes(name)) return name
  return undefined
}

/**
 * What is wrong with an options object: not an object, or a key that is not in `known` (with a
 * "did you mean" when one is close). `undefined` when nothing is. @internal
 */
export function optionsProblem(options: unknown, known: readonly string[]): string | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return `options must be an object, got ${describe(options)}`
  }
  const name = unknownOption(options, known)
  return name === undefined ? undefined : `unknown option ${JSON.stringify(name)}${didYouMean(name, known)}`
}

/**
 * The check of one option's value (never `undefined`: an option set to `undefined` is not
 * given): the problem as text that follows the option's name ("must be an integer >= 0, got
 * -1"), or `undefined` when the value is fine. @internal
 */
export type OptionCheck = (value: unknown) => string | undefined

/**
 * What an options object may hold: each known option's check, or `true` for one accepted as
 * given (its own code checks it). @internal
 */
export type OptionSpec = Readonly<Record<string, OptionCheck | true>>

/** What {@link specProblem} found: the option (dotted for nested ones; none for the object itself) and the text. @internal */
export interface OptionProblem {
  readonly option: string | undefined
  readonly text: string
  /** The refused value (`undefined` for an unknown key or a non-object). */
  readonly value?: unknown
}

/**
 * The first problem of `options` against `spec`: not an object, an unknown key (with a "did
 * you mean"), or a value its check refuses — unknown keys first, then values in the order
 * given. `prefix` names a nested object (`'backoff.'`). Inherited keys are ignored;
 * `__proto__` given as an own key is an unknown option. Options are checked on hot paths (a
 * store fetch, a model query): a pass walks the keys given (often one or two of a spec's
 * twenty) and allocates only their list. @internal
 */
export function specProblem(options: unknown, spec: OptionSpec, prefix = ''): OptionProblem | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return {
      option: prefix === '' ? undefined : prefix.slice(0, -1),
      text: `${prefix === '' ? 'options' : 'it'} must be an object, got ${describe(options)}`,
    }
  }
  const given = Object.keys(options)
  for (const name of given) {
    if (Object.prototype.hasOwnProperty.call(spec, name)) continue
    const known = Object.keys(spec)
    return {
      option: `${prefix}${name}`,
      text: `unknown option ${JSON.stringify(`${prefix}${name}`)}${didYouMean(name, known, prefix)}`,
    }
  }
  for (const name of given) {
    const check = spec[name]
    if (check === true || check === undefined) continue
    const value: unknown = (options as Record<string, unknown>)[name]
    if (value === undefined) continue
    const nested = (check as { nestedSpec?: OptionSpec }).nestedSpec
    if (nested !== undefined && checks.object(value) === undefined) {
      const problem = specProblem(value, nested, `${prefix}${name}.`)
      if (problem !== undefined) return problem
      continue
    }
    const text = check(value)
    if (text !== undefined) return { option: `${prefix}${name}`, text, value }
  }
  return undefined
}

/** `problem` as one line: "option retry must be …" or "unknown option …". @internal */
export function formatOptionProblem(problem: OptionProblem): string {
  if (problem.option === undefined || problem.text.startsWith('unknown option')) return problem.text
  return `option ${problem.option} ${problem.text}`
}

/**
 * Checks `options` against `spec` (nothing to check when `undefined`) and throws what is wrong,
 * prefixed with `where` (`"envSource(options)"`): a `RangeError` for a number out of range
 * (a number where a number or an integer is wanted), a `TypeError` otherwise (not an object, an unknown key with a suggestion, a wrong type).
 * @internal
 */
export function checkOptions(where: string, options: unknown, spec: OptionSpec): void {
  if (options === undefined) return
  const problem = specProblem(options, spec)
  if (problem === undefined) return
  const message = `${where}: ${formatOptionProblem(problem)}`
  // A number where a number is wanted is out of range; anything else is of the wrong type.
  const range = typeof problem.value === 'number' && /^must be an? (number|integer)/.test(problem.text)
  throw range ? new RangeError(message) : new TypeError(message)
}

/**
 * Ready-made {@link OptionCheck}s, each giving "must be …, got <value>". @internal
 */
export const checks: {
  readonly duration: (rule?: DurationRule) => OptionCheck
  readonly integer: (min: number, max?: number) => OptionCheck
  readonly limit: (min: number) => OptionCheck
  readonly boolean: OptionCheck
  readonly string: OptionCheck
  readonly name: OptionCheck
  readonly function: OptionCheck
  readonly signal: OptionCheck
  readonly object: OptionCheck
  readonly strings: OptionCheck
  readonly oneOf: (values: readonly unknown[]) => OptionCheck
  readonly nested: (spec: OptionSpec) => OptionCheck
  readonly either: (expected: string, ...alternatives: OptionCheck[]) => OptionCheck
} = {
  /** A duration in ms (see {@link durationProblem}). */
  duration:
    (rule: DurationRule = {}): OptionCheck =>
    (value) =>
      durationProblem(value, rule),
  /** An integer in `[min, max]` (`max` defaults to none). */
  integer:
    (min: number, max = Number.MAX_SAFE_INTEGER): OptionCheck =>
    (value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
        ? undefined
        : `must be an integer >= ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max}`}, got ${describe(value)}`,
  /** An integer >= `min`, or `Infinity` (no limit). */
  limit:
    (min: number): OptionCheck =>
    (value) =>
      value === Infinity || (typeof value === 'number' && Number.isInteger(value) && value >= min)
        ? undefined
        : `must be an integer >= ${min} (or Infinity), got ${describe(value)}`,
  boolean: ((value) =>
    typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`) as OptionCheck,
  string: ((value) =>
    typeof value === 'string' ? undefined : `must be a string, got ${describe(value)}`) as OptionCheck,
  /** A non-empty string. */
  name: ((value) =>
    typeof value === 'string' && value.length > 0
      ? undefined
      : `must be a non-empty string, got ${describe(value)}`) as OptionCheck,
  function: ((value) =>
    typeof value === 'function' ? undefined : `must be a function, got ${describe(value)}`) as OptionCheck,
  signal: ((value) =>
    value instanceof AbortSignal
      ? undefined
      : `must be an AbortSignal, got ${describe(value)}`) as OptionCheck,
  /** An object (not null, not an array). */
  object: ((value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? undefined
      : `must be an object, got ${describe(value)}`) as OptionCheck,
  /** An array of strings. */
  strings: ((value) =>
    Array.isArray(value) && value.every((item) => typeof item === 'string')
      ? undefined
      : `must be an array of strings, got ${describe(value)}`) as OptionCheck,
  /** One of `values` (compared with `===`). */
  oneOf:
    (values: readonly unknown[]): OptionCheck =>
    (value) =>
      values.includes(value)
        ? undefined
        : `must be ${values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}, got ${describe(value)}`,
  /** An object checked against the nested `spec` (its problems name `<option>.<key>`). */
  nested: (spec: OptionSpec): OptionCheck => {
    const check: OptionCheck & { nestedSpec?: OptionSpec } = (value) =>
      checks.object(value) ?? specProblem(value, spec)?.text
    check.nestedSpec = spec
    return check
  },
  /** Passes when any of `alternatives` passes; otherwise "must be <expected>, got …". */
  either:
    (expected: string, ...alternatives: OptionCheck[]): OptionCheck =>
    (value) =>
      alternatives.some((check) => check(value) === undefined)
        ? undefined
        : `must be ${expected}, got ${describe(value)}`,
}

/** How {@link durationProblem} judges a duration. @internal */
export interface DurationRule {
  /** Zero is refused. Defaults to false. */
  readonly positive?: boolean
  /** `Infinity` ("never") is refused. Defaults to false (allowed). */
  readonly finite?: boolean
}

/**
 * What is wrong with a `ttl` in seconds (`undefined`: not given, or fine): "must be a number
 * of seconds > 0, got -1". `Infinity` (kept for ever) only where `rule.finite` is not set. @internal
 */
export function ttlProblem(value: unknown, rule: DurationRule = {}): string | undefined {
  const problem = durationProblem(value, rule)
  return problem
    ?.replace('of milliseconds', 'of seconds')
    .replace('(or Infinity for none)', '(or Infinity for ever)')
}

/**
 * What is wrong with a duration in milliseconds (`undefined`: not given, or fine), as text that
 * follows the option's name: "must be a number of milliseconds > 0 (or Infinity), got -1". @internal
 */
export function durationProblem(value: unknown, rule: DurationRule = {}): string | undefined {
  if (value === undefined) return undefined
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (rule.positive ? value > 0 : value >= 0) &&
    (!rule.finite || Number.isFinite(value))
  if (ok) return undefined
  return `must be a number of milliseconds ${rule.positive ? '> 0' : '>= 0'}${
    rule.finite ? '' : ' (or Infinity for none)'
  }, got ${describe(value)}`
}
