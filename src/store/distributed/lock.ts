/**
 * Lease locks on Redis (`SET key token NX PX lease`, renewed while the holder fetches,
 * released by a compare-and-delete script) and the single-flight protocol across instances
 * built on them: one holder fetches; the others poll L2 for its value and take over when the
 * lease lapses (its holder died) or is released without a value (its fetch failed).
 */
import { randomUUID } from 'node:crypto'
import type { RedisCacheClient } from './redis-client'
import { delay } from '../../core/abort'
import type { L2Entry, L2Locks } from './l2-cache'

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`

/** {@link L2Locks} on one Redis, under `prefix`. @internal */
export function redisLocks(
  client: RedisCacheClient,
  prefix: string,
  run: <T>(work: Promise<T>) => Promise<T>,
): L2Locks {
  const keyOf = (hash: string): string => `${prefix}lock:${hash}`
  return {
    async acquire(hash, token, leaseMs) {
      return (await run(client.set(keyOf(hash), token, 'PX', leaseMs, 'NX'))) === 'OK'
    },
    async renew(hash, token, leaseMs) {
      return Number(await run(client.eval(RENEW, 1, keyOf(hash), token, String(leaseMs)))) === 1
    },
    async release(hash, token) {
      await run(client.eval(RELEASE, 1, keyOf(hash), token))
    },
  }
}

/** What {@link singleFlight} needs: the locks, the L2 reads, and the timings. @internal */
export interface SingleFlightOptions {
  readonly locks: L2Locks
  readonly hash: string
  /** The lease, in ms: a dead holder's lock lapses after it. */
  readonly leaseMs: number
  /** How often a waiter looks for the holder's value (and tries the lock), in ms. */
  readonly pollMs: number
  readonly signal: AbortSignal
  /** Reads L2 (`undefined` on a miss or an outage). */
  read(): Promise<L2Entry | undefined>
  /** The entry seen before waiting: a different one in L2 is the holder's value. */
  readonly seen: L2Entry | undefined
  /** Called when a lock operation fails (the caller reports an outage); the fetch then runs unlocked. */
  onLockError(error: unknown): void
}

/** What came out: the holder's value read from L2, or this instance's own fetch. @internal */
export type SingleFlightResult<T> =
  { readonly from: 'l2'; readonly entry: L2Entry } | { readonly from: 'fetch'; readonly data: T }

/**
 * Runs `fetch` under the lock for `options.hash`, or waits for the holder's value. The lease
 * is renewed every third of itself while `fetch` runs; a lost renewal lets the fetch finish
 * (its value is still written) but another instance may be fetching too.
 */
export async function singleFlight<T>(
  options: SingleFlightOptions,
  fetch: () => Promise<T>,
): Promise<SingleFlightResult<T>> {
  const { locks, hash, leaseMs, pollMs, signal } = options
  const token = randomUUID()
  let waited = false
  for (;;) {
    let acquired: boolean
    try {
      acquired = await locks.acquire(hash, token, leaseMs)
    } catch (error) {
      options.onLockError(error)
      return { from: 'fetch', data: await fetch() }
    }
    if (acquired) {
      return holding(options, token, async (): Promise<SingleFlightResult<T>> => {
        if (waited) {
          // the lock came free: the holder may have written its value just before releasing
          const entry = await options.read()
          if (entry !== undefined && !sameEntry(entry, options.seen)) return { from: 'l2', entry }
        }
        return { from: 'fetch', data: await fetch() }
      })
    }
    waited = true
    await delay(pollMs, signal)
    const entry = await options.read()
    if (entry !== undefined && !sameEntry(entry, options.seen)) return { from: 'l2', entry }
  }
}

async function holding<R>(options: SingleFlightOptions, token: string, fetch: () => Promise<R>): Promise<R> {
  const { locks, hash, leaseMs } = options
  const renewer = setInterval(
    () => {
      locks.renew(hash, token, leaseMs).catch((error: unknown) => options.onLockError(error))
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  )
  renewer.unref()
  try {
    return await fetch()
  } finally {
    clearInterval(renewer)
    await locks.release(hash, token).catch((error: unknown) => options.onLockError(error))
  }
}

function sameEntry(a: L2Entry, b: L2Entry | undefined): boolean {
  return b !== undefined && a.updatedAt === b.updatedAt
}
