/**
 * The options of `@Component`, and their checks (run when the decorator runs).
 */
import { unknownOption } from '../core/option-checks'
import type { CircuitBreaker, CircuitBreakerOptions } from '../resilience/breaker'
import { isCircuitBreaker } from '../resilience/breaker'
import { retryInputProblem, type RetryInput } from '../resilience/retry'
import type { ComponentType } from './coerce'
import { ComponentOptionsError } from './errors'
import { didYouMean } from '../core/suggest'
import { isStandardSchema, type StandardSchemaV1 } from '../core/standard-schema'

/** What `validate` may answer: `false` or a message rejects the value; `true`/nothing accepts it. */
export type ValidationResult = boolean | string | void

/**
 * Options of `@Component`. Only `fetchFrom` is required.
 *
 * @example
 * ```ts
 * import { Component } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'consul', key: 'app/port', fallback: 8080, retry: 3, timeout: 2_000 }) port!: number
 * }
 * ```
 */
export interface ComponentOptions<T = unknown> {
  /** The source name, as given to `resolve({ sources })`. Checked when `resolve` starts. */
  fetchFrom: string
  /** The key to read (variable, path, URL…). Defaults to none: sources then use the property name or `query`. */
  key?: string
  /** A query to run (database sources). Defaults to none. */
  query?: string
  /** A dotted path inside the returned document or secret. Defaults to the whole value. */
  field?: string
  /** The value used (and marked `origin: 'fallback'`) when the source fails or has no value. Defaults to none. */
  fallback?: T
  /** `'cache'`: when the source fails, serve the last good value even after its ttl passed. Defaults to off. */
  fallbackTo?: 'cache'
  /** Seconds a fetched value is kept in the `ComponentCache` across resolves. Defaults to 0 (not cached). */
  ttl?: number
  /** Retries after the first attempt, or retry options. Defaults to none. */
  retry?: RetryInput
  /** A limit in ms for each attempt. Defaults to none (only the resolve timeout applies). */
  timeout?: number
  /** A circuit breaker shared per source and key across resolves: `true`, options, or a breaker. Defaults to none. */
  circuitBreaker?: boolean | CircuitBreakerOptions | CircuitBreaker
  /** Masks the value as `'***'` in errors, `explain`, `JSON.stringify` and `util.inspect`. Defaults to false. */
  secret?: boolean
  /** The type to coerce to: a constructor or a parser. Defaults to `design:type`, else the fallback's type. */
  type?: ComponentType
  /** Properties that must resolve first; their values reach the source in `context.resolved` (under `watch()`, a change to one re-fetches this component). Defaults to none. */
  dependsOn?: string | readonly string[]
  /**
   * A Standard Schema validator (zod, valibot, arktype…) run on the coerced value: its issues
   * fail the component with a `ComponentSchemaError`, its output becomes the value (so
   * transforms and defaults apply). Runs before `validate`. Defaults to none.
   */
  schema?: StandardSchemaV1<unknown, T>
  /** Checks the coerced value (sync or async); `false`, a message or a throw rejects it. Defaults to none. */
  validate?: (value: T) => ValidationResult | PromiseLike<ValidationResult>
  /** When false, a missing or failed value leaves the property undefined instead of failing. Defaults to true. */
  required?: boolean
  /** `watch()`: `false` opts this component out of live updates (it keeps its resolved value). Defaults to true. */
  watch?: boolean
  /** `watch()`: deliver a change only after this many ms without another one. Defaults to 0 (off). */
  debounce?: number
  /** `watch()`: at most one update per this many ms (after a `burst`). Defaults to 0 (off). */
  throttle?: number
  /** `watch()`: with `throttle`, updates allowed back to back before it applies. Defaults to 1. */
  burst?: number
  /** `watch()`: ms between reads for sources that poll (env, database, vault, http, redis; Consul's blocking wait). Defaults to the source's own. */
  pollInterval?: number
  /** `watch()`: watch only while another component has a given value; re-evaluated when it changes. Defaults to always. */
  condition?: WatchCondition
}

/**
 * When a component is watched: while the component named `component` deep-equals `equals`, or
 * while `matches(value)` returns true. Re-evaluated each time that component changes.
 *
 * @example
 * ```ts
 * import { Component } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'LIVE_RELOAD', fallback: false }) liveReload!: boolean
 *   @Component({ fetchFrom: 'consul', key: 'app/limits', condition: { component: 'liveReload', equals: true } }) limits!: object
 * }
 * ```
 */
export type WatchCondition =
  | { readonly component: string; readonly equals: unknown }
  | { readonly component: string; readonly matches: (value: unknown) => boolean }

const KNOWN: ReadonlyArray<keyof ComponentOptions> = [
  'fetchFrom',
  'key',
  'query',
  'field',
  'fallback',
  'fallbackTo',
  'ttl',
  'retry',
  'timeout',
  'circuitBreaker',
  'secret',
  'type',
  'dependsOn',
  'schema',
  'validate',
  'required',
  'watch',
  'debounce',
  'throttle',
  'burst',
  'pollInterval',
  'condition',
]
const BREAKER_KEYS = ['threshold', 'halfOpenAfter', 'failureIf']

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks `@Component` options; throws a {@link ComponentOptionsError} naming class and property
 * for the first problem found.
 */
