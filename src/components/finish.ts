/**
 * The last steps for one value, shared by `resolve` and `asyncAssign`: pick `field`, coerce to
 * the type, run the Standard Schema `schema`, run `validate`. Failures become `ComponentError`s
 * that never show a secret.
 */
import { redactSecrets } from '../core/redact'
import { describeCause } from '../core/errors'
import {
  describeIssues,
  type StandardSchemaIssue,
  type StandardSchemaResult,
  type StandardSchemaV1,
} from '../core/standard-schema'
import { CoercionError, showValue, type Coercer } from './coerce'
import { ComponentError, ComponentSchemaError } from './errors'
import type { ValidationResult } from './options'

/** What is needed to finish one value. */
export interface FinishSpec {
  readonly className: string
  readonly property: string
  readonly source: string
  readonly key: string | undefined
  readonly secret: boolean
  readonly coerce: Coercer
  readonly schema?: StandardSchemaV1
  readonly validate?: (value: never) => ValidationResult | PromiseLike<ValidationResult>
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * Picks a dotted `field` inside an object (or a JSON object string) when the source returned
 * the whole document; a value without that field is returned as is (the source picked it).
 */
export function pickField(value: unknown, field: string | undefined): unknown {
  if (field === undefined || value === null || value === undefined) return value
  let document: unknown = value
  if (typeof value === 'string') {
    const text = value.trim()
    if (!text.startsWith('{')) return value
    try {
      document = JSON.parse(text)
    } catch {
      return value
    }
  }
  if (typeof document !== 'object' || document === null) return value
  const parts = field.split('.')
  let current: unknown = document
  for (const part of parts) {
    if (
      current === null ||
      typeof current !== 'object' ||
      !Object.prototype.hasOwnProperty.call(current, part)
    ) {
      return value
    }
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

function coercionReason(error: unknown, secret: boolean): string {
  if (error instanceof CoercionError) return error.reason ? ` (${error.reason})` : ''
  // A parser's own message may quote the value (JSON.parse does), so it is left out for secrets.
  return secret ? '' : `: ${describeCause(error)}`
}

function fail(spec: FinishSpec, attempts: number, problem: string, cause?: unknown): never {
  throw new ComponentError(
    {
      className: spec.className,
      property: spec.property,
      source: spec.source,
      key: spec.key,
      attempts,
      cause,
    },
    problem,
  )
}

/**
 * `text` with every occurrence of a secret value's text replaced by `***` (a user's `validate`
 * message or thrown error, a schema's issue, may quote the value). Unchanged when not secret.
 */
function redacted(spec: FinishSpec, text: string, ...values: unknown[]): string {
  return spec.secret ? redactSecrets(text, values) : text
}

function checkValidation(spec: FinishSpec, value: unknown, attempts: number, result: unknown): unknown {
  if (result === false || typeof result === 'string') {
    const why = typeof result === 'string' ? redacted(spec, result, value) : 'validate returned false'
    fail(spec, attempts, `invalid value ${showValue(value, spec.secret)} for ${spec.property}: ${why}`)
  }
  return value
}

function validated(spec: FinishSpec, value: unknown, attempts: number): unknown {
  if (!spec.validate) return value
  let result: unknown
  const validationError = (error: unknown): never =>
    fail(
      spec,
      attempts,
      `invalid value ${showValue(value, spec.secret)} for ${spec.property}: ${redacted(spec, describeCause(error), value)}`,
      spec.secret ? undefined : error,
    )
  try {
    result = (spec.validate as (v: unknown) => unknown)(value)
  } catch (error) {
    validationError(error)
  }
  if (isThenable(result)) {
    return Promise.resolve(result).then((r) => checkValidation(spec, value, attempts, r), validationError)
  }
  return checkValidation(spec, value, attempts, result)
}

/** Issues with every occurrence of a secret value's text replaced by `***`. */
function maskedIssues(
  spec: FinishSpec,
  issues: ReadonlyArray<StandardSchemaIssue>,
  value: unknown,
): ReadonlyArray<StandardSchemaIssue> {
  return issues.map((issue) => ({ message: redacted(spec, String(issue.message), value), path: issue.path }))
}

function schemaChecked(spec: FinishSpec, value: unknown, attempts: number, result: unknown): unknown {
  const answer = result as StandardSchemaResult<unknown> | undefined
  if (answer && answer.issues !== undefined) {
    const issues = maskedIssues(spec, Array.from(answer.issues), value)
    throw new ComponentSchemaError(
      {
        className: spec.className,
        property: spec.property,
        source: spec.source,
        key: spec.key,
        attempts,
        issues,
      },
      `invalid value ${showValue(value, spec.secret)} for ${spec.property}: ${describeIssues(issues)}`,
    )
  }
  const checked = answer && 'value' in answer ? answer.value : value
  return spec.validate === undefined ? checked : validated(spec, checked, attempts)
}

/** Runs `spec.schema` on the coerced value; its output goes on to `validate`. */
function schemaValidated(spec: FinishSpec, value: unknown, attempts: number): unknown {
  const schema = spec.schema
  if (!schema) return spec.validate === undefined ? value : validated(spec, value, attempts)
  const schemaError = (error: unknown): never =>
    fail(
      spec,
      attempts,
      `invalid value ${showValue(value, spec.secret)} for ${spec.property}: the ${schema['~standard'].vendor} schema threw${
        spec.secret ? '' : `: ${describeCause(error)}`
      }`,
      spec.secret ? undefined : error,
    )
  let result: unknown
  try {
    result = schema['~standard'].validate(value)
  } catch (error) {
    schemaError(error)
  }
  if (isThenable(result)) {
    return Promise.resolve(result).then((r) => schemaChecked(spec, value, attempts, r), schemaError)
  }
  return schemaChecked(spec, value, attempts, result)
}

function coercionFailed(spec: FinishSpec, raw: unknown, attempts: number, error: unknown): never {
  return fail(
    spec,
    attempts,
    `cannot convert ${showValue(raw, spec.secret)} to ${spec.coerce.typeName}${coercionReason(error, spec.secret)}`,
    spec.secret ? undefined : error,
  )
}

/**
 * Coerces `raw`, runs the schema (whose output replaces the value) and validates; returns the
 * value, or a promise of it when the parser, the schema or the validator is async. Throws a {@link ComponentError} on failure. The common case (a sync
 * coercer, no validator) allocates nothing beyond the value itself.
 */
export function finishValue(spec: FinishSpec, raw: unknown, attempts: number): unknown {
  let value: unknown
  try {
    value = spec.coerce(raw)
  } catch (error) {
    coercionFailed(spec, raw, attempts, error)
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (v) => schemaValidated(spec, v, attempts),
      (error: unknown) => coercionFailed(spec, raw, attempts, error),
    )
  }
  if (spec.schema !== undefined) return schemaValidated(spec, value, attempts)
  return spec.validate === undefined ? value : validated(spec, value, attempts)
}

export { isThenable }
