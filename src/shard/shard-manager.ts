/**
 * `ShardManager`: named Kysely instances (one pool each) and `withShard(name, fn)`, which routes
 * every model helper started inside `fn` to that shard through an `AsyncLocalStorage`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Kysely } from 'kysely'
import { checkOptions, checks, describeValue, type OptionSpec } from '../core/option-checks'
import {
  bindDatabase,
  releaseModelRouter,
  routeModel,
  runWithDatabaseResolver,
  type AnyKysely,
  type DatabaseResolver,
} from '../model/connection'
import { UnknownShardError } from './errors'
import type { ModelConstructor } from '../model/decorators'

/**
 * Options for {@link ShardManager}.
 *
 * @example
 * ```ts
 * import { ShardManager } from 'tributary'
 * new ShardManager({ us: dbA, eu: dbB }, { concurrency: 8, defaultShard: 'us', ownsDatabases: true })
 * ```
 */
export interface ShardManagerOptions {
  /**
   * How many shards a fan-out (`executeAcrossShards`, `acrossShards()`) runs at once; the rest
   * wait their turn. Defaults to the number of shards (all at once).
   */
  concurrency?: number
  /**
   * The shard that attached models use outside `withShard`: `attach(User)` then binds `User`
   * to it as `User.use(db)` would (and `detach`/`close` unbind it). Defaults to none: outside
   * `withShard`, a model keeps its own binding, if any.
   */
  defaultShard?: string
  /** Whether `close()` destroys the Kysely instances (and their pools). Defaults to `true`. */
  ownsDatabases?: boolean
}

/** What `new ShardManager(shards, options)` may hold. */
const SHARD_MANAGER_OPTIONS: OptionSpec = {
  concurrency: checks.integer(1),
  defaultShard: checks.string,
  ownsDatabases: checks.boolean,
}

/** The shard each manager is on in the current async context. */
const context = new AsyncLocalStorage<ReadonlyMap<ShardManager<unknown>, string>>()
/** Which manager a model (or a parent class) is attached to. */
const attachments = new Map<object, ShardManager<unknown>>()
/** Open managers, for `ShardedAsyncExecutor.executeAcrossShards` without a manager. */
const open = new Set<ShardManager<unknown>>()

/**
 * The manager `model` (or its nearest parent class) is attached to, if any.
 *
 * @example
 * ```ts
 * import { shardManagerOf } from 'tributary'
 * User.use(shards)
 * shardManagerOf(User) === shards // true
 * ```
 */
export function shardManagerOf(model: ModelConstructor): ShardManager<unknown> | undefined {
  for (let c: unknown = model; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    const manager = attachments.get(c)
    if (manager) return manager
  }
  return undefined
}

const resolver: DatabaseResolver = (model) => {
  const manager = shardManagerOf(model)
  if (!manager) return undefined
  const name = context.getStore()?.get(manager)
  return name === undefined ? undefined : (manager.database(name) as unknown as AnyKysely)
}

/**
 * The open managers (used to find the manager of a fan-out given only shard names).
 *
 * @example
 * ```ts
 * import { openShardManagers } from 'tributary'
 * for (const manager of openShardManagers()) console.log(manager.names)
 * ```
 */
export function openShardManagers(): ReadonlySet<ShardManager<unknown>> {
  return open
}

/**
 * Named Kysely instances, each with its own pool. `withShard(name, fn)` runs `fn` with every
 * helper of the attached models on that shard; the choice follows the async context, so it
 * survives `await`s and never leaks into concurrent requests. An unknown name throws an
 * {@link UnknownShardError} listing the known ones.
 *
 * Route the sharded models through it with `User.use(shards)` (the same as
 * `shards.attach(User)`; `Model.use(shards)` routes every model). Models not attached keep
 * their own database inside `withShard`.
 *
 * @example
 * ```ts
 * import { ShardManager } from 'tributary'
 * const shards = new ShardManager({ us_east: dbA, us_west: dbB, eu: dbC }, { concurrency: 8 })
 * User.use(shards)
 * const euUsers = await shards.withShard('eu', () => User.asyncCount())
 * const total = await User.acrossShards().asyncCount()
 * await shards.close()
 * ```
 */
