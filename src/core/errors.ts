/**
 * Typed errors shared by every part of tributary.
 *
 * Every error class carries a literal brand, its `static readonly kind` (e.g.
 * `'AsyncTimeoutError'`), and each error records the brands of its class chain under a global
 * symbol. So the `isXError` guards and `name` do not depend on `constructor.name`, which
 * bundlers and minifiers rename (`AsyncTimeoutError2`, `Xm`), and they work even when two
 * copies of the package are installed (where `instanceof` would fail).
 */

import { maskUrlCredentials } from './redact'

const KINDS = Symbol.for('tributary.error.kinds')

/** The brands of a class chain, most derived first, computed once per class. */
const chains = new WeakMap<object, ReadonlySet<string>>()

/**
 * The brands of `ctor` and its ancestors up to (and including) `TributaryError`: each class's
 * own `static kind`, or, for a subclass written without one, its `constructor.name`.
 */
function kindsOf(ctor: object): ReadonlySet<string> {
  let kinds = chains.get(ctor)
  if (kinds !== undefined) return kinds
  const found = new Set<string>()
  for (let c: unknown = ctor; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
    const own = Object.prototype.hasOwnProperty.call(c, 'kind') ? (c as { kind?: unknown }).kind : undefined
    const kind = typeof own === 'string' && own ? own : (c as { name?: unknown }).name
    if (typeof kind === 'string' && kind) found.add(kind)
  }
  kinds = found
  chains.set(ctor, kinds)
  return kinds
}

/** Options accepted by every tributary error constructor. */
export interface TributaryErrorOptions {
  /** The underlying error, kept as `error.cause`. */
  cause?: unknown
}

/**
 * The base class of every error tributary throws. The userinfo of any URL in its message is
 * masked (`postgres://***@db/app`). Its `name` is the class's literal brand
 * (`static readonly kind`, equal to the class name in the source) and its `cause` is kept.
 * A subclass of your own should declare `static override readonly kind = 'MyError'` too:
 * without it, its `constructor.name` stands in, which a minifier may change.
 *
 * @example
 * ```ts
 * import { isTributaryError } from 'tributary'
 * try { await work() } catch (e) { if (isTributaryError(e)) console.error(e.name, e.message) }
 * ```
 */
export class TributaryError extends Error {
  /** The literal brand of the class: what `name` returns and what `hasErrorKind` matches. */
  static readonly kind: string = 'TributaryError'

  declare readonly [KINDS]: ReadonlySet<string>

  constructor(message: string, options?: TributaryErrorOptions) {
    // A URL's userinfo (a password, a token) never reaches a message, whoever built it.
    super(maskUrlCredentials(message), options?.cause === undefined ? undefined : { cause: options.cause })
    Object.defineProperty(this, KINDS, { value: new Set(kindsOf(new.target)), enumerable: false })
  }

  /** The class's brand, e.g. `'AsyncTimeoutError'` (not `constructor.name`, which bundlers rename). */
  override get name(): string {
    const kinds = this[KINDS] as ReadonlySet<string> | undefined
    return kinds?.values().next().value ?? 'TributaryError'
  }
}

/**
 * True when `error` is a tributary error of the class called `kind` (or a subclass of it),
 * from this or any other installed copy of tributary. Used by every `isXError` guard.
 */
export function hasErrorKind(error: unknown, kind: string): boolean {
  if (typeof error !== 'object' || error === null) return false
  const kinds = (error as { [KINDS]?: unknown })[KINDS]
  return kinds instanceof Set && kinds.has(kind)
}

/** True when `error` is any tributary error. */
export function isTributaryError(error: unknown): error is TributaryError {
  return hasErrorKind(error, 'TributaryError')
}

/**
 * Work failed. `operation` names what was running (for example `User.asyncCount`) and `cause`
 * holds the original error.
 */
export class AsyncExecutionError extends TributaryError {
  static override readonly kind: string = 'AsyncExecutionError'

  constructor(
    /** The operation that failed. */
    readonly operation: string,
    cause: unknown,
    message?: string,
  ) {
    super(message ?? `${operation} failed: ${describeCause(cause)}`, { cause })
  }
}

/** True when `error` is an {@link AsyncExecutionError}. */
export function isAsyncExecutionError(error: unknown): error is AsyncExecutionError {
  return hasErrorKind(error, 'AsyncExecutionError')
}

/** Work did not finish within `timeoutMs` milliseconds. */
export class AsyncTimeoutError extends TributaryError {
  static override readonly kind: string = 'AsyncTimeoutError'

  constructor(
    /** The operation that timed out. */
    readonly operation: string,
    /** The limit that was exceeded, in milliseconds. */
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`)
  }
}

/** True when `error` is an {@link AsyncTimeoutError}. */
export function isAsyncTimeoutError(error: unknown): error is AsyncTimeoutError {
  return hasErrorKind(error, 'AsyncTimeoutError')
}

/** Work was cancelled through `cancel()` or an aborted `AbortSignal`. */
export class AsyncCancelledError extends TributaryError {
  static override readonly kind: string = 'AsyncCancelledError'

  constructor(
    /** The operation that was cancelled. */
    readonly operation: string,
    reason?: unknown,
  ) {
    super(`${operation} was cancelled${reason === undefined ? '' : `: ${describeCause(reason)}`}`, {
      cause: reason,
    })
  }
}

/** True when `error` is an {@link AsyncCancelledError}. */
export function isAsyncCancelledError(error: unknown): error is AsyncCancelledError {
  return hasErrorKind(error, 'AsyncCancelledError')
}

/**
 * An optional peer dependency (`kysely`, `pg`, `better-sqlite3`, `consul`, `node-vault`,
 * `ioredis`) is needed by the feature in use but is not installed. tributary loads these only
 * on first use, so an application that never uses the feature never needs the package. Never
 * retried by the retry policies: installing the package is the only fix.
 *
 * @example
 * ```ts
 * import { isMissingDependencyError } from 'tributary'
 * try { await User.asyncCount() } catch (e) {
 *   if (isMissingDependencyError(e)) console.error(`run: npm install ${e.packageName}`)
 * }
 * ```
 */
export class MissingDependencyError extends TributaryError {
  static override readonly kind: string = 'MissingDependencyError'

  constructor(
    /** The npm package that is missing, e.g. `'kysely'`. */
    readonly packageName: string,
    /** What needed it, e.g. `'model helpers'`. */
    readonly feature: string,
    cause?: unknown,
  ) {
    super(
      `${feature}: the optional package "${packageName}" is not installed; run \`npm install ${packageName}\``,
      { cause },
    )
  }
}

/** True when `error` is a {@link MissingDependencyError}. */
export function isMissingDependencyError(error: unknown): error is MissingDependencyError {
  return hasErrorKind(error, 'MissingDependencyError')
}

/** A short, single-line description of an unknown thrown value. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name
  if (typeof cause === 'string') return cause
  // An error from another realm fails instanceof: one made in a vm context, or one a native
  // addon builds with the constructor it was given in the first realm that loaded it
  // (better-sqlite3's SqliteError under jest). Its message still says what happened.
  if (cause !== null && typeof cause === 'object') {
    const { message, name } = cause as { message?: unknown; name?: unknown }
    if (typeof message === 'string' && message) return message
    if (Object.prototype.toString.call(cause) === '[object Error]' && typeof name === 'string') return name
  }
  try {
    return JSON.stringify(cause) ?? String(cause)
  } catch {
    return String(cause)
  }
}
