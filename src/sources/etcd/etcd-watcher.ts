/**
 * The etcd source's watcher: one read, then etcd's watch from the revision after it, resumed
 * from the last revision seen after every reconnect, so no change is lost or reported twice.
 */
import { delay, raceAbort } from '../../core/abort'
import { isSourceNotFoundError, type ComponentRequest } from '../source'
import { backoffDelay, createWatcherScope, type SourceWatchOptions, type SourceWatcher } from '../watch'
import {
  etcdError,
  etcdReadValue,
  etcdTarget,
  readEtcd,
  type EtcdClientLike,
  type EtcdRead,
  type EtcdWatchResponse,
  type EtcdWatcherLike,
} from './etcd-kv'

/** Settings of {@link watchEtcd}, taken from the etcd source. */
export interface EtcdWatchSettings {
  /** The source name. */
  readonly name: string
  /** The client (created lazily by the source). */
  client(): EtcdClientLike
  /** The source's key prefix. Defaults to `''`. */
  readonly prefix?: string
  /** Strings that must never appear in an error message (the password). Defaults to none. */
  readonly secrets?: readonly string[]
}

/**
 * The longest `stop()` waits for etcd to confirm a watch's cancellation, in ms (a member that
 * went away mid-cancel never answers; the watch stream is dropped with the client then).
 */
export const ETCD_CANCEL_WAIT_MS = 2_000

/** How one watch stream ended. */
type WatchEnd =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'compacted' }

/**
 * Watches one key, or every key under a prefix (a component key ending in `/`). It reads the
 * target once (reporting its value, or a removal) at revision R and watches from R + 1. Every
 * change is reported once and in revision order: a put as its new value (for a prefix, the whole
 * object after all changes of that revision), a delete as a removal (for a prefix, when its last
 * key goes); a write of the value already reported is no change. When the watch stream breaks
 * (the member stopped, the leader changed, the network dropped), the outage is reported once
 * and, after a capped backoff, a new watch starts at the revision after the last one seen, on
 * whichever member answers: etcd replays what happened meanwhile and anything already seen is
 * skipped by revision. Only when etcd has compacted that revision away is the target read again
 * (the changes in between are then one change). `pollInterval` plays no part. `stop()` cancels
 * the watch (the client's watch stream closes with its last watch).
 *
 * @example
 * ```ts
 * import { etcdSource } from 'tributary'
 * const etcd = etcdSource({ hosts: 'http://127.0.0.1:2379' })
 * const watcher = etcd.watch({ className: 'C', property: 'port', key: 'app/port', secret: false }, {
 *   signal, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchEtcd(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: EtcdWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const { name } = settings
  const target = etcdTarget(request.key ?? request.property, settings.prefix ?? '')
  const secrets = settings.secrets ?? []
  /** The revision up to which every change has been applied; undefined before a (re)read. */
  let revision: bigint | undefined
  let value: Buffer | undefined
  let entries: Map<string, string> | undefined
  /** Consecutive failed reads or watch streams (a watch that connects resets it). */
  let failures = 0

  const report = (): void => {
    const read: EtcdRead = {
      revision: revision ?? 0n,
      ...(value === undefined ? {} : { value }),
      ...(entries === undefined ? {} : { entries }),
    }
    try {
      reporter.value(etcdReadValue(read, target, request.field, name))
    } catch (error) {
      if (isSourceNotFoundError(error)) return reporter.removed()
      // A value that cannot be read (bad JSON) is a report, not an outage.
      reporter.error(error)
      reporter.ok()
    }
  }

  /** Applies one watch response: each revision's changes once, skipping any already seen. */
  const apply = (response: EtcdWatchResponse): void => {
    if (revision === undefined) return
    if (response.events.length === 0) {
      // A progress notification: every change up to header.revision has been sent.
      const progress = BigInt(response.header.revision)
      if (progress > revision) revision = progress
      return
    }
    let pending: bigint | undefined
    for (const event of response.events) {
      const at = BigInt(event.kv.mod_revision)
      if (at <= revision) continue
      if (pending !== undefined && at !== pending) {
        revision = pending
        report()
      }
      pending = at
      const put = event.type === 'Put'
      if (entries !== undefined) {
        const key = event.kv.key.toString('utf8')
        if (put) entries.set(key, event.kv.value.toString('utf8'))
        else entries.delete(key)
      } else {
        value = put ? event.kv.value : undefined
      }
    }
    if (pending !== undefined) {
      revision = pending
      report()
    }
  }

  /** One watch stream from `from`, until it breaks or the watcher stops. */
  const watchFrom = (client: EtcdClientLike, from: bigint): Promise<WatchEnd> =>
    new Promise<WatchEnd>((resolve) => {
      let ended = false
      let watcher: EtcdWatcherLike
      const end = (how: WatchEnd, cancel: boolean): void => {
        if (ended) return
        ended = true
        signal.removeEventListener('abort', onAbort)
        if (!cancel) return resolve(how)
        void scope.track(cancelWatch(watcher).finally(() => resolve(how)))
      }
      const onAbort = (): void => end({ kind: 'stopped' }, true)
      try {
        const builder = client.watch()
        watcher = (target.prefix ? builder.prefix(target.key) : builder.key(target.key))
          .startRevision(String(from))
          .watcher()
      } catch (error) {
        return resolve({ kind: 'failed', error })
      }
      watcher.on('connected', () => {
        if (ended) return
        failures = 0
        reporter.ok()
      })
      watcher.on('data', (response) => {
        if (!ended && !signal.aborted) apply(response)
      })
      // While disconnected, `cancel()` only detaches the watch: etcd3 then has none to resume.
      watcher.on('disconnected', (error) => end({ kind: 'failed', error }, true))
      // etcd cancelled the watch itself (compaction, permissions): nothing is left to cancel.
      watcher.on('error', (error) =>
        end(/compacted/i.test(error.message) ? { kind: 'compacted' } : { kind: 'failed', error }, false),
      )
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      let client: EtcdClientLike
      try {
        client = settings.client()
      } catch (error) {
        // A missing `etcd3` package: nothing to retry.
        return reporter.error(error)
      }
      if (revision === undefined) {
        try {
          const read = await raceAbort(readEtcd(client, target), signal)
          revision = read.revision
          value = read.value
          entries = read.entries
          failures = 0
          report()
        } catch (error) {
          if (signal.aborted) return
          failures += 1
          reporter.error(etcdError(error, name, target.key, secrets, 'watching'))
          await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
          continue
        }
      }
      const outcome = await watchFrom(client, revision + 1n)
      if (outcome.kind === 'stopped' || signal.aborted) return
      if (outcome.kind === 'compacted') {
        revision = undefined
        continue
      }
      failures += 1
      reporter.error(etcdError(outcome.error, name, target.key, secrets, 'watching'))
      await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
    }
  }
  void scope.track(loop())
  return scope.watcher
}

/** Cancels a watch, waiting at most {@link ETCD_CANCEL_WAIT_MS} for etcd to confirm it. */
async function cancelWatch(watcher: EtcdWatcherLike): Promise<void> {
  const timer = new AbortController()
  try {
    await Promise.race([
      watcher.cancel().catch(() => undefined),
      delay(ETCD_CANCEL_WAIT_MS, timer.signal).catch(() => undefined),
    ])
  } finally {
    timer.abort()
  }
}