export class ShardManager<DB = unknown> {
  /** The shard names, in the order given. */
  readonly names: readonly string[]
  /** How many shards a fan-out runs at once. */
  readonly concurrency: number
  /** The shard attached models use outside `withShard`, if any. */
  readonly defaultShard: string | undefined
  private readonly shards: ReadonlyMap<string, Kysely<DB>>
  private readonly ownsDatabases: boolean
  private closing: Promise<void> | undefined

  constructor(
    shards: Readonly<Record<string, Kysely<DB>>> | ReadonlyMap<string, Kysely<DB>>,
    options: ShardManagerOptions = {},
  ) {
    if (typeof shards !== 'object' || shards === null || Array.isArray(shards)) {
      throw new TypeError(
        `new ShardManager(shards, options): shards must be an object or a Map of Kysely instances by name, got ${describeValue(shards)}`,
      )
    }
    checkOptions('new ShardManager(shards, options)', options, SHARD_MANAGER_OPTIONS)
    const entries = shards instanceof Map ? [...shards.entries()] : Object.entries(shards)
    if (entries.length === 0) throw new RangeError('ShardManager needs at least one shard')
    this.shards = new Map(entries)
    this.names = Object.freeze(entries.map(([name]) => name))
    const concurrency = options.concurrency ?? entries.length
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`ShardManager: concurrency must be a positive integer, got ${concurrency}`)
    }
    this.concurrency = concurrency
    if (options.defaultShard !== undefined) this.database(options.defaultShard)
    this.defaultShard = options.defaultShard
    this.ownsDatabases = options.ownsDatabases ?? true
    open.add(this as ShardManager<unknown>)
  }

  /** Whether the manager holds a shard called `name`. */
  has(name: string): boolean {
    return this.shards.has(name)
  }

  /** The Kysely of shard `name`; throws an {@link UnknownShardError} listing the known names. */
  database(name: string): Kysely<DB> {
    const db = this.shards.get(name)
    if (!db) throw new UnknownShardError(name, this.names)
    return db
  }

  /** The shard of the enclosing `withShard` on this manager, if any. */
  get current(): string | undefined {
    return context.getStore()?.get(this as ShardManager<unknown>)
  }

  /**
   * Routes the models attached to this manager to shard `name` while `fn` runs (including
   * everything `fn` awaits or starts). Returns what `fn` returns. Replaces an enclosing
   * `withDatabase(trx, …)` for the attached models.
   */
  withShard<T>(name: string, fn: () => T): T {
    this.database(name)
    const outer = context.getStore()
    const inner = new Map(outer)
    inner.set(this as ShardManager<unknown>, name)
    return context.run(inner, () => runWithDatabaseResolver(resolver, fn))
  }

  /**
   * Routes `models` (and their subclasses) through this manager, as `Model.use(shards)` does;
   * a model attached to another manager moves here. Returns the manager.
   */
  attach(...models: ModelConstructor[]): this {
    for (const model of models) {
      routeModel(model, this)
      attachments.set(model, this as ShardManager<unknown>)
      if (this.defaultShard !== undefined) {
        bindDatabase(model, this.database(this.defaultShard) as unknown as AnyKysely)
      }
    }
    return this
  }

  /** Stops routing `models` through this manager. */
  detach(...models: ModelConstructor[]): this {
    for (const model of models) {
      if (attachments.get(model) !== (this as ShardManager<unknown>)) continue
      attachments.delete(model)
      releaseModelRouter(model, this)
      if (this.defaultShard !== undefined) bindDatabase(model, null)
    }
    return this
  }

  /**
   * Detaches every model and, unless `ownsDatabases` is `false`, destroys every Kysely
   * instance (ending their pools). Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      open.delete(this as ShardManager<unknown>)
      for (const [model, manager] of [...attachments]) {
        if (manager === (this as ShardManager<unknown>)) this.detach(model as ModelConstructor)
      }
      if (this.ownsDatabases) await Promise.all([...this.shards.values()].map((db) => db.destroy()))
    })()
    return this.closing
  }

  /** `await using shards = new ShardManager(...)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
