import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  AsyncMetrics,
  AsyncResult,
  AsyncTimeoutError,
  isAsyncCancelledError,
  isAsyncTimeoutError,
} from '../../../src'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('AsyncResult', () => {
  let unhandled: unknown[]
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  beforeEach(() => {
    unhandled = []
    process.on('unhandledRejection', onUnhandled)
  })
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled)
    jest.useRealTimers()
  })

  it('starts the work at once and is awaitable', async () => {
    let started = false
    const result = AsyncResult.from(async () => {
      started = true
      return 42
    })
    expect(started).toBe(true)
    expect(result.completed).toBe(false)
    expect(await result).toBe(42)
    expect(result.completed).toBe(true)
    expect(result.status).toBe('fulfilled')
    await expect(result.wait()).resolves.toBe(42)
  })

  it('turns a synchronous throw into a rejection', async () => {
    const result = AsyncResult.from(() => {
      throw new Error('boom')
    })
    await expect(result.wait()).rejects.toThrow('boom')
    expect(result.status).toBe('rejected')
  })

  it('a rejection awaited later is never an unhandled rejection', async () => {
    const result = AsyncResult.from(async () => {
      throw new Error('later')
    })
    await tick()
    await tick()
    expect(result.completed).toBe(true)
    expect(unhandled).toEqual([])
    await expect(result).rejects.toThrow('later')
  })

  it('waitWithTimeout rejects with AsyncTimeoutError naming the operation, and observes the late failure', async () => {
    jest.useFakeTimers()
    let fail!: (e: Error) => void
    const result = AsyncResult.from(() => new Promise<number>((_, reject) => (fail = reject)), {
      operation: 'slowThing',
    })
    const waiting = result.waitWithTimeout(100)
    jest.advanceTimersByTime(100)
    const error = await waiting.catch((e: unknown) => e)
    expect(isAsyncTimeoutError(error)).toBe(true)
    expect(error).toBeInstanceOf(AsyncTimeoutError)
    expect((error as AsyncTimeoutError).operation).toBe('slowThing')
    expect((error as AsyncTimeoutError).timeoutMs).toBe(100)
    expect((error as Error).message).toBe('slowThing timed out after 100 ms')
    fail(new Error('too late'))
    jest.useRealTimers()
    await tick()
    await tick()
    expect(unhandled).toEqual([])
  })

  it('waitWithTimeout resolves when the work finishes first and clears its timer', async () => {
    const result = AsyncResult.of(Promise.resolve('fast'))
    await expect(result.waitWithTimeout(10_000)).resolves.toBe('fast')
  })

  it('onError recovers with the handler value', async () => {
    const result = AsyncResult.from<number>(async () => {
      throw new Error('nope')
    }).onError(() => -1)
    expect(await result).toBe(-1)
  })

  it('cancel() aborts the signal given to the work', async () => {
    let seen: AbortSignal | undefined
    const result = AsyncResult.from(
      (signal) =>
        new Promise((_, reject) => {
          seen = signal
          signal.addEventListener('abort', () => reject(signal.reason))
        }),
      { operation: 'cancellable' },
    )
    result.cancel()
    expect(seen?.aborted).toBe(true)
    const error = await result.wait().catch((e: unknown) => e)
    expect(isAsyncCancelledError(error)).toBe(true)
  })

  it('cancelling an onError-derived result cancels the original work', async () => {
    let seen: AbortSignal | undefined
    const original = AsyncResult.from((signal) => {
      seen = signal
      return new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    })
    const recovered = original.onError(() => 0)
    recovered.cancel()
    expect(seen?.aborted).toBe(true)
    expect(await recovered).toBe(0)
  })

  it('a parent signal cancels the work', async () => {
    const parent = new AbortController()
    let seen: AbortSignal | undefined
    const result = AsyncResult.from(
      (signal) => {
        seen = signal
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      },
      { signal: parent.signal },
    )
    parent.abort(new Error('parent gone'))
    expect(seen?.aborted).toBe(true)
    await expect(result).rejects.toThrow('parent gone')
  })

  it('records total, active, failed and latency in AsyncMetrics under its operation', async () => {
    const metrics = new AsyncMetrics()
    let release!: () => void
    const pending = AsyncResult.from(() => new Promise<void>((r) => (release = r)), {
      operation: 'op',
      metrics,
    })
    const failing = AsyncResult.from(
      async () => {
        throw new Error('x')
      },
      { operation: 'op', metrics },
    )
    await failing.catch(() => undefined)
    expect(metrics.snapshot().operations.op).toMatchObject({ total: 2, active: 1, failed: 1, succeeded: 0 })
    release()
    await pending
    const stats = metrics.snapshot().operations.op
    expect(stats).toMatchObject({ total: 2, active: 0, failed: 1, succeeded: 1 })
    expect(stats?.latency.samples).toBe(2)
    expect(stats?.latency.p99).toBeGreaterThanOrEqual(stats?.latency.p50 ?? Infinity)
  })

  it('a failed result dropped without being observed is reported through AsyncMetrics', async () => {
    setFlagsFromString('--expose_gc')
    const gc = runInNewContext('gc') as () => void
    const metrics = new AsyncMetrics()
    const reported: Array<[unknown, string]> = []
    metrics.onUnobservedError((error, operation) => reported.push([error, operation]))
    ;(() => {
      AsyncResult.from(
        async () => {
          throw new Error('dropped')
        },
        { operation: 'forgotten', metrics },
      )
    })()
    // Also one that is observed: it must not be reported.
    const kept = AsyncResult.from(
      async () => {
        throw new Error('kept')
      },
      { operation: 'observed', metrics },
    )
    await kept.catch(() => undefined)
    for (let i = 0; i < 20 && reported.length === 0; i++) {
      await tick()
      gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(reported.map(([e, op]) => [(e as Error).message, op])).toEqual([['dropped', 'forgotten']])
    expect(metrics.snapshot().operations.forgotten?.unobserved).toBe(1)
    expect(metrics.snapshot().operations.observed?.unobserved).toBe(0)
    expect(unhandled).toEqual([])
  })
})
