import { AsyncEventBus } from '../../../src/events/event-bus'
import { isBusClosedError, isHandlerError } from '../../../src/events/errors'
import { isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Ping {
  constructor(readonly n: number) {}
}

describe('close()', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }))
  afterEach(() => jest.useRealTimers())

  it('stops accepting emits at once and waits for in-flight handlers', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    let finished = false
    bus.on(Ping, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      finished = true
    })
    const inFlight = bus.emit(new Ping(1))
    let closed = false
    const closing = bus.close().then((result) => {
      closed = true
      return result
    })
    expect(isBusClosedError(await bus.emit(new Ping(2)).catch((e: unknown) => e))).toBe(true)
    await jest.advanceTimersByTimeAsync(999)
    expect(closed).toBe(false)
    await jest.advanceTimersByTimeAsync(1)
    expect(await closing).toEqual({ timedOut: false, abandoned: 0 })
    expect(finished).toBe(true)
    expect((await inFlight).handled).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('gives up after its timeout and aborts the in-flight handlers signal', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics(), closeTimeout: 200 })
    let reason: unknown
    bus.onFallible(Ping, (_ping, { signal }) => {
      return new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          reason = signal.reason
          resolve()
        })
      })
    })
    const inFlight = bus.emit(new Ping(1))
    const closing = bus.close()
    await jest.advanceTimersByTimeAsync(200)
    expect(await closing).toEqual({ timedOut: true, abandoned: 1 })
    expect(isAsyncTimeoutError(reason)).toBe(true)
    expect((await inFlight).handled).toBe(1)
    expect(await bus.close()).toEqual({ timedOut: false, abandoned: 0 })
  })

  it('is what await using calls', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    await bus[Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose]()
    expect(bus.isClosed).toBe(true)
  })
})

describe('emitAndForget', () => {
  it('100,000 calls with failing handlers produce no unhandled rejection; failures reach onError and metrics', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', onUnhandled)
    try {
      const metrics = new AsyncMetrics()
      const bus = new AsyncEventBus({ metrics })
      bus.on(Ping, async function asyncFailure(ping) {
        if (ping.n % 2 === 0) throw new Error(`async ${ping.n}`)
      })
      bus.on(Ping, function syncFailure(ping) {
        if (ping.n % 1_000 === 0) throw new Error(`sync ${ping.n}`)
      })
      bus.onFallible(Ping, async function fallible(ping) {
        if (ping.n % 10_000 === 0) throw new Error('fallible')
      })
      const reported: Record<string, number> = {}
      bus.onError((error) => {
        const name = isHandlerError(error) ? error.handlerName : 'other'
        reported[name] = (reported[name] ?? 0) + 1
      })
      bus.onError(() => {
        throw new Error('a faulty listener is contained')
      })
      const total = 100_000
      for (let n = 1; n <= total; n++) expect(bus.emitAndForget(new Ping(n))).toBeUndefined()
      expect(await bus.close()).toEqual({ timedOut: false, abandoned: 0 })
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
      expect(reported).toEqual({
        asyncFailure: total / 2,
        syncFailure: total / 1_000,
        fallible: total / 10_000,
      })
      const stats = metrics.snapshot().operations['emit(Ping)']
      expect(stats).toMatchObject({ total, failed: total / 2, active: 0 })
      bus.emitAndForget(new Ping(1))
      expect(reported['other']).toBe(1)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('without onError listeners, failures are still counted and never thrown', async () => {
    const metrics = new AsyncMetrics()
    const bus = new AsyncEventBus({ metrics })
    bus.on(Ping, () => {
      throw new Error('x')
    })
    expect(() => bus.emitAndForget(new Ping(1))).not.toThrow()
    expect(() => bus.emitAndForget(null as unknown as Ping)).not.toThrow()
    expect(metrics.snapshot().operations['emit(Ping)']?.failed).toBe(1)
  })
})
