import { AsyncEventBus } from '../../../src/events/event-bus'
import { isRateLimitError, type HandlerError } from '../../../src/events/errors'
import { isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Job {
  constructor(readonly id: number) {}
}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] })
})
afterEach(() => {
  jest.useRealTimers()
})

describe('handler option: concurrency', () => {
  it('never runs more than the limit at once; the rest queue and all complete', async () => {
    const bus = newBus()
    let active = 0
    let peak = 0
    const finished: number[] = []
    bus.on(
      Job,
      async (job) => {
        active++
        peak = Math.max(peak, active)
        await new Promise((resolve) => setTimeout(resolve, 10 + (job.id % 3) * 5))
        active--
        finished.push(job.id)
      },
      { concurrency: 3 },
    )
    const emits = Array.from({ length: 20 }, (_, i) => bus.emit(new Job(i)))
    expect(active).toBe(3)
    await jest.advanceTimersByTimeAsync(1_000)
    const results = await Promise.all(emits)
    expect(peak).toBe(3)
    expect(finished).toHaveLength(20)
    expect(results.every((r) => r.handled === 1)).toBe(true)
  })

  it('holds the slot until a timed-out handler that ignores its signal actually finishes', async () => {
    const bus = newBus()
    let active = 0
    let peak = 0
    bus.onFallible(
      Job,
      async () => {
        active++
        peak = Math.max(peak, active)
        await new Promise((resolve) => setTimeout(resolve, 100)) // ignores the signal
        active--
      },
      { concurrency: 1, timeout: 10 },
    )
    const emits = [bus.emit(new Job(1)), bus.emit(new Job(2))]
    await jest.advanceTimersByTimeAsync(500)
    const results = await Promise.all(emits)
    expect(peak).toBe(1)
    expect(results.map((r) => r.errors.length)).toEqual([1, 1])
  })

  it('a queued invocation of a handler removed meanwhile is skipped', async () => {
    const bus = newBus()
    const ran: number[] = []
    const off = bus.on(
      Job,
      async (job) => {
        ran.push(job.id)
        await new Promise((resolve) => setTimeout(resolve, 10))
      },
      { concurrency: 1 },
    )
    const first = bus.emit(new Job(1))
    const second = bus.emit(new Job(2))
    off()
    await jest.advanceTimersByTimeAsync(50)
    expect((await first).handled).toBe(1)
    expect((await second).handled).toBe(0)
    expect(ran).toEqual([1])
  })
})

