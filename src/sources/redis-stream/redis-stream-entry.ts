/**
 * What the Redis Stream source and its watcher share: an entry's value (its fields as an object,
 * or one field) and the typed error for a failed command.
 */
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectJsonField,
} from '../source'
import type { RedisStreamEntry } from './redis-stream-client'

/** An entry's fields as an object (a field repeated in one entry keeps its last value). */
export function entryFields(entry: RedisStreamEntry): Record<string, string> {
  const fields: Record<string, string> = {}
  const list = entry[1]
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string
  return fields
}

/**
 * The value of `entry` for a component: every field as an object without `field`; with one,
 * that field's value, or for a dotted `field` whose first step is a field holding JSON
 * (`'payload.db.port'`), the path inside it. A missing field is a `SourceNotFoundError`.
 * @internal
 */
export function entryValue(
  entry: RedisStreamEntry,
  field: string | undefined,
  name: string,
  key: string,
): unknown {
  const fields = entryFields(entry)
  if (field === undefined) return fields
  if (Object.prototype.hasOwnProperty.call(fields, field)) return fields[field]
  const dot = field.indexOf('.')
  const head = dot < 0 ? field : field.slice(0, dot)
  if (dot > 0 && Object.prototype.hasOwnProperty.call(fields, head)) {
    return selectJsonField(fields[head] as string, field.slice(dot + 1), { source: name, key })
  }
  throw new SourceNotFoundError(
    { source: name, key },
    `${name}: field ${JSON.stringify(field)} not found in the latest entry (${entry[0]}) of stream ${key}`,
  )
}

/**
 * A failed command as a `SourceError` naming the source and stream key: unreachable Redis is a
 * `SourceUnavailableError`, a refused ACL a `SourcePermissionError`. The cause is a plain copy
 * of the message (ioredis errors hold the failed command, and AUTH's arguments are the
 * password). @internal
 */
export function redisStreamError(error: unknown, name: string, key: string, doing: string): SourceError {
  if (error instanceof SourceError) return error
  const message = error instanceof Error ? error.message : String(error)
  const cause = Object.assign(new Error(message), { name: error instanceof Error ? error.name : 'Error' })
  const details = { source: name, key, cause }
  if (
    /ECONNREFUSED|ECONNRESET|Connection is closed|max retries per request|Stream isn't writeable|ETIMEDOUT|Command timed out|LOADING/i.test(
      message,
    )
  ) {
    return new SourceUnavailableError(
      details,
      `${name}: Redis unavailable while ${doing} stream ${key}: ${message}`,
    )
  }
  if (/^(NOPERM|NOAUTH|WRONGPASS)/.test(message)) {
    return new SourcePermissionError(
      details,
      `${name}: Redis refused ${doing} stream ${key}: ${message.split('\n')[0]}`,
    )
  }
  if (message.startsWith('WRONGTYPE')) {
    return new SourceError(`${name}: key ${key} is not a stream`, details)
  }
  return new SourceError(`${name}: ${doing} stream ${key} failed: ${message}`, details)
}
