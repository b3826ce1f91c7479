/**
 * The query store's shared tiers at work: reads L1 → L2 → one fetcher across instances (lease
 * locks), writes to L2, invalidations over the bus, grace on failure, and outages reported once
 * while the store carries on with L1 and the fetchers. Owned by a `QueryStore`. @internal
 */
import { randomUUID } from 'node:crypto'
import { hashKey, prefixOfHash, type QueryKey } from '../key-hash'
import { type QueryFetcher, type QueryFunctionContext } from '../options'
import type { QueryEntry } from '../query-entry'
import { L2CodecError, L2UnavailableError, StaleValueServedError, isL2CodecError } from './errors'
import type { BusMessage, InvalidationBus, L2Cache, L2Entry } from './l2-cache'
import { staleWithinGrace } from './grace'
import { singleFlight } from './lock'

/** The store options of the shared tiers. */
export interface DistributedStoreOptions {
  /** A shared cache behind L1 (`redisCache(client)`). Defaults to none. */
  l2?: L2Cache
  /** Carries `invalidate`, `setData` and `invalidateTags` to the other stores (`redisBus(client)`). Defaults to none. */
  bus?: InvalidationBus
  /** The lease of a fetch lock, in ms: a dead holder's lock lapses after it. Defaults to 10_000. */
  lockLease?: number
  /** How often a store waiting for another's fetch looks for its value, in ms. Defaults to 50. */
  lockPoll?: number
  /** After an outage, how long L2 is skipped before it is tried again, in ms. Defaults to 1_000. */
  outageRetry?: number
}

/** What the layer needs from its store. @internal */
export interface DistributedHost {
  /** Invalidates matching L1 entries only (a message from another store). */
  invalidateLocal(prefix: QueryKey, exact: boolean): void
  /** Invalidates L1 entries carrying one of `tags` only. */
  invalidateTaggedLocal(tags: readonly string[]): void
  /** Reports a failure (outage, stale value served). */
  report(error: unknown): void
}

type Tier = 'l2' | 'bus'

const NOTHING: Promise<undefined> = Promise.resolve(undefined)

/** The shared tiers of one store. @internal */
export class DistributedLayer {
  /** This store's id on the bus: its own messages come back and are ignored. */
  readonly id = randomUUID()
  readonly #l2: L2Cache | undefined
  readonly #bus: InvalidationBus | undefined
  readonly #host: DistributedHost
  readonly #lease: number
  readonly #poll: number
  readonly #outageRetry: number
  readonly #down = { l2: false, bus: false }
  #retryAt = 0
  readonly #unsubscribe: (() => void) | undefined

