/**
 * The errors components raise: a bad decorator option, one component that failed (or whose
 * schema rejected its value), and all the
 * failures of one resolution gathered into an `AggregateError`.
 */
import { TributaryError, describeCause, hasErrorKind } from '../core/errors'
import { maskUrlCredentials } from '../core/redact'
import type { StandardSchemaIssue } from '../core/standard-schema'

const KINDS = Symbol.for('tributary.error.kinds')

/** Where a component option problem was found. */
export interface ComponentOptionsErrorDetails {
  /** The class, when known (TC39 field decorators are not told their class). */
  readonly className?: string
  /** The decorated property. */
  readonly property: string
  /** The option at fault, e.g. `'ttl'`. */
  readonly option?: string
}

/**
 * A `@Component` option is wrong: a misspelt option, a negative `ttl` or `timeout`, a bad
 * `retry`, an unknown `fetchFrom` or `dependsOn`, or a `dependsOn` cycle. Raised when the
 * decorator runs, or (for names that depend on the sources given) when `resolve` starts.
 *
 * @example
 * ```ts
 * import { isComponentOptionsError } from 'tributary'
 * try { await resolve(AppConfig, { sources }) } catch (e) { if (isComponentOptionsError(e)) console.error(e.message) }
 * ```
 */
export class ComponentOptionsError extends TributaryError {
  static override readonly kind: string = 'ComponentOptionsError'

  /** The class, when known. */
  readonly className: string | undefined
  /** The decorated property. */
  readonly property: string
  /** The option at fault. */
  readonly option: string | undefined

  constructor(details: ComponentOptionsErrorDetails, problem: string) {
    super(`${describeTarget(details.className, details.property)}: ${problem}`)
    this.className = details.className
    this.property = details.property
    this.option = details.option
  }
}

/** True when `error` is a {@link ComponentOptionsError}. */
export function isComponentOptionsError(error: unknown): error is ComponentOptionsError {
  return hasErrorKind(error, 'ComponentOptionsError')
}

/** What {@link ComponentError} records about the failed component. */
export interface ComponentErrorDetails {
  readonly className: string
  readonly property: string
  /** The source name (`fetchFrom`). */
  readonly source: string
  /** The key, or the query when there is no key. */
  readonly key?: string
  /** Calls made to the source (1 without retries). */
  readonly attempts: number
  readonly cause?: unknown
}

/**
 * One component could not be resolved: the source failed, the value could not be coerced, or
 * validation rejected it. The message names class, property, source and key; a secret value
 * is never part of it.
 *
 * @example
 * ```ts
 * import { isComponentError } from 'tributary'
 * for (const e of resolutionError.errors) if (isComponentError(e)) console.error(e.property, e.source, e.key)
 * ```
 */
export class ComponentError extends TributaryError {
  static override readonly kind: string = 'ComponentError'

  /** The class being resolved. */
  readonly className: string
  /** The property that failed. */
  readonly property: string
  /** The source name. */
  readonly source: string
  /** The key (or query) that was read. */
  readonly key: string | undefined
  /** Calls made to the source. */
  readonly attempts: number

  constructor(details: ComponentErrorDetails, problem?: string) {
    const where = `${details.className}.${details.property} (source ${JSON.stringify(details.source)}${
      details.key === undefined ? '' : `, key ${JSON.stringify(details.key)}`
    }${details.attempts > 1 ? `, ${details.attempts} attempts` : ''})`
    super(`${where}: ${problem ?? describeCause(details.cause)}`, { cause: details.cause })
    this.className = details.className
    this.property = details.property
    this.source = details.source
    this.key = details.key === undefined ? undefined : maskUrlCredentials(details.key)
    this.attempts = details.attempts
  }
}

/** What {@link ComponentSchemaError} records: the component, and the schema's issues. */
export interface ComponentSchemaErrorDetails extends ComponentErrorDetails {
  /** What the schema reported (for a secret, its value's text is masked in each message). */
  readonly issues: ReadonlyArray<StandardSchemaIssue>
}

/**
 * A component's Standard Schema (`@Component({ schema })`) rejected its value. A
 * {@link ComponentError} too; `issues` holds what the schema reported, each with its path.
 *
 * @example
 * ```ts
 * import { isComponentSchemaError } from 'tributary'
 * for (const e of resolutionError.errors) if (isComponentSchemaError(e)) console.error(e.issues)
 * ```
 */
export class ComponentSchemaError extends ComponentError {
  static override readonly kind: string = 'ComponentSchemaError'

  /** The schema's issues. */
  readonly issues: ReadonlyArray<StandardSchemaIssue>

  constructor(details: ComponentSchemaErrorDetails, problem: string) {
    super(details, problem)
    this.issues = details.issues
  }
}

/** True when `error` is a {@link ComponentSchemaError}. */
export function isComponentSchemaError(error: unknown): error is ComponentSchemaError {
  return hasErrorKind(error, 'ComponentSchemaError')
}

/** True when `error` is a {@link ComponentError}. */
export function isComponentError(error: unknown): error is ComponentError {
  return hasErrorKind(error, 'ComponentError')
}

/**
 * Every component that failed in one `resolve` (after all of them settled), as an
 * `AggregateError` whose `errors` are {@link ComponentError}s. `resolved` lists the properties
 * that did resolve.
 *
 * @example
 * ```ts
 * import { isComponentResolutionError } from 'tributary'
 * try { await resolve(AppConfig, { sources }) } catch (e) {
 *   if (isComponentResolutionError(e)) for (const c of e.errors) console.error(c.message)
 * }
 * ```
 */
export class ComponentResolutionError extends AggregateError {
  static readonly kind: string = 'ComponentResolutionError'

  declare readonly errors: ComponentError[]
  /** The class being resolved. */
  readonly className: string
  /** The properties that resolved (from the source, the cache or a fallback). */
  readonly resolved: readonly string[]
  /** The partly resolved instance (not enumerable, so printing the error does not print it). */
  declare readonly instance: object | undefined

  constructor(className: string, errors: ComponentError[], resolved: readonly string[], instance?: object) {
    const list = errors.map((e) => `  - ${e.message}`).join('\n')
    super(errors, `${className}: ${errors.length} component(s) failed to resolve:\n${list}`)
    this.className = className
    this.resolved = resolved
    Object.defineProperty(this, 'instance', { value: instance, enumerable: false })
    Object.defineProperty(this, KINDS, {
      value: new Set(['ComponentResolutionError', 'AggregateError', 'TributaryError']),
      enumerable: false,
    })
  }

  /** `'ComponentResolutionError'`. */
  override get name(): string {
    return 'ComponentResolutionError'
  }
}

/** True when `error` is a {@link ComponentResolutionError}. */
export function isComponentResolutionError(error: unknown): error is ComponentResolutionError {
  return hasErrorKind(error, 'ComponentResolutionError')
}

function describeTarget(className: string | undefined, property: string): string {
  return className === undefined
    ? `@Component on property ${JSON.stringify(property)}`
    : `${className}.${property}`
}
