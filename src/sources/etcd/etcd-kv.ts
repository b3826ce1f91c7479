/**
 * etcd's key-value store as the `etcd3` client exposes it: the client shape the source and its
 * watcher use, how a key or a prefix becomes a component value, and the mapping of client
 * errors to typed source errors.
 */
import { redactSecrets } from '../../core/redact'
import {
  NETWORK_UNAVAILABLE_CODES,
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  selectField,
  selectJsonField,
} from '../source'

/** One key-value pair as etcd returns it (`IKeyValue` of `etcd3`). */
export interface EtcdKeyValue {
  readonly key: Buffer
  readonly value: Buffer
  /** The revision of the key's last change, a decimal string. */
  readonly mod_revision: string
}

/** The header of every etcd response; `revision` is the store's revision it was served at. */
export interface EtcdResponseHeader {
  readonly revision: string
}

/** A range (get) response: the pairs read and the revision they were read at. */
export interface EtcdRangeResponse {
  readonly header: EtcdResponseHeader
  readonly kvs: readonly EtcdKeyValue[]
}

/** A range request ready to run (`SingleRangeBuilder` or `MultiRangeBuilder` of `etcd3`). */
export interface EtcdRangeBuilderLike {
  exec(): Promise<EtcdRangeResponse>
}

/** One change in a watch response. */
export interface EtcdWatchEvent {
  readonly type: 'Put' | 'Delete'
  readonly kv: EtcdKeyValue
}

/** A watch response (`IWatchResponse` of `etcd3`): events, or none for a progress notification. */
export interface EtcdWatchResponse {
  readonly header: EtcdResponseHeader
  readonly events: readonly EtcdWatchEvent[]
}

/** A watch as the watcher drives it (`Watcher` of `etcd3`). */
export interface EtcdWatcherLike {
  on(event: 'data', handler: (response: EtcdWatchResponse) => void): unknown
  on(event: 'connected', handler: () => void): unknown
  on(event: 'disconnected' | 'error', handler: (error: Error) => void): unknown
  /** Stops the watch; resolves when etcd confirmed it (at once while disconnected). */
  cancel(): Promise<void>
}

/** A watch request being built (`WatchBuilder` of `etcd3`). */
export interface EtcdWatchBuilderLike {
  key(key: string): EtcdWatchBuilderLike
  prefix(prefix: string): EtcdWatchBuilderLike
  startRevision(revision: string): EtcdWatchBuilderLike
  /** Creates the watch and attaches it to the client's watch stream. */
  watcher(): EtcdWatcherLike
}

/** The part of an `etcd3` client this source uses. A `new Etcd3(...)` instance fits. */
export interface EtcdClientLike {
  get(key: string): EtcdRangeBuilderLike
  getAll(): { prefix(prefix: string): EtcdRangeBuilderLike }
  watch(): EtcdWatchBuilderLike
  /** Closes every connection of the client. */
  close(): void
}

/**
 * Where a component reads: one key, or (for a key ending in `/`) every key under that prefix.
 */
export interface EtcdTarget {
  /** The full key or prefix, the source's `prefix` included. */
  readonly key: string
  /** True when the component reads every key under `key`. */
  readonly prefix: boolean
}

/** The target of a component: `prefix` (the source's) + `key` (or the property name). */
export function etcdTarget(key: string, sourcePrefix: string): EtcdTarget {
  return { key: `${sourcePrefix}${key}`, prefix: key.endsWith('/') }
}

/**
 * The value of a single key: the UTF-8 string, or with `field` the dotted path inside it
 * parsed as JSON (a value that is not JSON is a {@link SourceError} naming the key, not the
 * value; a missing path a {@link SourceNotFoundError}).
 */
export function etcdKeyValue(raw: Buffer, field: string | undefined, name: string, key: string): unknown {
  const value = raw.toString('utf8')
  if (field === undefined) return value
  return selectJsonField(value, field, { source: name, key })
}

/**
 * The value of a prefix: an object from each key (the prefix cut off) to its UTF-8 string,
 * sorted by key; with `field`, the dotted path inside that object. No key under the prefix is
 * a {@link SourceNotFoundError}.
 */
