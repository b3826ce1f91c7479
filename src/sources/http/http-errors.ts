/**
 * The typed errors of the HTTP source and its watcher: one class per kind of non-2xx answer,
 * each carrying `status`.
 */
import { hasErrorKind } from '../../core/errors'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  type SourceErrorDetails,
} from '../source'

/** A non-2xx HTTP answer that is none of the more specific cases below. Carries `status`. */
export class HttpStatusError extends SourceError {
  static override readonly kind: string = 'HttpStatusError'

  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(message, details)
  }
}

/** A 404 or 410 answer: the key is a {@link SourceNotFoundError} that carries `status`. */
export class HttpNotFoundError extends SourceNotFoundError {
  static override readonly kind: string = 'HttpNotFoundError'

  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** A 401 or 403 answer: a {@link SourcePermissionError} that carries `status`. */
export class HttpPermissionError extends SourcePermissionError {
  static override readonly kind: string = 'HttpPermissionError'

  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** A 429, 502, 503 or 504 answer: a {@link SourceUnavailableError} that carries `status`. */
export class HttpUnavailableError extends SourceUnavailableError {
  static override readonly kind: string = 'HttpUnavailableError'

  constructor(
    /** The HTTP status code. */
    readonly status: number,
    details: SourceErrorDetails,
    message: string,
  ) {
    super(details, message)
  }
}

/** Any error `httpSource` throws for a non-2xx answer; all carry `status`. */
export type HttpSourceStatusError =
  HttpStatusError | HttpNotFoundError | HttpPermissionError | HttpUnavailableError

/** True when `error` came from a non-2xx HTTP answer (it then has a numeric `status`). */
export function isHttpStatusError(error: unknown): error is HttpSourceStatusError {
  return ['HttpStatusError', 'HttpNotFoundError', 'HttpPermissionError', 'HttpUnavailableError'].some(
    (kind) => hasErrorKind(error, kind),
  )
}

/**
 * The typed error for a non-2xx answer to `GET shown`: 404/410 {@link HttpNotFoundError},
 * 401/403 {@link HttpPermissionError}, 429/502/503/504 {@link HttpUnavailableError}, anything
 * else {@link HttpStatusError}. `shown` must already be free of credentials.
 *
 * @example
 * ```ts
 * if (!response.ok) throw httpStatusError(response.status, 'http', 'http://127.0.0.1:8080/flags')
 * ```
 */
export function httpStatusError(status: number, name: string, shown: string): SourceError {
  const details = { source: name, key: shown }
  const message = `${name}: GET ${shown} answered ${status}`
  if (status === 404 || status === 410) return new HttpNotFoundError(status, details, message)
  if (status === 401 || status === 403) return new HttpPermissionError(status, details, message)
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return new HttpUnavailableError(status, details, message)
  }
  return new HttpStatusError(status, details, message)
}
