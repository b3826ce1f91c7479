/**
 * One-off assignment for code that fetches by hand: `asyncAssign` / `asyncImpute` set one
 * property from a fetcher, a promise or a value, with the same coercion, validation and errors
 * as `resolve`.
 */
import 'reflect-metadata'
import { performance } from 'node:perf_hooks'
import { raceAbort, throwIfAborted, neverAborted } from '../core/abort'
import { checks, formatOptionProblem, specProblem, type OptionSpec } from '../core/option-checks'
import { createPolicy } from '../resilience/compose'
import { createCoercer, type ComponentType } from './coerce'
import type { StandardSchemaV1 } from '../core/standard-schema'
import { ComponentError, ComponentOptionsError, isComponentError } from './errors'
import { recordProvenance } from './explain'
import { finishValue, pickField, type FinishSpec } from './finish'
import { componentsOf } from './metadata'
import { timedOut } from './policies'
import type { ValidationResult } from './options'

/**
 * Something that fetches one value when asked. `name` (optional) is shown as the source in
 * errors and `explain`.
 *
 * @example
 * ```ts
 * import type { ComponentFetcher } from 'tributary'
 * const port: ComponentFetcher<string> = { name: 'consul', fetchComponent: (signal) => readPort(signal) }
 * ```
 */
export interface ComponentFetcher<T = unknown> {
  readonly name?: string
  fetchComponent(signal: AbortSignal): Promise<T> | T
}

/** Options for {@link asyncAssign} and {@link asyncImpute}. */
export interface AssignOptions {
  /** Cancels the fetch. Defaults to none. */
  signal?: AbortSignal
  /** A limit in ms on the fetch. Defaults to none. */
  timeout?: number
  /** The type to coerce to. Defaults to the property's `@Component` type, else its `design:type`, else none. */
  type?: ComponentType
  /** Masks the value in errors and `explain`. Defaults to the `@Component` option, else false. */
  secret?: boolean
  /** A Standard Schema validator run before `validate`. Defaults to the `@Component` option, else none. */
  schema?: StandardSchemaV1
  /** Checks the value. Defaults to the `@Component` option, else none. */
  validate?: (value: never) => ValidationResult | PromiseLike<ValidationResult>
}

/** True when `value` is a {@link ComponentFetcher}. */
export function isComponentFetcher(value: unknown): value is ComponentFetcher {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { fetchComponent?: unknown }).fetchComponent === 'function'
  )
}

const ASSIGN_OPTIONS: OptionSpec = {
  signal: checks.signal,
  timeout: checks.duration({ positive: true }),
  type: true,
  secret: checks.boolean,
  schema: checks.object,
  validate: checks.function,
}

/**
 * Fetches (or awaits) a value, coerces and validates it like a component, assigns it to
 * `instance[property]` and resolves to it. A failure rejects with a `ComponentError`.
 *
 * @example
 * ```ts
 * import { asyncAssign } from 'tributary'
 * await asyncAssign(settings, 'port', { fetchComponent: (signal) => readPort(signal) })
 * ```
 */
export async function asyncAssign<T extends object, K extends keyof T & string>(
  instance: T,
  property: K,
  fetcherOrValue: ComponentFetcher | PromiseLike<unknown> | T[K] | string,
  options: AssignOptions = {},
): Promise<T[K]> {
  const started = performance.now()
  const className = instance.constructor?.name ?? 'Object'
  const problem = specProblem(options, ASSIGN_OPTIONS)
  if (problem !== undefined) {
    throw new ComponentOptionsError(
      { className, property, option: problem.option },
      `asyncAssign(instance, property, value, options): ${formatOptionProblem(problem)}`,
    )
  }
  const ctor = instance.constructor as (abstract new (...args: never[]) => unknown) | undefined
  const definition = ctor ? componentsOf(ctor).find((d) => d.property === property) : undefined
  const secret = options.secret ?? definition?.secret ?? false
  const source = isComponentFetcher(fetcherOrValue) ? (fetcherOrValue.name ?? 'fetcher') : 'value'
  const designType: unknown = Reflect.getMetadata('design:type', instance, property)
  const type =
    options.type ??
    definition?.type ??
    (typeof designType === 'function' ? (designType as ComponentType) : undefined)
  const spec: FinishSpec = {
    className,
    property,
    source,
    key: definition?.options.key ?? definition?.options.query,
    secret,
    coerce: options.type || !definition ? createCoercer(type) : definition.coerce,
    schema: options.schema ?? definition?.options.schema,
    validate: options.validate ?? definition?.options.validate,
  }
  let raw: unknown
  try {
    throwIfAborted(options.signal, `${className}.${property}`)
    if (isComponentFetcher(fetcherOrValue)) {
      const fetcher = fetcherOrValue
      const policy = createPolicy({ timeout: options.timeout }, `${className}.${property}`)
      raw = await raceAbort(
        policy.execute(
          ({ signal }) =>
            Promise.resolve()
              .then(() => fetcher.fetchComponent(signal))
              .catch((error: unknown) => {
                throw timedOut(error, signal, options.signal, `${className}.${property}`, options.timeout)
              }),
          options.signal ?? neverAborted,
        ),
        options.signal,
      )
    } else {
      raw = await raceAbort(Promise.resolve(fetcherOrValue), options.signal)
    }
    raw = pickField(raw, definition?.options.field)
  } catch (error) {
    throw new ComponentError({ className, property, source, key: spec.key, attempts: 1, cause: error })
  }
  let value: unknown
  try {
    value = await finishValue(spec, raw, 1)
  } catch (error) {
    if (isComponentError(error)) throw error
    throw new ComponentError({ className, property, source, key: spec.key, attempts: 1, cause: error })
  }
  ;(instance as Record<string, unknown>)[property] = value
  recordProvenance(instance, [
    {
      property,
      source,
      key: spec.key,
      value,
      durationMs: performance.now() - started,
      attempts: 1,
      origin: 'source',
      secret,
    },
  ])
  return value as T[K]
}

/**
 * Like {@link asyncAssign}, but resolves to the instance, for chaining.
 *
 * @example
 * ```ts
 * import { asyncImpute } from 'tributary'
 * const settings = await asyncImpute(new Settings(), 'port', Promise.resolve('8080'))
 * ```
 */
export async function asyncImpute<T extends object, K extends keyof T & string>(
  instance: T,
  property: K,
  fetcherOrValue: ComponentFetcher | PromiseLike<unknown> | T[K] | string,
  options: AssignOptions = {},
): Promise<T> {
  await asyncAssign(instance, property, fetcherOrValue, options)
  return instance
}
