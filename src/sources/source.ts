/**
 * The `ComponentSource` interface every backend implements, and the typed errors sources throw.
 * Backends live one folder down (`env/`, `file/`, `http/`, `database/`, `consul/`, `vault/`,
 * `redis/`), each with `<name>-source.ts`.
 */
import { TributaryError, hasErrorKind } from '../core/errors'

/** What the resolver asks a source for: one component of one class. */
export interface ComponentRequest {
  /** The class being resolved, e.g. `'AppConfig'`. */
  readonly className: string
  /** The property being resolved, e.g. `'port'`. */
  readonly property: string
  /** The key to read (a variable name, file path, KV path, URL, Redis key…). */
  readonly key?: string
  /** A query to run (database sources). */
  readonly query?: string
  /** A field inside the document or secret the key points at (dotted path where supported). */
  readonly field?: string
  /** True when the value is a secret: a source must never put it in an error message. */
  readonly secret: boolean
}

/** What the resolver gives a source along with a request. */
export interface SourceContext {
  /** Aborts when the resolution is cancelled or times out; pass it to every I/O call. */
  readonly signal: AbortSignal
  /** 0 for the first attempt, 1 for the first retry, and so on. */
  readonly attempt: number
  /** Values already resolved on this instance (components this one `dependsOn`). */
  readonly resolved: Readonly<Record<string, unknown>>
}

/**
 * A backend components are fetched from. `fetch` returns the raw value (a string, a parsed
 * document, a row value…); the resolver picks `field` if the source did not, and coerces to
 * the property's type. A missing key should throw {@link SourceNotFoundError}.
 *
 * @example
 * ```ts
 * import type { ComponentSource } from 'tributary'
 * const memory: ComponentSource = {
 *   name: 'memory',
 *   async fetch(request) { return values[request.key ?? request.property] },
 * }
 * ```
 */
export interface ComponentSource {
  /** The name `fetchFrom` refers to, e.g. `'consul'`. */
  readonly name: string
  /** Reads one value. */
  fetch(request: ComponentRequest, context: SourceContext): Promise<unknown>
  /**
   * True when `fetch` already applied `request.field` (the value it returns is the field's
   * value), so the resolver must not pick the field again. Every built-in source sets it.
   * Defaults to false: the resolver picks `field` from what `fetch` returned.
   */
  readonly appliesField?: boolean
  /** Releases connections the source opened itself (not those the user passed in). */
  close?(): Promise<void>
}

/** Where a source failure happened. */
export interface SourceErrorDetails {
  /** The source name. */
  readonly source: string
  /** The key (or query) that was read. */
  readonly key?: string
  /** The underlying error. */
  readonly cause?: unknown
}

/** A source failed to read a key. The message never contains a secret value or a token. */
export class SourceError extends TributaryError {
  static override readonly kind: string = 'SourceError'

  /** The source name. */
  readonly source: string
  /** The key (or query) that was read. */
  readonly key: string | undefined

  constructor(message: string, details: SourceErrorDetails) {
    super(message, { cause: details.cause })
    this.source = details.source
    this.key = details.key
  }
}

/** True when `error` is a {@link SourceError}. */
export function isSourceError(error: unknown): error is SourceError {
  return hasErrorKind(error, 'SourceError')
}

/** The key does not exist in the source. */
export class SourceNotFoundError extends SourceError {
  static override readonly kind: string = 'SourceNotFoundError'

  constructor(details: SourceErrorDetails, message?: string) {
    super(message ?? `${details.source}: key ${JSON.stringify(details.key)} not found`, details)
  }
}

/** True when `error` is a {@link SourceNotFoundError}. */
export function isSourceNotFoundError(error: unknown): error is SourceNotFoundError {
  return hasErrorKind(error, 'SourceNotFoundError')
}

/** The source refused access (an ACL or token problem). */
export class SourcePermissionError extends SourceError {
  static override readonly kind: string = 'SourcePermissionError'

  constructor(details: SourceErrorDetails, message?: string) {
    super(message ?? `${details.source}: permission denied for key ${JSON.stringify(details.key)}`, details)
  }
}

/** True when `error` is a {@link SourcePermissionError}. */
export function isSourcePermissionError(error: unknown): error is SourcePermissionError {
  return hasErrorKind(error, 'SourcePermissionError')
}

/** The source cannot serve now (down, sealed, overloaded); trying later may succeed. */
export class SourceUnavailableError extends SourceError {
  static override readonly kind: string = 'SourceUnavailableError'

  constructor(details: SourceErrorDetails, message?: string) {
    super(message ?? `${details.source}: unavailable while reading ${JSON.stringify(details.key)}`, details)
  }
}

/** True when `error` is a {@link SourceUnavailableError}. */
export function isSourceUnavailableError(error: unknown): error is SourceUnavailableError {
  return hasErrorKind(error, 'SourceUnavailableError')
}

/**
 * Picks a dotted path (`'db.primary.url'`, array indexes as `'hosts.0'`) out of a parsed
 * document. A missing step is a {@link SourceNotFoundError} naming the field (never the value).
 *
 * @example
 * ```ts
 * import { selectField } from 'tributary'
 * selectField({ db: { url: 'postgres://…' } }, 'db.url', { source: 'file', key: 'app.yaml' })
 * ```
 */
export function selectField(document: unknown, field: string, details: SourceErrorDetails): unknown {
  let current: unknown = document
  for (const step of field.split('.')) {
    if (
      current === null ||
      typeof current !== 'object' ||
      !Object.prototype.hasOwnProperty.call(current, step)
    ) {
      throw new SourceNotFoundError(
        details,
        `${details.source}: field ${JSON.stringify(field)} not found in ${JSON.stringify(details.key)}`,
      )
    }
    current = (current as Record<string, unknown>)[step]
  }
  return current
}

/**
 * Parses `text` as JSON and picks `field` out of it (see {@link selectField}). Text that is not
 * JSON is a {@link SourceError} naming the key and the field, never the value.
 *
 * @example
 * ```ts
 * import { selectJsonField } from 'tributary'
 * selectJsonField('{"db":{"port":5432}}', 'db.port', { source: 'consul', key: 'app/config' }) // 5432
 * ```
 */
export function selectJsonField(text: string, field: string, details: SourceErrorDetails): unknown {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    throw new SourceError(
      `${details.source}: the value of ${JSON.stringify(details.key)} is not valid JSON, so field ${JSON.stringify(field)} cannot be read`,
      details,
    )
  }
  return selectField(document, field, details)
}

/**
 * Node's network error codes after which trying again later may succeed (the server is down,
 * unreachable or hung up): a source maps them to {@link SourceUnavailableError}.
 */
export const NETWORK_UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
])
