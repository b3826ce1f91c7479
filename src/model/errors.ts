/**
 * Errors raised by models: a missing record, a model with no database, and inputs (column
 * names, operators, values) refused before any SQL is built.
 */
import { hasErrorKind, TributaryError } from '../core/errors'

/**
 * `asyncFindOrFail` found no row. Names the model and the key looked up.
 *
 * @example
 * ```ts
 * import { isRecordNotFoundError } from 'tributary'
 * try { await User.asyncFindOrFail(42) } catch (e) { if (isRecordNotFoundError(e)) console.log(e.model) }
 * ```
 */
export class RecordNotFoundError extends TributaryError {
  static override readonly kind: string = 'RecordNotFoundError'

  constructor(
    /** The model class name, e.g. `'User'`. */
    readonly model: string,
    /** The primary-key property that was looked up, e.g. `'id'`. */
    readonly key: string,
    /** The value looked up. */
    readonly value: unknown,
  ) {
    super(`${model} with ${key} = ${String(value)} was not found`)
  }
}

/** True when `error` is a {@link RecordNotFoundError}. */
export function isRecordNotFoundError(error: unknown): error is RecordNotFoundError {
  return hasErrorKind(error, 'RecordNotFoundError')
}

/**
 * A model was queried before any database was bound to it or to `Model`.
 *
 * @example
 * ```ts
 * import { Model } from 'tributary'
 * Model.use(db) // binds every model; User.use(db) binds only User
 * ```
 */
export class ModelWithoutDatabaseError extends TributaryError {
  static override readonly kind: string = 'ModelWithoutDatabaseError'

  constructor(
    /** The model class name. */
    readonly model: string,
    /** Why, when there is more to say than "nothing is bound". */
    reason?: string,
  ) {
    super(reason ?? `${model} has no database: call ${model}.use(db) or Model.use(db) before querying it`)
  }
}

/** True when `error` is a {@link ModelWithoutDatabaseError}. */
export function isModelWithoutDatabaseError(error: unknown): error is ModelWithoutDatabaseError {
  return hasErrorKind(error, 'ModelWithoutDatabaseError')
}

/**
 * A model is declared wrongly or used with an input that is refused before SQL is built: a
 * column that is not declared with `@Column`, an operator outside the allow-list, a bad limit.
 * `model` names the class and `property` the offending input (quoted as JSON, so hostile text
 * is shown inert).
 *
 * @example
 * ```ts
 * import { isInvalidQueryError } from 'tributary'
 * try { User.where({ 'id; drop table users': 1 } as never) } catch (e) { if (isInvalidQueryError(e)) console.log(e.property) }
 * ```
 */
export class InvalidQueryError extends TributaryError {
  static override readonly kind: string = 'InvalidQueryError'

  constructor(
    /** The model class name. */
    readonly model: string,
    /** What was refused: a column name, an operator or an option name. */
    readonly property: string,
    message: string,
  ) {
    super(`${model}: ${message}`)
  }
}

/** True when `error` is an {@link InvalidQueryError} (or one of its subclasses). */
export function isInvalidQueryError(error: unknown): error is InvalidQueryError {
  return hasErrorKind(error, 'InvalidQueryError')
}

/** A column name that the model does not declare with `@Column`. */
export class InvalidColumnError extends InvalidQueryError {
  static override readonly kind: string = 'InvalidColumnError'

  constructor(model: string, column: unknown) {
    super(model, String(column), `${JSON.stringify(String(column))} is not a declared column of ${model}`)
  }
}

/** True when `error` is an {@link InvalidColumnError}. */
export function isInvalidColumnError(error: unknown): error is InvalidColumnError {
  return hasErrorKind(error, 'InvalidColumnError')
}

/** An operator outside the allow-list (`=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `like`, `not like`, `is`, `is not`). */
export class InvalidOperatorError extends InvalidQueryError {
  static override readonly kind: string = 'InvalidOperatorError'

  constructor(model: string, operator: unknown) {
    super(model, String(operator), `${JSON.stringify(String(operator))} is not an allowed operator`)
  }
}

/** True when `error` is an {@link InvalidOperatorError}. */
export function isInvalidOperatorError(error: unknown): error is InvalidOperatorError {
  return hasErrorKind(error, 'InvalidOperatorError')
}
