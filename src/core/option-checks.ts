/**
 * The shared checks for options objects handed to the public API: unknown keys (with a
 * suggestion for a misspelling) and durations. Each caller wraps the problem text in its own
 * typed error (or a `RangeError`/`TypeError`) naming where it was given.
 *
 * The duration rule, library-wide: a duration is a number of milliseconds >= 0 (or > 0 where
 * zero makes no sense); any length is kept — past 2³¹−1 ms with chained timers
 * (`setLongTimeout`) — and `Infinity` means "never" where an option documents it.
 */
import { didYouMean } from './suggest'

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'object'
      ? 'an object'
      : String(value)
}

/**
 * What is wrong with an options object: not an object, or a key that is not in `known` (with a
 * "did you mean" when one is close). `undefined` when nothing is. @internal
 */
export function optionsProblem(options: unknown, known: readonly string[]): string | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return `options must be an object, got ${describe(options)}`
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) return `unknown option ${JSON.stringify(name)}${didYouMean(name, known)}`
  }
  return undefined
}

/** How {@link durationProblem} judges a duration. @internal */
export interface DurationRule {
  /** Zero is refused. Defaults to false. */
  readonly positive?: boolean
  /** `Infinity` ("never") is refused. Defaults to false (allowed). */
  readonly finite?: boolean
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
