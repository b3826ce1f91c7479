/**
 * What the NATS stream source and its watcher share: the lazily loaded JetStream client, the
 * stream a subject is stored in, a message's value, and the typed errors. @internal
 */
import { maskUrlCredentials } from '../../core/redact'
import { requireOptional } from '../../core/optional'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectJsonField,
} from '../source'
import type {
  NatsJetStreamClientLike,
  NatsJetStreamManagerLike,
  NatsJetStreamModuleLike,
  NatsStreamConnectionLike,
} from './nats-client'

/** The JetStream API code of "stream not found". */
const STREAM_NOT_FOUND = 10059

/** The JetStream handles of one connection, made on first use (and again after a failure). */
export interface NatsJetStream {
  manager(): Promise<NatsJetStreamManagerLike>
  client(): NatsJetStreamClientLike
  /** The stream holding `subject`: the source's `stream` option, else looked up (and remembered). */
  streamOf(subject: string): Promise<string>
}

/** Creates the {@link NatsJetStream} of `connection`; `feature` names the caller in a missing-package error. */
export function natsJetStream(
  connection: NatsStreamConnectionLike,
  stream: string | undefined,
  feature: string,
): NatsJetStream {
  const load = (): NatsJetStreamModuleLike => {
    // The JetStream module needs the core client; loading it first names the missing package right.
    requireOptional<unknown>('@nats-io/transport-node', feature)
    return requireOptional<NatsJetStreamModuleLike>('@nats-io/jetstream', feature)
  }
  let manager: Promise<NatsJetStreamManagerLike> | undefined
  let client: NatsJetStreamClientLike | undefined
  const streams = new Map<string, string>()
  const getManager = (): Promise<NatsJetStreamManagerLike> => {
    if (manager) return manager
    const module = load()
    const made = module.jetstreamManager(connection as never)
    manager = made
    made.catch(() => {
      if (manager === made) manager = undefined
    })
    return made
  }
  return {
    manager: getManager,
    client() {
      client ??= load().jetstream(connection as never)
      return client
    },
    async streamOf(subject) {
      if (stream !== undefined) return stream
      const known = streams.get(subject)
      if (known !== undefined) return known
      const found = await (await getManager()).streams.find(subject)
      streams.set(subject, found)
      return found
    },
  }
}

/**
 * A message's value: its text parsed as JSON when it parses (`'42'` → 42, `'{"a":1}'` →
 * `{ a: 1 }`), else the text itself; with `field`, the dotted path inside its JSON (text that
 * is not JSON is a `SourceError`).
 */
export function messageValue(
  data: Uint8Array,
  field: string | undefined,
  name: string,
  subject: string,
): unknown {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
  if (field !== undefined) return selectJsonField(text, field, { source: name, key: subject })
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/**
 * A failed NATS or JetStream call as a `SourceError` naming the source and subject: no stream
 * for the subject a `SourceNotFoundError`; a closed, disconnected or silent connection (or
 * JetStream not enabled) a `SourceUnavailableError`; a permissions violation a
 * `SourcePermissionError`. Credentials in a URL are masked.
 */
export function natsError(error: unknown, name: string, subject: string, doing: string): SourceError {
  if (error instanceof SourceError) return error
  const errorName = error instanceof Error ? error.name : 'Error'
  const message = maskUrlCredentials(error instanceof Error ? error.message : String(error))
  const cause = Object.assign(new Error(message), { name: errorName })
  const details = { source: name, key: subject, cause }
  const code = (error as { code?: unknown } | null)?.code
  if (errorName === 'StreamNotFoundError' || code === STREAM_NOT_FOUND || code === String(STREAM_NOT_FOUND)) {
    return new SourceNotFoundError(
      details,
      `${name}: no JetStream stream holds subject ${subject} (${message})`,
    )
  }
  if (/^(PermissionViolationError|AuthorizationError|UserAuthenticationExpiredError)$/.test(errorName)) {
    return new SourcePermissionError(details, `${name}: NATS refused ${doing} subject ${subject}: ${message}`)
  }
  if (
    /^(TimeoutError|ClosedConnectionError|DrainingConnectionError|ConnectionError|NoRespondersError|JetStreamNotEnabled)$/.test(
      errorName,
    ) ||
    /ECONNREFUSED|ECONNRESET|disconnect|timeout|no responders/i.test(message)
  ) {
    return new SourceUnavailableError(
      details,
      `${name}: NATS unavailable while ${doing} subject ${subject}: ${message}`,
    )
  }
  return new SourceError(`${name}: ${doing} subject ${subject} failed: ${message}`, details)
}
