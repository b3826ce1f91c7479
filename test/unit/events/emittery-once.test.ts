// Ports emittery 2's test/index.js behaviours for once() (with its filter predicate, off() and
// signal option), written for our class-keyed AsyncEventBus.
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isEventBusOptionsError, isInvalidEventError } from '../../../src/events/errors'
import { isAsyncCancelledError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Unicorn {
  constructor(readonly data?: unknown) {}
}
class Dog {
  constructor(readonly data?: unknown) {}
}
class Data {
  constructor(readonly ok: boolean) {}
}
class OtherData {
  constructor(readonly ok: boolean) {}
}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** 'resolved', 'rejected: <name>' or 'pending' after the event loop has turned a few times. */
async function state(promise: Promise<unknown>): Promise<string> {
  let outcome = 'pending'
  promise.then(
    () => (outcome = 'resolved'),
    (error: unknown) => (outcome = `rejected: ${(error as Error).name}`),
  )
  for (let i = 0; i < 3; i++) await tick()
  return outcome
}

describe('emittery once()', () => {
  it('resolves with the next event instance, then stops listening', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn)
    expect(bus.listenerCount(Unicorn)).toBe(1)
    const event = new Unicorn('rainbow')
    await bus.emit(event)
    await expect(next).resolves.toBe(event)
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })

  it('an event with no fields resolves with the bare instance', async () => {
    const bus = newBus()
    const next = bus.once(Dog)
    await bus.emit(new Dog())
    const event = await next
    expect(event).toBeInstanceOf(Dog)
    expect(event.data).toBeUndefined()
  })

  it('an explicit undefined field is kept, also through emitSerial', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn)
    await bus.emitSerial(new Unicorn(undefined))
    const event = await next
    expect('data' in event).toBe(true)
    expect(event.data).toBeUndefined()
  })

  it('an array resolves with the first event of any of its classes', async () => {
    const bus = newBus()
    const next = bus.once([Unicorn, Dog])
    const event = new Dog('rainbow')
    void bus.emit(event)
    await expect(next).resolves.toBe(event)
    expect(bus.listenerCount([Unicorn, Dog])).toBe(0)
  })

  it('rejects with an InvalidEventError for something that is not a class', async () => {
    const bus = newBus()
    for (const bad of [true, null, 42, 'Unicorn']) {
      const error = await bus.once(bad as never).catch((e: unknown) => e)
      expect(isInvalidEventError(error)).toBe(true)
    }
  })

  it('off() on the returned promise stops waiting: it never settles and leaves no handler', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn)
    expect(typeof next.off).toBe('function')
    next.off()
    expect(bus.listenerCount(Unicorn)).toBe(0)
    await bus.emit(new Unicorn())
    expect(await state(next)).toBe('pending')
  })

  it('off() after it settled is harmless', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn)
    await bus.emit(new Unicorn())
    await next
    expect(() => next.off()).not.toThrow()
  })

  it('a filter function as the second argument: resolves with the first event that passes', async () => {
    const bus = newBus()
    const next = bus.once(Data, (e) => e.ok)
    await bus.emit(new Data(false))
    const match = new Data(true)
    await bus.emit(match)
    await bus.emit(new Data(true))
    await expect(next).resolves.toBe(match)
  })

  it('the filter receives the event instance itself', async () => {
    const bus = newBus()
    const seen: unknown[] = []
    const next = bus.once(Data, (e) => {
      seen.push(e)
      return e.ok
    })
    const first = new Data(false)
    const second = new Data(true)
    await bus.emit(first)
    await bus.emit(second)
    await next
    expect(seen).toEqual([first, second])
    expect(seen[0]).toBe(first)
  })

  it('rejects with an EventBusOptionsError when the filter is not a function', async () => {
    const bus = newBus()
    const asArgument = await bus.once(Data, 'not a function' as never).catch((e: unknown) => e)
    expect(isEventBusOptionsError(asArgument)).toBe(true)
    const asOption = await bus.once(Data, { filter: 'not a function' as never }).catch((e: unknown) => e)
    expect(isEventBusOptionsError(asOption)).toBe(true)
    expect(bus.listenerCount(Data)).toBe(0)
  })

  it('a filter with an array of classes sees events of each class', async () => {
    const bus = newBus()
    const next = bus.once([Data, OtherData], (e) => e.ok)
    await bus.emit(new Data(false))
    const match = new OtherData(true)
    await bus.emit(match)
    await expect(next).resolves.toBe(match)
  })

  it('a filtered wait can be stopped with off()', async () => {
    const bus = newBus()
    const next = bus.once(Data, (e) => e.ok)
    next.off()
    await bus.emit(new Data(true))
    expect(await state(next)).toBe('pending')
  })

  it('the filter may also be given as the filter option', async () => {
    const bus = newBus()
    const next = bus.once(Data, { filter: (e) => e.ok })
    await bus.emit(new Data(false))
    const match = new Data(true)
    await bus.emit(match)
    await expect(next).resolves.toBe(match)
  })
})

describe('emittery once() with a signal', () => {
  it('rejects with the signal’s reason (an AbortError) when it aborts', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Unicorn, { signal: controller.signal })
    controller.abort()
    await expect(next).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('rejects with a TimeoutError from AbortSignal.timeout()', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn, { signal: AbortSignal.timeout(1) })
    await expect(next).rejects.toMatchObject({ name: 'TimeoutError' })
  })

  it('rejects at once for a pre-aborted signal, registering nothing', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn, { signal: AbortSignal.abort() })
    expect(bus.listenerCount(Unicorn)).toBe(0)
    await expect(next).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('signal and filter together: an abort while no event has passed rejects', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Data, { filter: (e) => e.ok, signal: controller.signal })
    await bus.emit(new Data(false))
    controller.abort()
    await expect(next).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('an event that arrives first wins; a later abort is harmless', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Unicorn, { signal: controller.signal })
    const event = new Unicorn('rainbow')
    void bus.emit(event)
    await expect(next).resolves.toBe(event)
    expect(() => controller.abort()).not.toThrow()
  })

  it('an abort removes the waiting handler', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Unicorn, { signal: controller.signal })
    expect(bus.listenerCount(Unicorn)).toBe(1)
    controller.abort()
    await expect(next).rejects.toMatchObject({ name: 'AbortError' })
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })

  it('an abort removes the handler for every class of an array', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once([Unicorn, Dog], { signal: controller.signal })
    controller.abort()
    await expect(next).rejects.toMatchObject({ name: 'AbortError' })
    expect(bus.listenerCount([Unicorn, Dog])).toBe(0)
  })

  it('off() detaches the abort handling: a later abort leaves the promise pending', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const next = bus.once(Unicorn, { signal: controller.signal })
    next.off()
    controller.abort()
    expect(await state(next)).toBe('pending')
  })

  it('difference from emittery: clear() rejects a pending once with an AsyncCancelledError', async () => {
    const bus = newBus()
    const next = bus.once(Unicorn).catch((e: unknown) => e)
    bus.clear(Unicorn)
    expect(isAsyncCancelledError(await next)).toBe(true)
  })
})
