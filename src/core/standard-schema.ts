/**
 * The Standard Schema interface (https://standardschema.dev, v1), which zod, valibot, arktype
 * and others implement, and the one function that runs such a schema. The types are written out
 * here, as the spec recommends, so that no validator library is needed to load tributary.
 */

/** One problem a schema found: a message and, when known, where in the value. */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string
  /** Where: property names and indexes, or segments holding them. Defaults to the value itself. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
}

/** What a schema's `validate` answers: the (possibly transformed) value, or its issues. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> }

/**
 * A validator that implements Standard Schema v1: zod (3.24+ and 4), valibot (1+), arktype (2+)
 * and others.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * import { Component } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'PORT', schema: z.number().int().min(1).max(65535) }) port!: number
 * }
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The spec's entry point. */
  readonly '~standard': {
    /** The spec version: 1. */
    readonly version: 1
    /** The library that made the schema (`'zod'`, `'valibot'`…). */
    readonly vendor: string
    /** Checks (and may transform) a value. */
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>
    /** Types only (never present at run time). */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

/** True when `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  const standard = (value as { '~standard'?: unknown })['~standard']
  return (
    typeof standard === 'object' &&
    standard !== null &&
    (standard as { version?: unknown }).version === 1 &&
    typeof (standard as { validate?: unknown }).validate === 'function'
  )
}

/** A dotted path for an issue (`limits.max`, `hosts.0`), or `undefined` for the value itself. */
export function issuePath(issue: StandardSchemaIssue): string | undefined {
  if (!issue.path || issue.path.length === 0) return undefined
  return issue.path
    .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
    .join('.')
}

/** `path: message` for each issue, joined with `; `. */
export function describeIssues(issues: ReadonlyArray<StandardSchemaIssue>): string {
  return issues
    .map((issue) => {
      const path = issuePath(issue)
      return path === undefined ? issue.message : `${path}: ${issue.message}`
    })
    .join('; ')
}