export function etcdPrefixValue(
  entries: ReadonlyMap<string, string>,
  field: string | undefined,
  name: string,
  prefix: string,
): unknown {
  if (entries.size === 0) {
    throw new SourceNotFoundError(
      { source: name, key: prefix },
      `${name}: no key under ${JSON.stringify(prefix)}`,
    )
  }
  const document: Record<string, string> = {}
  for (const key of [...entries.keys()].sort())
    document[key.slice(prefix.length)] = entries.get(key) as string
  return field === undefined ? document : selectField(document, field, { source: name, key: prefix })
}

/** The entries of a range response, by full key. */
export function etcdEntries(response: EtcdRangeResponse): Map<string, string> {
  return new Map(response.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')]))
}

const UNAVAILABLE = new Set([
  'GRPCUnavailableError',
  'GRPCDeadlineExceededError',
  'GRPCCancelledError',
  'GRPCInternalError',
  'GRPCResourceExhastedError',
  'GRPCAbortedError',
  'GRPCConnectFailedError',
  'BrokenCircuitError',
  'EtcdWatchStreamEnded',
])
const PERMISSION = new Set([
  'EtcdPermissionDeniedError',
  'EtcdAuthenticationFailedError',
  'EtcdInvalidAuthTokenError',
  'EtcdUserNotFoundError',
  'GRPCUnauthenticatedError',
])

/**
 * Maps an `etcd3` error to a typed {@link SourceError}; `action` is `'reading'` or
 * `'watching'`. Unreachable members, a lost watch stream and a missing leader are
 * {@link SourceUnavailableError}s, refused credentials or rights {@link SourcePermissionError}s.
 * The cause kept is a plain copy with every secret (the password) redacted.
 */
export function etcdError(
  error: unknown,
  name: string,
  key: string,
  secrets: readonly string[],
  action: 'reading' | 'watching' = 'reading',
): SourceError {
  if (error instanceof SourceError) return error
  const kind = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name
  const reason = redactSecrets(error instanceof Error ? error.message : String(error), secrets)
  const cause = Object.assign(new Error(reason), { name: typeof kind === 'string' ? kind : 'Error' })
  const details = { source: name, key, cause }
  const where = JSON.stringify(key)
  if (
    (typeof kind === 'string' && PERMISSION.has(kind)) ||
    /permission denied|authentication failed|user name not found|invalid auth token/i.test(reason)
  ) {
    return new SourcePermissionError(details, `${name}: permission denied ${action} ${where}: ${reason}`)
  }
  if (
    (typeof kind === 'string' && UNAVAILABLE.has(kind)) ||
    [...NETWORK_UNAVAILABLE_CODES].some((code) => reason.includes(code)) ||
    /unavailable|no connection|no leader|timed out|deadline|stream ended|circuit/i.test(reason)
  ) {
    return new SourceUnavailableError(details, `${name}: unavailable while ${action} ${where}: ${reason}`)
  }
  return new SourceError(`${name}: ${action} ${where} failed: ${reason}`, details)
}

/** What one read of a target gave: its value (or none) and the revision it was read at. @internal */
export interface EtcdRead {
  /** The store's revision the read was served at. */
  readonly revision: bigint
  /** For a key: its raw value, or undefined when missing. */
  readonly value?: Buffer
  /** For a prefix: every key under it, by full key. */
  readonly entries?: Map<string, string>
}

/** Reads `target` once (a key, or every key under a prefix) with the revision it was read at. @internal */
export async function readEtcd(client: EtcdClientLike, target: EtcdTarget): Promise<EtcdRead> {
  const response: EtcdRangeResponse = target.prefix
    ? await client.getAll().prefix(target.key).exec()
    : await client.get(target.key).exec()
  const revision = BigInt(response.header.revision)
  if (target.prefix) return { revision, entries: etcdEntries(response) }
  const kv = response.kvs[0]
  return kv === undefined ? { revision } : { revision, value: kv.value }
}

/** The component value of a read (throws `SourceNotFoundError` for a missing key or empty prefix). @internal */
export function etcdReadValue(
  read: EtcdRead,
  target: EtcdTarget,
  field: string | undefined,
  name: string,
): unknown {
  if (read.entries !== undefined) return etcdPrefixValue(read.entries, field, name, target.key)
  if (read.value === undefined) {
    throw new SourceNotFoundError(
      { source: name, key: target.key },
      `${name}: key ${JSON.stringify(target.key)} not found`,
    )
  }
  return etcdKeyValue(read.value, field, name, target.key)
}
