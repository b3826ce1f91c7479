// Error paths and bounds not covered elsewhere: thenables that call back synchronously,
// invocations still queued (behind a concurrency limit or a rate limit) when close() gives up,
// the concurrency peak under a mixed burst, and no MaxListeners warning for long queues.
import { getEventListeners } from 'node:events'
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isHandlerError, type HandlerError } from '../../../src/events/errors'
import { isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Job {
  constructor(readonly id: number) {}
}

const newBus = (closeTimeout?: number): AsyncEventBus =>
  new AsyncEventBus({ metrics: new AsyncMetrics(), closeTimeout })

describe('thenables', () => {
  it('a thenable that calls back synchronously is adopted later, as Promise.resolve does, and ends the emit once', async () => {
    const metrics = new AsyncMetrics()
    const bus = new AsyncEventBus({ metrics })
    const log: string[] = []
    bus.on(Job, () => ({
      then(onFulfilled: (value: unknown) => void) {
        log.push('sync thenable')
        onFulfilled(undefined)
      },
    }))
    bus.on(Job, async () => {
      log.push('second')
    })
    const result = await bus.emit(new Job(1))
    // Promise.resolve calls a foreign then in a later job: every handler has started by then.
    expect(log).toEqual(['second', 'sync thenable'])
    expect(result.handled).toBe(2)
    expect(metrics.snapshot().operations['emit(Job)']).toMatchObject({ total: 1, succeeded: 1, active: 0 })
    expect(await bus.close({ timeout: 10 })).toEqual({ timedOut: false, abandoned: 0 })
  })

  it('a thenable that rejects synchronously is reported as that handler failing', async () => {
    const bus = newBus()
    bus.on(Job, function rejecting() {
      return {
        then(_onFulfilled: unknown, onRejected: (reason: unknown) => void) {
          onRejected(new Error('sync reject'))
        },
      }
    })
    const error = (await bus.emit(new Job(1)).catch((e: unknown) => e)) as AggregateError
    expect((error.errors as HandlerError[]).map((e) => e.handlerName)).toEqual(['rejecting'])
  })
})

describe('with fake timers', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }))
  afterEach(() => jest.useRealTimers())

  it('the observed peak never exceeds the limit under a burst of awaited and forgotten emits', async () => {
    const bus = newBus()
    let active = 0
    let peak = 0
    let done = 0
    bus.on(
      Job,
      async (job) => {
        active++
        peak = Math.max(peak, active)
        await new Promise((resolve) => setTimeout(resolve, (job.id * 7) % 13))
        active--
        done++
      },
      { concurrency: 4 },
    )
    const awaited = Array.from({ length: 100 }, (_, i) => bus.emit(new Job(i)))
    for (let i = 100; i < 200; i++) bus.emitAndForget(new Job(i))
    expect(active).toBe(4)
    await jest.advanceTimersByTimeAsync(10_000)
    await Promise.all(awaited)
    expect(peak).toBe(4)
    expect(done).toBe(200)
  })

  it('invocations still queued behind a concurrency limit fail with the close timeout', async () => {
    const bus = newBus(100)
    const started: number[] = []
    bus.on(
      Job,
      async function worker(job, { signal }) {
        started.push(job.id)
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
      },
      { concurrency: 1 },
    )
    const running = bus.emit(new Job(1))
    const queued = bus.emit(new Job(2)).catch((e: unknown) => e)
    const reported: unknown[] = []
    bus.onError((error) => reported.push(error))
    bus.emitAndForget(new Job(3))
    const closing = bus.close()
    await jest.advanceTimersByTimeAsync(100)
    expect(await closing).toEqual({ timedOut: true, abandoned: 3 })
    expect((await running).handled).toBe(1)
    const error = (await queued) as AggregateError
    const failure = error.errors[0] as HandlerError
    expect(failure.handlerName).toBe('worker')
    expect(isAsyncTimeoutError(failure.cause)).toBe(true)
    expect((failure.cause as Error).message).toBe('AsyncEventBus.close timed out after 100 ms')
    await jest.advanceTimersByTimeAsync(0)
    expect(reported).toHaveLength(1)
    expect(isHandlerError(reported[0])).toBe(true)
    expect(started).toEqual([1])
  })

  it("invocations waiting for a 'queue' rate limit fail with the close timeout, and no timer is left", async () => {
    const bus = newBus(50)
    const handler = jest.fn()
    bus.on(Job, handler, { rateLimit: { max: 1, windowMs: 10_000 } })
    await bus.emit(new Job(1))
    const waiting = bus.emit(new Job(2)).catch((e: unknown) => e)
    const closing = bus.close()
    await jest.advanceTimersByTimeAsync(50)
    expect((await closing).timedOut).toBe(true)
    const error = (await waiting) as AggregateError
    expect(isAsyncTimeoutError((error.errors[0] as HandlerError).cause)).toBe(true)
    expect(handler).toHaveBeenCalledTimes(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('a long queue of waiting invocations holds one listener on the bus signal, not one each', async () => {
    const bus = newBus()
    let lifetime: AbortSignal | undefined
    bus.on(
      Job,
      (_job, { signal }) => {
        lifetime = signal
        return new Promise((resolve) => setTimeout(resolve, 10))
      },
      { concurrency: 1 },
    )
    const emits = Array.from({ length: 50 }, (_, i) => bus.emit(new Job(i)))
    const signal = lifetime as AbortSignal
    // 49 queued invocations: the handler's invoker listens once; a listener each made every
    // removal scan the others (quadratic) and tripped Node's MaxListenersExceededWarning.
    expect(getEventListeners(signal, 'abort')).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(600)
    expect((await Promise.all(emits)).every((r) => r.handled === 1)).toBe(true)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })
})
