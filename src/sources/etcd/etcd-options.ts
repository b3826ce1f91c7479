/**
 * The options of `etcdSource`: their types, the check that turns a bad one into an
 * {@link EtcdOptionsError}, and the `etcd3` client built from them.
 */
import { TributaryError, hasErrorKind } from '../../core/errors'
import { requireOptional } from '../../core/optional'
import { unknownOption } from '../../core/option-checks'
import { didYouMean } from '../../core/suggest'
import type { EtcdClientLike } from './etcd-kv'

/** Connection options from which `etcdSource` builds its own `etcd3` client. */
export interface EtcdSourceOptions {
  /**
   * The members' client URLs, e.g. `['http://127.0.0.1:2379', 'http://127.0.0.1:22379']` (or
   * one string). Defaults to `'http://127.0.0.1:2379'`.
   */
  readonly hosts?: string | readonly string[]
  /** A user and password for etcd's authentication; the password is never printed. Defaults to none. */
  readonly auth?: { readonly username: string; readonly password: string }
  /** TLS: the CA certificate (PEM), and a client certificate and key for mutual TLS. Defaults to none. */
  readonly credentials?: {
    readonly rootCertificate: Buffer
    readonly privateKey?: Buffer
    readonly certChain?: Buffer
  }
  /** How long to wait for a connection to a member, in ms. Defaults to `etcd3`'s (none). */
  readonly dialTimeout?: number
  /** Prepended to every key. Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'etcd'`. */
  readonly name?: string
}

/** A client you own plus source options; the source never closes a client it was given. */
export interface EtcdSourceClientOptions {
  readonly client: EtcdClientLike
  /** Prepended to every key. Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'etcd'`. */
  readonly name?: string
}

/**
 * An option of `etcdSource` is wrong: a misspelt name, `hosts` that are not URLs, `auth`
 * without a user or password… The message names the option, never the password.
 *
 * @example
 * ```ts
 * import { etcdSource, isEtcdOptionsError } from 'tributary'
 * try { etcdSource({ host: '127.0.0.1:2379' } as never) } catch (e) { if (isEtcdOptionsError(e)) console.error(e.option) }
 * ```
 */
export class EtcdOptionsError extends TributaryError {
  static override readonly kind: string = 'EtcdOptionsError'

  /** The option at fault, e.g. `'hosts'`. */
  readonly option: string

  constructor(option: string, problem: string) {
    super(`etcdSource: option ${JSON.stringify(option)}: ${problem}`)
    this.option = option
  }
}

/** True when `error` is an {@link EtcdOptionsError}. */
export function isEtcdOptionsError(error: unknown): error is EtcdOptionsError {
  return hasErrorKind(error, 'EtcdOptionsError')
}

const CONNECTION_OPTIONS = ['hosts', 'auth', 'credentials', 'dialTimeout', 'prefix', 'name'] as const
const CLIENT_OPTIONS = ['client', 'prefix', 'name'] as const

/**
 * Checks the options of `etcdSource` (with `client` or without), throwing an
 * {@link EtcdOptionsError} for the first wrong one. @internal
 */
export function checkEtcdOptions(options: object, withClient: boolean): void {
  const known: readonly string[] = withClient ? CLIENT_OPTIONS : CONNECTION_OPTIONS
  const unknown = unknownOption(options, known)
  if (unknown !== undefined)
    throw new EtcdOptionsError(unknown, `unknown option${didYouMean(unknown, known)}`)
  const o = options as Record<string, unknown>
  for (const name of ['prefix', 'name'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'string') {
      throw new EtcdOptionsError(name, `must be a string, got ${typeof o[name]}`)
    }
  }
  if (o.name === '') throw new EtcdOptionsError('name', 'must not be empty')
  if (withClient) return
  if (o.hosts !== undefined) {
    const hosts: unknown[] = Array.isArray(o.hosts) ? o.hosts : [o.hosts]
    if (hosts.length === 0) throw new EtcdOptionsError('hosts', 'must name at least one member')
    for (const host of hosts) {
      if (typeof host !== 'string' || !/^(https?:\/\/)?[^\s/:]+(:\d+)?\/?$/.test(host)) {
        throw new EtcdOptionsError(
          'hosts',
          `${typeof host === 'string' ? JSON.stringify(host) : typeof host} is not a member URL such as "http://127.0.0.1:2379"`,
        )
      }
    }
  }
  if (o.auth !== undefined) {
    const auth = o.auth as { username?: unknown; password?: unknown } | null
    if (auth === null || typeof auth !== 'object')
      throw new EtcdOptionsError('auth', 'must be { username, password }')
    if (typeof auth.username !== 'string' || auth.username === '') {
      throw new EtcdOptionsError('auth', 'username must be a non-empty string')
    }
    if (typeof auth.password !== 'string') throw new EtcdOptionsError('auth', 'password must be a string')
  }
  if (o.dialTimeout !== undefined) {
    const timeout = o.dialTimeout
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new EtcdOptionsError('dialTimeout', 'must be a positive number of milliseconds')
    }
  }
  if (o.credentials !== undefined) {
    const credentials = o.credentials as { rootCertificate?: unknown } | null
    if (
      credentials === null ||
      typeof credentials !== 'object' ||
      !Buffer.isBuffer(credentials.rootCertificate)
    ) {
      throw new EtcdOptionsError(
        'credentials',
        'must be { rootCertificate: Buffer, privateKey?, certChain? }',
      )
    }
  }
}

type Etcd3Constructor = new (options: Record<string, unknown>) => EtcdClientLike

/** An `etcd3` backoff that never waits: the watcher reconnects with its own backoff. */
interface ImmediateBackoff {
  readonly duration: number
  next(): ImmediateBackoff
}
const immediate: ImmediateBackoff = { duration: 0, next: () => immediate }

/**
 * A new `etcd3` client for `options` (the optional peer dependency is loaded now). Each member
 * is called through as it is, without `etcd3`'s per-host circuit breaker (which refuses a
 * member for 5 s after three failures): a read still tries the other members, and the watcher
 * backs off on its own. @internal
 */
export function createEtcdClient(options: EtcdSourceOptions): EtcdClientLike {
  const { Etcd3 } = requireOptional<{ Etcd3: Etcd3Constructor }>('etcd3', 'etcdSource')
  // Async: etcd3 chains `.catch` on what `execute` returns, even when `fn` throws at once.
  const passThrough = { execute: async <T>(fn: () => T | Promise<T>): Promise<T> => fn() }
  const hosts = options.hosts ?? 'http://127.0.0.1:2379'
  return new Etcd3({
    hosts: typeof hosts === 'string' ? hosts : [...hosts],
    ...(options.auth === undefined ? {} : { auth: { ...options.auth } }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
    ...(options.dialTimeout === undefined ? {} : { dialTimeout: options.dialTimeout }),
    faultHandling: { host: () => passThrough, watchBackoff: immediate },
  })
}