describe('handler option: timeout', () => {
  it('aborts the handler signal and fails the invocation with an AsyncTimeoutError', async () => {
    const bus = newBus()
    let aborted: unknown
    bus.on(
      Job,
      (_job, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason
            reject(signal.reason)
          })
        }),
      { timeout: 1_000, name: 'slowMailer' },
    )
    const emitted = bus.emit(new Job(1)).catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(999)
    expect(aborted).toBeUndefined()
    await jest.advanceTimersByTimeAsync(1)
    const error = (await emitted) as AggregateError
    const failure = error.errors[0] as HandlerError
    expect(isAsyncTimeoutError(failure.cause)).toBe(true)
    expect((failure.cause as Error).message).toBe('Job handler slowMailer timed out after 1000 ms')
    expect(aborted).toBe(failure.cause)
  })

  it('does not fail a handler that finishes in time, and leaves no timer behind', async () => {
    const bus = newBus()
    bus.on(Job, async () => new Promise((resolve) => setTimeout(resolve, 50)), { timeout: 1_000 })
    const emitted = bus.emit(new Job(1))
    await jest.advanceTimersByTimeAsync(50)
    expect((await emitted).handled).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('handler option: retry', () => {
  it('retries with the resilience retry policy and succeeds', async () => {
    const bus = newBus()
    const attempts: number[] = []
    bus.on(
      Job,
      async (_job, { attempt }) => {
        attempts.push(attempt)
        if (attempt < 2) throw new Error(`flaky ${attempt}`)
      },
      { retry: { attempts: 3, initialDelay: 100, jitter: 'none' } },
    )
    const emitted = bus.emit(new Job(1))
    await jest.advanceTimersByTimeAsync(1_000)
    expect((await emitted).handled).toBe(1)
    expect(attempts).toEqual([0, 1, 2])
  })

  it('reports the last failure once retries are exhausted', async () => {
    const bus = newBus()
    let calls = 0
    bus.on(
      Job,
      async () => {
        calls++
        throw new Error(`fail ${calls}`)
      },
      { retry: { attempts: 2, initialDelay: 10, jitter: 'none' } },
    )
    const emitted = bus.emit(new Job(1)).catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(1_000)
    const error = (await emitted) as AggregateError
    expect(calls).toBe(3)
    expect(((error.errors[0] as HandlerError).cause as Error).message).toBe('fail 3')
  })

  it('applies the timeout to each attempt', async () => {
    const bus = newBus()
    const attempts: number[] = []
    bus.on(
      Job,
      (_job, { signal, attempt }) => {
        attempts.push(attempt)
        if (attempt === 1) return undefined
        return new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        )
      },
      { timeout: 100, retry: { attempts: 1, initialDelay: 10, jitter: 'none' } },
    )
    const emitted = bus.emit(new Job(1))
    await jest.advanceTimersByTimeAsync(200)
    expect((await emitted).handled).toBe(1)
    expect(attempts).toEqual([0, 1])
  })
})

describe('handler option: rateLimit', () => {
  it("'queue' delays invocations over the limit until the sliding window has room", async () => {
    const bus = newBus()
    const startedAt: number[] = []
    bus.on(
      Job,
      () => {
        startedAt.push(Date.now())
      },
      { rateLimit: { max: 2, windowMs: 1_000, onLimit: 'queue' } },
    )
    const t0 = Date.now()
    const emits = Array.from({ length: 5 }, (_, i) => bus.emit(new Job(i)))
    await jest.advanceTimersByTimeAsync(0)
    expect(startedAt).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(999)
    expect(startedAt).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(1)
    expect(startedAt).toHaveLength(4)
    await jest.advanceTimersByTimeAsync(1_000)
    const results = await Promise.all(emits)
    expect(results.every((r) => r.handled === 1)).toBe(true)
    expect(startedAt.map((t) => t - t0)).toEqual([0, 0, 1_000, 1_000, 2_000])
    expect(jest.getTimerCount()).toBe(0)
  })

  it("'drop' skips invocations over the limit and counts them", async () => {
    const bus = newBus()
    const handler = jest.fn()
    bus.on(Job, handler, { rateLimit: { max: 2, windowMs: 1_000, onLimit: 'drop' } })
    const results = await Promise.all([1, 2, 3].map((i) => bus.emit(new Job(i))))
    expect(results.map((r) => [r.handled, r.dropped])).toEqual([
      [1, 0],
      [1, 0],
      [0, 1],
    ])
    expect(handler).toHaveBeenCalledTimes(2)
    jest.advanceTimersByTime(1_000)
    expect((await bus.emit(new Job(4))).handled).toBe(1)
  })

  it("'error' fails invocations over the limit with a RateLimitError", async () => {
    const bus = newBus()
    bus.on(Job, () => undefined, { rateLimit: { max: 1, windowMs: 500, onLimit: 'error' }, name: 'indexer' })
    await bus.emit(new Job(1))
    const error = (await bus.emit(new Job(2)).catch((e: unknown) => e)) as AggregateError
    const cause = (error.errors[0] as HandlerError).cause
    expect(isRateLimitError(cause)).toBe(true)
    expect((cause as Error).message).toBe('handler "indexer" for Job exceeded its rate limit of 1 per 500 ms')
  })

  it('rejects invalid limits naming the handler, event class and property', () => {
    const bus = newBus()
    expect(() => bus.on(Job, () => undefined, { name: 'h', rateLimit: { max: 0, windowMs: 10 } })).toThrow(
      'AsyncEventBus.on(Job) handler "h": option "rateLimit.max": must be an integer >= 1, got 0',
    )
    expect(() =>
      bus.on(Job, () => undefined, { rateLimit: { max: 1, windowMs: 10, onLimit: 'x' as never } }),
    ).toThrow(/rateLimit.onLimit/)
    expect(() => bus.on(Job, () => undefined, { timeout: -1 })).toThrow(/"timeout"/)
  })
})
