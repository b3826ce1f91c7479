/**
 * `etcdSource(clientOrOptions)`: components read from etcd's key-value store (v3 API).
 */
import { raceAbort, throwIfAborted } from '../../core/abort'
import type { ComponentRequest, SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import { etcdError, etcdReadValue, etcdTarget, readEtcd, type EtcdClientLike, type EtcdRead } from './etcd-kv'
import {
  checkEtcdOptions,
  createEtcdClient,
  type EtcdSourceClientOptions,
  type EtcdSourceOptions,
} from './etcd-options'
import { watchEtcd } from './etcd-watcher'

export type {
  EtcdClientLike,
  EtcdKeyValue,
  EtcdRangeBuilderLike,
  EtcdRangeResponse,
  EtcdResponseHeader,
  EtcdWatchBuilderLike,
  EtcdWatchEvent,
  EtcdWatchResponse,
  EtcdWatcherLike,
} from './etcd-kv'
export { EtcdOptionsError, isEtcdOptionsError } from './etcd-options'
export type { EtcdSourceClientOptions, EtcdSourceOptions } from './etcd-options'

/**
 * A source reading etcd through the `etcd3` client: pass your client (or `{ client, prefix }`),
 * or connection options (`hosts`, `auth`, `credentials`, `dialTimeout`) from which the source
 * creates one (the optional peer dependency `etcd3` is loaded then) and closes it on `close()`.
 * A component's `key` (or its property name), after the source's `prefix`, is read as one key;
 * a key ending in `/` reads every key under it as an object from the rest of each key to its
 * value (`{ port: '8080', 'db/url': '…' }` for `app/`). `field` parses a key's value as JSON
 * and picks the dotted path (on a prefix, it picks from the object). A missing key (or a prefix
 * with no key) is a `SourceNotFoundError`, refused credentials a `SourcePermissionError`,
 * unreachable members a `SourceUnavailableError`; a bad option an `EtcdOptionsError`. The
 * password never appears in a message. `etcd3` cannot cancel a read: an aborted signal rejects
 * at once and the answer is ignored. `watch` follows the key or prefix with etcd's revisioned
 * watch (see `watchEtcd`).
 *
 * @example
 * ```ts
 * import { Component, etcdSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'etcd', key: 'app/port' }) port!: number
 *   @Component({ fetchFrom: 'etcd', key: 'app/features/' }) features!: Record<string, string>
 * }
 * const etcd = etcdSource({ hosts: ['http://127.0.0.1:2379'] })
 * const config = await resolve(AppConfig, { sources: [etcd] })
 * await etcd.close?.()
 * ```
 */
export function etcdSource(
  clientOrOptions: EtcdClientLike | EtcdSourceClientOptions | EtcdSourceOptions = {},
): WatchableSource {
  if (clientOrOptions === null || typeof clientOrOptions !== 'object') {
    throw new TypeError('etcdSource: expected an etcd3 client or an options object')
  }
  const given = isClient(clientOrOptions)
    ? { client: clientOrOptions }
    : 'client' in clientOrOptions
      ? (clientOrOptions as EtcdSourceClientOptions)
      : undefined
  if (given && !isClient(clientOrOptions)) {
    checkEtcdOptions(given, true)
    if (!isClient(given.client)) {
      throw new TypeError('etcdSource: option "client" must be an etcd3 client (get, getAll, watch, close)')
    }
  }
  const options = (given ? {} : clientOrOptions) as EtcdSourceOptions
  if (!given) checkEtcdOptions(options, false)
  const name = given?.name ?? options.name ?? 'etcd'
  const prefix = given?.prefix ?? options.prefix ?? ''
  const secrets = [options.auth?.password].filter((s): s is string => typeof s === 'string' && s.length > 0)
  let owned: EtcdClientLike | undefined
  const client = (): EtcdClientLike => {
    if (given) return given.client
    owned ??= createEtcdClient(options)
    return owned
  }

  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const target = etcdTarget(request.key ?? request.property, prefix)
      const etcd = client() // outside the try: a missing `etcd3` package is not a failed read
      let read: EtcdRead
      try {
        read = await raceAbort(readEtcd(etcd, target), context.signal)
      } catch (error) {
        if (context.signal.aborted) throw error
        throw etcdError(error, name, target.key, secrets)
      }
      return etcdReadValue(read, target, request.field, name)
    },
    watch: (request, watchOptions) => watchEtcd(request, watchOptions, { name, client, prefix, secrets }),
    async close(): Promise<void> {
      owned?.close()
      owned = undefined
    },
  }
}

function isClient(value: unknown): value is EtcdClientLike {
  const candidate = value as Partial<Record<keyof EtcdClientLike, unknown>> | null | undefined
  return (
    typeof candidate?.get === 'function' &&
    typeof candidate.getAll === 'function' &&
    typeof candidate.watch === 'function'
  )
}
