/**
 * Typed errors shared by every part of tributary.
 *
 * Every error class records the names of its class chain under a global symbol, so the
 * `isXError` guards work even when two copies of the package are installed (where
 * `instanceof` would fail).
 */

const KINDS = Symbol.for('tributary.error.kinds')

/** Options accepted by every tributary error constructor. */
export interface TributaryErrorOptions {
  /** The underlying error, kept as `error.cause`. */
  cause?: unknown
}

/**
 * The base class of every error tributary throws. Its `name` matches the class name and its
 * `cause` is kept.
 *
 * @example
 * ```ts
 * import { isTributaryError } from 'tributary'
 * try { await work() } catch (e) { if (isTributaryError(e)) console.error(e.name, e.message) }
 * ```
 */
export class TributaryError extends Error {
  declare readonly [KINDS]: ReadonlySet<string>

  constructor(message: string, options?: TributaryErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    const kinds = new Set<string>()
    for (let proto: unknown = new.target.prototype; proto && proto !== Error.prototype;) {
      const ctor = (proto as { constructor?: { name?: string } }).constructor
      if (ctor?.name) kinds.add(ctor.name)
      proto = Object.getPrototypeOf(proto)
    }
    Object.defineProperty(this, KINDS, { value: kinds, enumerable: false })
  }

  /** The class name, e.g. `'AsyncTimeoutError'`. */
  override get name(): string {
    return this.constructor.name
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