export function checkOptions(
  options: unknown,
  className: string | undefined,
  property: string,
): ComponentOptions {
  const fail = (option: string | undefined, problem: string): never => {
    throw new ComponentOptionsError({ className, property, option }, problem)
  }
  if (!isPlainObject(options)) return fail(undefined, '@Component needs an options object')
  const unknown = unknownOption(options, KNOWN)
  if (unknown !== undefined)
    fail(unknown, `unknown option ${JSON.stringify(unknown)}${didYouMean(unknown, KNOWN)}`)
  const o = options as Partial<Record<keyof ComponentOptions, unknown>>
  if (typeof o.fetchFrom !== 'string' || o.fetchFrom === '')
    fail('fetchFrom', '`fetchFrom` must name a source')
  for (const name of ['key', 'query', 'field'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'string') fail(name, `\`${name}\` must be a string`)
  }
  if (o.ttl !== undefined && !(typeof o.ttl === 'number' && Number.isFinite(o.ttl) && o.ttl >= 0)) {
    fail('ttl', `\`ttl\` must be a number of seconds >= 0, got ${String(o.ttl)}`)
  }
  if (
    o.timeout !== undefined &&
    !(typeof o.timeout === 'number' && Number.isFinite(o.timeout) && o.timeout > 0)
  ) {
    fail('timeout', `\`timeout\` must be a number of milliseconds > 0, got ${String(o.timeout)}`)
  }
  checkRetry(o.retry, fail)
  checkBreaker(o.circuitBreaker, fail)
  if (o.fallbackTo !== undefined && o.fallbackTo !== 'cache')
    fail('fallbackTo', "`fallbackTo` must be 'cache'")
  for (const name of ['secret', 'required'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') fail(name, `\`${name}\` must be true or false`)
  }
  for (const name of ['type', 'validate'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') fail(name, `\`${name}\` must be a function`)
  }
  if (o.schema !== undefined && !isStandardSchema(o.schema)) {
    fail('schema', '`schema` must implement Standard Schema v1 (a `~standard` property with `validate`)')
  }
  const deps = o.dependsOn
  if (
    deps !== undefined &&
    typeof deps !== 'string' &&
    !(Array.isArray(deps) && deps.every((d: unknown) => typeof d === 'string'))
  ) {
    fail('dependsOn', '`dependsOn` must be a property name or an array of them')
  }
  if (deps === property || (Array.isArray(deps) && deps.includes(property))) {
    fail('dependsOn', 'a component cannot depend on itself')
  }
  checkWatchOptions(o, property, fail)
  return options as unknown as ComponentOptions
}

function checkWatchOptions(
  o: Partial<Record<keyof ComponentOptions, unknown>>,
  property: string,
  fail: (option: string, problem: string) => never,
): void {
  if (o.watch !== undefined && typeof o.watch !== 'boolean') fail('watch', '`watch` must be true or false')
  for (const name of ['debounce', 'throttle', 'pollInterval'] as const) {
    const value = o[name]
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      fail(name, `\`${name}\` must be a number of milliseconds >= 0, got ${String(value)}`)
    }
  }
  if (o.burst !== undefined) {
    if (!(typeof o.burst === 'number' && Number.isInteger(o.burst) && o.burst >= 1))
      fail('burst', `\`burst\` must be a whole number >= 1, got ${String(o.burst)}`)
    if (o.throttle === undefined) fail('burst', '`burst` needs `throttle`')
  }
  const condition = o.condition
  if (condition === undefined) return
  if (!isPlainObject(condition) || typeof condition.component !== 'string' || condition.component === '')
    fail('condition', '`condition` must be { component, equals } or { component, matches }')
  const c = condition as Record<string, unknown>
  if ('equals' in c === 'matches' in c)
    fail('condition', '`condition` needs exactly one of `equals` and `matches`')
  if ('matches' in c && typeof c.matches !== 'function')
    fail('condition', '`condition.matches` must be a function')
  for (const name of Object.keys(c)) {
    if (!['component', 'equals', 'matches'].includes(name))
      fail('condition', `unknown condition option ${JSON.stringify(name)}`)
  }
  if (c.component === property) fail('condition', 'a component cannot be conditioned on itself')
}

function checkRetry(retry: unknown, fail: (option: string, problem: string) => never): void {
  const problem = retryInputProblem(retry)
  if (problem !== undefined) fail('retry', problem)
}

function checkBreaker(breaker: unknown, fail: (option: string, problem: string) => never): void {
  if (breaker === undefined || typeof breaker === 'boolean' || isCircuitBreaker(breaker)) return
  if (!isPlainObject(breaker))
    return fail('circuitBreaker', '`circuitBreaker` must be true, options or a breaker')
  for (const name of Object.keys(breaker)) {
    if (!BREAKER_KEYS.includes(name))
      fail('circuitBreaker', `unknown circuit breaker option ${JSON.stringify(name)}`)
  }
  const { threshold, halfOpenAfter } = breaker
  if (
    threshold !== undefined &&
    !(typeof threshold === 'number' && Number.isInteger(threshold) && threshold >= 1)
  ) {
    fail('circuitBreaker', '`circuitBreaker.threshold` must be a whole number >= 1')
  }
  if (halfOpenAfter !== undefined && !(typeof halfOpenAfter === 'number' && halfOpenAfter >= 0)) {
    fail('circuitBreaker', '`circuitBreaker.halfOpenAfter` must be a number of ms >= 0')
  }
}
