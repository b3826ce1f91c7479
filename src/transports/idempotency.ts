/**
 * Idempotent handlers: a TTL'd seen-set in Redis (SET NX PX) so that a redelivered event does
 * not repeat a side effect. A key is claimed for a lease before the handler runs, marked done
 * (for `ttl`) after it succeeded, and released when it failed; a delivery that finds the key
 * claimed by another one in progress fails with an `IdempotencyBusyError` (so it is redelivered
 * later), one that finds it done is skipped.
 */
import { randomUUID } from 'node:crypto'
import { deliveryOf } from '../events/bridge'
import type { EventHandler } from '../events/types'
import { IdempotencyBusyError, TransportOptionsError, checkTransportOptions } from './errors'
import { checks, ttlProblem } from '../core/option-checks'

/** Where idempotency keys are remembered. */
export interface SeenSet {
  /** `'claimed'` (run the handler; `token` releases or completes), `'done'` (skip) or `'busy'`. */
  claim(key: string, token: string, leaseMs: number): Promise<'claimed' | 'done' | 'busy'>
  /** Marks `key` done for `ttlMs`. */
  complete(key: string, token: string, ttlMs: number): Promise<void>
  /** Frees a claim this token holds (the handler failed). */
  release(key: string, token: string): Promise<void>
}

/** The commands of {@link redisSeenSet}, as structural types; an ioredis `Redis` fits. */
export interface RedisSeenSetClient {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>
  set(key: string, value: string, px: 'PX', milliseconds: number): Promise<'OK'>
  get(key: string): Promise<string | null>
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>
}

/** Options for {@link redisSeenSet}. */
export interface RedisSeenSetOptions {
  /** Key prefix. Defaults to `'tributary:seen:'`. */
  prefix?: string
}

const DONE = 'done'
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"

/**
 * A {@link SeenSet} in Redis: one key per idempotency key, `SET NX PX` to claim it.
 *
 * @example
 * ```ts
 * import { redisSeenSet, idempotent } from 'tributary'
 * const seen = redisSeenSet(redis)
 * bus.on(OrderPlaced, idempotent(chargeCard, { seen, ttl: 86_400 }))
 * ```
 */
export function redisSeenSet(client: RedisSeenSetClient, options: RedisSeenSetOptions = {}): SeenSet {
  checkTransportOptions('redisSeenSet', options, { prefix: checks.name })
  const prefix = options.prefix ?? 'tributary:seen:'
  return {
    async claim(key, token, leaseMs) {
      const set = await client.set(prefix + key, token, 'PX', leaseMs, 'NX')
      if (set === 'OK') return 'claimed'
      return (await client.get(prefix + key)) === DONE ? 'done' : 'busy'
    },
    async complete(key, _token, ttlMs) {
      await client.set(prefix + key, DONE, 'PX', ttlMs)
    },
    async release(key, token) {
      await client.eval(RELEASE, 1, prefix + key, token)
    },
  }
}

/** Options for {@link idempotent}. */
export interface IdempotentOptions<E> {
  /** Where keys are remembered. */
  seen: SeenSet
  /**
   * The key of an event. Defaults to the handler's name and the bridged delivery's event id
   * (`deliveryOf(event).id`); a local emit without a key runs the handler unguarded.
   */
  idempotencyKey?: (event: E) => string
  /** How long a done key is remembered, in seconds (as every `ttl`). Defaults to 86,400 (24 hours). */
  ttl?: number
  /** How long a claim holds while the handler runs (a dead holder's claim expires after it), in ms. Defaults to 60,000. */
  lease?: number
  /** Names the handler in default keys. Defaults to the function's name. */
  name?: string
}

/**
 * Wraps `handler` so that an event whose idempotency key is already done is skipped: a
 * redelivery (after a crash, a timeout or a failure of another handler) does not repeat its
 * side effect. Keys stay for `ttl`.
 */
export function idempotent<E extends object>(
  handler: EventHandler<E>,
  options: IdempotentOptions<E>,
): EventHandler<E> {
  checkTransportOptions('idempotent', options, {
    seen: checks.object,
    idempotencyKey: checks.function,
    ttl: (value) => ttlProblem(value, { positive: true, finite: true }),
    lease: checks.duration({ positive: true, finite: true }),
    name: checks.name,
  })
  const { seen, idempotencyKey } = options
  if (typeof seen?.claim !== 'function')
    throw new TransportOptionsError('idempotent', 'seen', 'must be a SeenSet')
  const ttlMs = (options.ttl ?? 86_400) * 1_000
  const lease = options.lease ?? 60_000
  const name = options.name ?? (handler.name || 'anonymous')
  const guarded: EventHandler<E> = async (event, context) => {
    const id = deliveryOf(event)?.id
    const key =
      idempotencyKey !== undefined ? idempotencyKey(event) : id === undefined ? undefined : `${name}:${id}`
    if (key === undefined) return handler(event, context)
    const token = randomUUID()
    const state = await seen.claim(key, token, lease)
    if (state === 'done') return undefined
    if (state === 'busy') throw new IdempotencyBusyError(key)
    let result: unknown
    try {
      result = await handler(event, context)
    } catch (error) {
      await seen.release(key, token)
      throw error
    }
    await seen.complete(key, token, ttlMs)
    return result
  }
  Object.defineProperty(guarded, 'name', { value: name })
  return guarded
}