  constructor(options: DistributedStoreOptions, host: DistributedHost) {
    this.#l2 = options.l2
    this.#bus = options.bus
    this.#host = host
    // Checked with the store's options (store/option-specs.ts).
    this.#lease = options.lockLease ?? 10_000
    this.#poll = options.lockPoll ?? 50
    this.#outageRetry = options.outageRetry ?? 1_000
    this.#unsubscribe = this.#bus?.subscribe(
      (message) => this.#receive(message),
      (error) => this.#failed('bus', 'subscribe', error),
    )
  }

  /** One fetch attempt: a fresh L2 value, else the holder's value or this store's own fetch. */
  fetchThrough<T>(
    entry: QueryEntry<T>,
    fetcher: QueryFetcher<T>,
    context: QueryFunctionContext,
    fetchedAt: (at: number) => void,
  ): T | PromiseLike<T> {
    if (this.#l2 === undefined) return fetcher(context)
    // The hit path allocates one callback: it runs for every L2 hit.
    return this.#read(entry.hash).then((seen) => {
      if (seen !== undefined && Date.now() - seen.updatedAt < entry.options.staleTime) {
        fetchedAt(seen.updatedAt)
        return seen.data as T
      }
      return this.#fetchMissed(entry, fetcher, context, fetchedAt, seen)
    })
  }

  /** No fresh value in L2 (`seen` is the stale one, if any): fetch under the key's lock, or wait for its holder's value. */
  async #fetchMissed<T>(
    entry: QueryEntry<T>,
    fetcher: QueryFetcher<T>,
    context: QueryFunctionContext,
    fetchedAt: (at: number) => void,
    seen: L2Entry | undefined,
  ): Promise<T> {
    const l2 = this.#l2 as L2Cache
    const { hash, key } = entry
    const { staleTime, grace, tags } = entry.options
    const fetchAndStore = async (): Promise<T> => {
      const data = await fetcher(context)
      if (data !== undefined || entry.options.allowUndefined) {
        const updatedAt = Date.now()
        fetchedAt(updatedAt) // L1 and L2 agree on the value's age
        await this.#write(hash, { key, data, updatedAt, tags }, staleTime + grace)
      }
      return data
    }
    if (l2.locks === undefined || this.#skipping()) return fetchAndStore()
    const result = await singleFlight(
      {
        locks: l2.locks,
        hash,
        leaseMs: this.#lease,
        pollMs: this.#poll,
        signal: context.signal,
        read: () => this.#read(hash),
        seen,
        onLockError: (error) => this.#failed('l2', 'lock', error),
      },
      fetchAndStore,
    )
    if (result.from === 'fetch') return result.data
    fetchedAt(result.entry.updatedAt)
    return result.entry.data as T
  }

  /**
   * After a failed fetch: a value within `staleTime + grace` from L1 (`entry`) or L2, with the
   * failure reported; else the error again.
   */
  async grace<T>(
    entry: QueryEntry<T> | undefined,
    hash: string,
    grace: number,
    staleTime: number,
    error: unknown,
  ): Promise<T> {
    const limit = staleTime + grace
    const local = staleWithinGrace(entry, limit, error, (e) => this.#host.report(e))
    if (local !== undefined) return local.data
    const stored = this.#l2 === undefined ? undefined : await this.#read(hash)
    if (stored !== undefined) {
      const age = Date.now() - stored.updatedAt
      if (age < limit) {
        this.#host.report(new StaleValueServedError(hash, 'l2', age, error))
        return stored.data as T
      }
    }
    throw error
  }

  /** `invalidate(prefix)`: deletes the prefix from L2, then tells the other stores. */
  async invalidate(prefix: QueryKey): Promise<void> {
    const l2 = this.#l2
    if (l2 !== undefined)
      await this.#l2Op('delete', () => l2.deletePrefix(prefixOfHash(hashKey(prefix))), undefined)
    await this.#publish({ type: 'invalidate', from: this.id, prefix })
  }

  /** `setData`: writes the value to L2, then tells the other stores to drop theirs. */
  async set(entry: QueryEntry<unknown>): Promise<void> {
    const { staleTime, grace, tags } = entry.options
    const { data, updatedAt } = entry.state
    await this.#write(entry.hash, { key: entry.key, data, updatedAt, tags }, staleTime + grace)
    await this.#publish({ type: 'set', from: this.id, key: entry.key })
  }

  /** `invalidateTags(tags)`: deletes the tagged values from L2, then tells the other stores. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const l2 = this.#l2
    if (l2 !== undefined) await this.#l2Op('deleteTags', () => l2.deleteTags(tags), undefined)
    await this.#publish({ type: 'tags', from: this.id, tags })
  }

  /** Stops listening to the bus. */
  close(): void {
    this.#unsubscribe?.()
  }

  #receive(message: BusMessage): void {
    this.#recovered('bus')
    if (message.from === this.id) return
    if (message.type === 'invalidate') this.#host.invalidateLocal(message.prefix, false)
    else if (message.type === 'set') this.#host.invalidateLocal(message.key, true)
    else if (message.type === 'tags') this.#host.invalidateTaggedLocal(message.tags)
  }

  #read(hash: string): Promise<L2Entry | undefined> {
    if (this.#skipping()) return NOTHING
    // #l2Op's work without its closures: a read runs for every L2 hit
    return (this.#l2 as L2Cache).get(hash).then(this.#readDone, this.#readFailed)
  }

  readonly #readDone = (entry: L2Entry | undefined): L2Entry | undefined => {
    this.#recovered('l2')
    return entry
  }

  readonly #readFailed = (error: unknown): undefined => this.#l2Failed('get', error)

  #write(hash: string, entry: L2Entry, ttl: number): Promise<void> {
    const l2 = this.#l2
    if (l2 === undefined) return Promise.resolve()
    // waiters read the holder's value from L2, so it stays at least a lease long
    return this.#l2Op('set', () => l2.set(hash, entry, Math.max(ttl, this.#lease * 2)), undefined)
  }

  async #publish(message: BusMessage): Promise<void> {
    const bus = this.#bus
    if (bus === undefined) return
    try {
      await bus.publish(message)
      this.#recovered('bus')
    } catch (error) {
      this.#failed('bus', 'publish', error)
    }
  }

  /** Runs an L2 operation: its fallback while L2 is down (until the next retry), one report per outage. */
  async #l2Op<R>(operation: string, work: () => Promise<R>, fallback: R): Promise<R> {
    if (this.#skipping()) return fallback
    try {
      const result = await work()
      this.#recovered('l2')
      return result
    } catch (error) {
      this.#l2Failed(operation, error)
      return fallback
    }
  }

  /** An L2 operation failed: a value it could not decode is reported; anything else is an outage. */
  #l2Failed(operation: string, error: unknown): undefined {
    if (isL2CodecError(error)) {
      this.#host.report(error as L2CodecError)
      return undefined
    }
    this.#retryAt = Date.now() + this.#outageRetry
    this.#failed('l2', operation, error)
    return undefined
  }

  #skipping(): boolean {
    return this.#down.l2 && Date.now() < this.#retryAt
  }

  #failed(tier: Tier, operation: string, error: unknown): void {
    if (this.#down[tier]) return
    this.#down[tier] = true
    this.#host.report(new L2UnavailableError(tier, operation, error))
  }

  #recovered(tier: Tier): void {
    this.#down[tier] = false
  }
}
