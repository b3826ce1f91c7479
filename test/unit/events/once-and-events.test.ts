import { AsyncEventBus } from '../../../src/events/event-bus'
import { isBusClosedError, isEventBufferOverflowError } from '../../../src/events/errors'
import { isAsyncCancelledError, isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Tick {
  constructor(readonly n: number) {}
}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })

describe('once', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }))
  afterEach(() => jest.useRealTimers())

  it('resolves with the next event and unsubscribes', async () => {
    const bus = newBus()
    const next = bus.once(Tick)
    expect(bus.listenerCount(Tick)).toBe(1)
    await bus.emit(new Tick(1))
    await expect(next).resolves.toEqual(new Tick(1))
    expect(bus.listenerCount(Tick)).toBe(0)
  })

  it('waits for an event that passes the filter', async () => {
    const bus = newBus()
    const next = bus.once(Tick, { filter: (t) => t.n > 2 })
    await bus.emit(new Tick(1))
    await bus.emit(new Tick(3))
    await expect(next).resolves.toEqual(new Tick(3))
  })

  it('rejects with an AsyncTimeoutError after the timeout and leaves nothing behind', async () => {
    const bus = newBus()
    const next = bus.once(Tick, { timeout: 500 }).catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(500)
    const error = await next
    expect(isAsyncTimeoutError(error)).toBe(true)
    expect((error as Error).message).toBe('once(Tick) timed out after 500 ms')
    expect(bus.listenerCount(Tick)).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('clears its timer when the event arrives first', async () => {
    const bus = newBus()
    const next = bus.once(Tick, { timeout: 500 })
    await bus.emit(new Tick(1))
    await expect(next).resolves.toEqual(new Tick(1))
    expect(jest.getTimerCount()).toBe(0)
  })

  it('rejects with the signal reason when aborted, before or during the wait', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Tick, { signal: controller.signal })
    controller.abort(new Error('user left'))
    await expect(next).rejects.toThrow('user left')
    expect(bus.listenerCount(Tick)).toBe(0)
    await expect(bus.once(Tick, { signal: controller.signal })).rejects.toThrow('user left')
  })

  it('rejects when the filter throws, on clear() and on close()', async () => {
    const bus = newBus()
    const filtered = bus.once(Tick, {
      filter: () => {
        throw new Error('bad filter')
      },
    })
    await bus.emit(new Tick(1))
    await expect(filtered).rejects.toThrow('bad filter')
    const cleared = bus.once(Tick).catch((e: unknown) => e)
    bus.clear()
    expect(isAsyncCancelledError(await cleared)).toBe(true)
    const closed = bus.once(Tick).catch((e: unknown) => e)
    await bus.close()
    expect(isBusClosedError(await closed)).toBe(true)
  })
})

describe('events() iterator', () => {
  it('yields emitted events in order and stops on break', async () => {
    const bus = newBus()
    const iterator = bus.events(Tick)
    const seen: number[] = []
    const consumer = (async () => {
      for await (const tick of iterator) {
        seen.push(tick.n)
        if (seen.length === 3) break
      }
    })()
    for (let n = 1; n <= 3; n++) await bus.emit(new Tick(n))
    await consumer
    expect(seen).toEqual([1, 2, 3])
    expect(bus.listenerCount(Tick)).toBe(0)
  })

  it('drops the oldest buffered events by default when the consumer falls behind', async () => {
    const bus = newBus()
    const iterator = bus.events(Tick, { bufferSize: 3 })
    for (let n = 1; n <= 5; n++) bus.emitAndForget(new Tick(n))
    expect(iterator.dropped).toBe(2)
    const seen: number[] = []
    for (let i = 0; i < 3; i++) seen.push(((await iterator.next()).value as Tick).n)
    expect(seen).toEqual([3, 4, 5])
    await iterator.return()
  })

  it("'dropNewest' keeps the first events", async () => {
    const bus = newBus()
    const iterator = bus.events(Tick, { bufferSize: 2, overflow: 'dropNewest' })
    for (let n = 1; n <= 4; n++) await bus.emit(new Tick(n))
    expect(iterator.dropped).toBe(2)
    expect(((await iterator.next()).value as Tick).n).toBe(1)
    expect(((await iterator.next()).value as Tick).n).toBe(2)
    await iterator.return()
  })

  it("'error' delivers the buffer, then throws EventBufferOverflowError", async () => {
    const bus = newBus()
    const iterator = bus.events(Tick, { bufferSize: 2, overflow: 'error' })
    for (let n = 1; n <= 3; n++) await bus.emit(new Tick(n))
    expect(bus.listenerCount(Tick)).toBe(0)
    expect(((await iterator.next()).value as Tick).n).toBe(1)
    expect(((await iterator.next()).value as Tick).n).toBe(2)
    const error = await iterator.next().catch((e: unknown) => e)
    expect(isEventBufferOverflowError(error)).toBe(true)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
  })

  it('ends cleanly when its signal aborts, after the buffered events', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const iterator = bus.events(Tick, { signal: controller.signal })
    await bus.emit(new Tick(1))
    const pending = iterator.next()
    expect(((await pending).value as Tick).n).toBe(1)
    const waiting = iterator.next()
    controller.abort()
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect(bus.listenerCount(Tick)).toBe(0)
  })

  it('close() ends every iterator; one created after close is already done', async () => {
    const bus = newBus()
    const iterator = bus.events(Tick)
    await bus.emit(new Tick(1))
    const collected: number[] = []
    const consumer = (async () => {
      for await (const tick of iterator) collected.push(tick.n)
    })()
    await bus.close()
    await consumer
    expect(collected).toEqual([1])
    expect(await bus.events(Tick).next()).toEqual({ value: undefined, done: true })
  })

  it('rejects a bad bufferSize', () => {
    expect(() => newBus().events(Tick, { bufferSize: 0 })).toThrow(
      'AsyncEventBus.events(Tick): option "bufferSize": must be an integer >= 1, got 0',
    )
  })
})
