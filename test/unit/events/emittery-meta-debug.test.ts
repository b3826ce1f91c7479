// Ports emittery 2's test/index.js behaviours for the meta events (emittery's listenerAdded /
// listenerRemoved → our ListenerAdded / ListenerRemoved classes) and for debug logging
// (the debug option, isDebugEnabled → AsyncEventBus.isDebug), written for our AsyncEventBus.
import { AsyncEventBus } from '../../../src/events/event-bus'
import { ListenerAdded, ListenerRemoved } from '../../../src/events/meta-events'
import { isInvalidEventError } from '../../../src/events/errors'
import type { DebugAction, DebugLogger, EventClass } from '../../../src/events/types'
import { AsyncMetrics } from '../../../src/core/metrics'

class Unicorn {
  constructor(readonly data?: unknown) {}
}
class Rainbow {}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

interface Logged {
  action: DebugAction
  busName: string
  eventClass: EventClass | undefined
  event: object | undefined
}

function recorder(): { store: Logged[]; logger: DebugLogger } {
  const store: Logged[] = []
  return {
    store,
    logger: (action, busName, eventClass, event) => store.push({ action, busName, eventClass, event }),
  }
}

function debugBus(enabled = true): { bus: AsyncEventBus; store: Logged[] } {
  const { store, logger } = recorder()
  const bus = new AsyncEventBus({ metrics: new AsyncMetrics(), debug: { name: 'testBus', enabled, logger } })
  return { bus, store }
}

describe('emittery meta events', () => {
  it('on() emits ListenerAdded with the class and the handler', () => {
    const bus = newBus()
    const added: ListenerAdded[] = []
    bus.on(ListenerAdded, (e) => added.push(e))
    const handler = (): number => 1
    bus.on(Unicorn, handler)
    expect(added).toHaveLength(1)
    expect(added[0]).toBeInstanceOf(ListenerAdded)
    expect(added[0]?.eventClass).toBe(Unicorn)
    expect(added[0]?.handler).toBe(handler)
  })

  it('off() emits ListenerRemoved with the class and the handler', () => {
    const bus = newBus()
    const handler = (): number => 1
    bus.on(Unicorn, handler)
    const removed: ListenerRemoved[] = []
    bus.on(ListenerRemoved, (e) => removed.push(e))
    bus.off(Unicorn, handler)
    expect(removed).toHaveLength(1)
    expect(removed[0]?.eventClass).toBe(Unicorn)
    expect(removed[0]?.handler).toBe(handler)
  })

  it('the unsubscribe function emits ListenerRemoved too', () => {
    const bus = newBus()
    const handler = (): number => 1
    const off = bus.on(Unicorn, handler)
    const removed: ListenerRemoved[] = []
    bus.on(ListenerRemoved, (e) => removed.push(e))
    off()
    expect(removed.map((e) => [e.eventClass, e.handler])).toEqual([[Unicorn, handler]])
  })

  it('onAny() emits ListenerAdded with an undefined class', () => {
    const bus = newBus()
    const added: ListenerAdded[] = []
    bus.on(ListenerAdded, (e) => added.push(e))
    const handler = (): number => 1
    bus.onAny(handler)
    expect(added).toHaveLength(1)
    expect(added[0]?.eventClass).toBeUndefined()
    expect(added[0]?.handler).toBe(handler)
  })

  it('offAny() emits ListenerRemoved with an undefined class', () => {
    const bus = newBus()
    const handler = (): number => 1
    bus.onAny(handler)
    const removed: ListenerRemoved[] = []
    bus.on(ListenerRemoved, (e) => removed.push(e))
    bus.offAny(handler)
    expect(removed).toHaveLength(1)
    expect(removed[0]?.eventClass).toBeUndefined()
    expect(removed[0]?.handler).toBe(handler)
  })

  it('an array registration emits one ListenerAdded per class', () => {
    const bus = newBus()
    const added: ListenerAdded[] = []
    bus.on(ListenerAdded, (e) => added.push(e))
    bus.on([Unicorn, Rainbow], () => undefined)
    expect(added.map((e) => e.eventClass)).toEqual([Unicorn, Rainbow])
  })

  it('once() emits ListenerAdded when it starts waiting and ListenerRemoved when it settles', async () => {
    const bus = newBus()
    const log: string[] = []
    bus.on(ListenerAdded, (e) => log.push(`added ${e.eventClass?.name}`))
    bus.on(ListenerRemoved, (e) => log.push(`removed ${e.eventClass?.name}`))
    const next = bus.once(Unicorn)
    expect(log).toEqual(['added Unicorn'])
    await bus.emit(new Unicorn())
    await next
    expect(log).toEqual(['added Unicorn', 'removed Unicorn'])
  })

  it('a ListenerAdded handler that was unsubscribed is not called', async () => {
    const bus = newBus()
    const calls: unknown[] = []
    const off = bus.on(ListenerAdded, (e) => calls.push(e))
    off()
    bus.on(Unicorn, () => undefined)
    await bus.emit(new Unicorn())
    expect(calls).toEqual([])
  })

  it('a pre-aborted signal registers nothing and announces nothing', () => {
    const bus = newBus()
    const added: unknown[] = []
    bus.on(ListenerAdded, (e) => added.push(e))
    bus.on(Unicorn, () => undefined, { signal: AbortSignal.abort() })
    expect(added).toEqual([])
  })

  it('onAny handlers and anyEvent() iterators do not hear the meta events', async () => {
    const bus = newBus()
    const heard: object[] = []
    bus.onAny((e) => heard.push(e))
    const iterator = bus.anyEvent()
    bus.on(ListenerAdded, () => undefined)
    bus.on(ListenerRemoved, () => undefined)
    const off = bus.on(Unicorn, () => undefined)
    off()
    const event = new Unicorn()
    await bus.emit(event)
    expect(heard).toEqual([event])
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator.return()
  })

  it('events() and anyEvent() iterators do not trigger the meta events', async () => {
    const bus = newBus()
    const meta: object[] = []
    bus.on(ListenerAdded, (e) => meta.push(e))
    bus.on(ListenerRemoved, (e) => meta.push(e))
    const iterator = bus.events(Unicorn)
    const anyIterator = bus.anyEvent()
    await iterator.return()
    await anyIterator.return()
    expect(meta).toEqual([])
  })

  it('userland emit of a meta event is refused even from inside a debug logger during an emit', async () => {
    let forged: Promise<unknown> | undefined
    const handler = (): void => undefined
    const bus = new AsyncEventBus({
      metrics: new AsyncMetrics(),
      debug: {
        name: 'testBus',
        enabled: true,
        logger: (action) => {
          if (action === 'emit' && forged === undefined)
            forged = bus.emit(new ListenerAdded(Rainbow, handler))
        },
      },
    })
    const added: ListenerAdded[] = []
    bus.on(ListenerAdded, (e) => added.push(e))
    bus.on(Unicorn, () => undefined)
    await bus.emit(new Unicorn())
    expect(isInvalidEventError(await (forged as Promise<unknown>).catch((e: unknown) => e))).toBe(true)
    await tick()
    expect(added.map((e) => e.eventClass)).toEqual([Unicorn])
  })

  it('several buses announce independently and each refuses userland meta emits', async () => {
    const bus1 = newBus()
    const bus2 = newBus()
    const events1: ListenerAdded[] = []
    const events2: ListenerAdded[] = []
    bus1.on(ListenerAdded, (e) => events1.push(e))
    bus2.on(ListenerAdded, (e) => events2.push(e))
    const handler = (): void => undefined
    bus1.on(Unicorn, handler)
    bus2.on(Unicorn, handler)
    expect(events1.map((e) => e.handler)).toEqual([handler])
    expect(events2.map((e) => e.handler)).toEqual([handler])
    expect(
      isInvalidEventError(await bus1.emit(new ListenerAdded(Unicorn, handler)).catch((e: unknown) => e)),
    ).toBe(true)
    expect(
      isInvalidEventError(await bus2.emit(new ListenerAdded(Unicorn, handler)).catch((e: unknown) => e)),
    ).toBe(true)
  })
})

describe('emittery debug logging', () => {
  afterEach(() => {
    AsyncEventBus.isDebug = false
    jest.restoreAllMocks()
  })

  it('on() logs a subscribe with the bus name and the class', () => {
    const { bus, store } = debugBus()
    bus.on(Unicorn, () => undefined)
    expect(store).toEqual([
      { action: 'subscribe', busName: 'testBus', eventClass: Unicorn, event: undefined },
    ])
  })

  it('off() and the unsubscribe function log an unsubscribe', () => {
    const { bus, store } = debugBus()
    const h = (): void => undefined
    const off = bus.on(Unicorn, () => undefined)
    bus.on(Rainbow, h)
    off()
    bus.off(Rainbow, h)
    expect(store.map((l) => [l.action, l.eventClass])).toEqual([
      ['subscribe', Unicorn],
      ['subscribe', Rainbow],
      ['unsubscribe', Unicorn],
      ['unsubscribe', Rainbow],
    ])
    expect(store[2]?.busName).toBe('testBus')
  })

  it('difference from emittery: onAny() / offAny() log subscribe / unsubscribe with an undefined class (emittery: subscribeAny / unsubscribeAny)', () => {
    const { bus, store } = debugBus()
    const off = bus.onAny(() => undefined)
    off()
    expect(store).toEqual([
      { action: 'subscribe', busName: 'testBus', eventClass: undefined, event: undefined },
      { action: 'unsubscribe', busName: 'testBus', eventClass: undefined, event: undefined },
    ])
  })

  it('emit() logs an emit with the class and the event', async () => {
    const { bus, store } = debugBus()
    bus.on(Unicorn, () => undefined)
    const event = new Unicorn('data')
    await bus.emit(event)
    expect(store).toHaveLength(2)
    expect(store[1]).toEqual({ action: 'emit', busName: 'testBus', eventClass: Unicorn, event })
    expect(store[1]?.event).toBe(event)
  })

  it('emitSerial() logs an emitSerial with the class and the event', async () => {
    const { bus, store } = debugBus()
    bus.on(Unicorn, () => undefined)
    const event = new Unicorn('data')
    await bus.emitSerial(event)
    expect(store).toHaveLength(2)
    expect(store[1]).toEqual({ action: 'emitSerial', busName: 'testBus', eventClass: Unicorn, event })
  })

  it('clear(X) logs a clear with the class; clear() with an undefined class', () => {
    const { bus, store } = debugBus()
    bus.on(Unicorn, () => undefined)
    bus.clear(Unicorn)
    bus.clear()
    expect(store.map((l) => [l.action, l.eventClass])).toEqual([
      ['subscribe', Unicorn],
      ['clear', Unicorn],
      ['unsubscribe', Unicorn],
      ['clear', undefined],
    ])
  })

  it('the meta events are not logged: subscribing to them, nor their emits', () => {
    const { bus, store } = debugBus()
    bus.on(ListenerAdded, () => undefined)
    bus.on(ListenerRemoved, () => undefined)
    const off = bus.on(Unicorn, () => undefined)
    off()
    const anyOff = bus.onAny(() => undefined)
    anyOff()
    expect(store.map((l) => [l.action, l.eventClass])).toEqual([
      ['subscribe', Unicorn],
      ['unsubscribe', Unicorn],
      ['subscribe', undefined],
      ['unsubscribe', undefined],
    ])
  })

  it('nothing is logged while the bus is not enabled and isDebug is off', async () => {
    const { bus, store } = debugBus(false)
    bus.on(Unicorn, () => undefined)
    await bus.emit(new Unicorn())
    expect(store).toEqual([])
  })

  it('AsyncEventBus.isDebug turns logging on at runtime, even for a bus with enabled: false', async () => {
    const { bus, store } = debugBus(false)
    AsyncEventBus.isDebug = true
    bus.on(Unicorn, () => undefined)
    const event = new Unicorn('test data')
    void bus.emit(event)
    AsyncEventBus.isDebug = false
    expect(store[1]).toEqual({ action: 'emit', busName: 'testBus', eventClass: Unicorn, event })
  })

  it('a bus’s debug settings can be switched on after construction', async () => {
    const { bus, store } = debugBus(false)
    if (bus.debug) bus.debug.enabled = true
    bus.on(Unicorn, () => undefined)
    const event = new Unicorn('test data')
    await bus.emit(event)
    expect(store.map((l) => l.action)).toEqual(['subscribe', 'emit'])
    expect(store[1]?.event).toBe(event)

    const plain = newBus()
    const { store: later, logger } = recorder()
    plain.debug = { name: 'late', enabled: true, logger }
    plain.on(Unicorn, () => undefined)
    expect(later).toEqual([{ action: 'subscribe', busName: 'late', eventClass: Unicorn, event: undefined }])
  })

  it('the default logger handles an anonymous class and an object event, via console.debug', async () => {
    const debug = jest.spyOn(console, 'debug').mockImplementation(() => undefined)
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics(), debug: { name: 'testBus', enabled: true } })
    const Anonymous = (() => class {})()
    bus.on(Anonymous, () => undefined)
    const event = Object.assign(new Anonymous(), { complex: ['data', 'structure', 1] })
    await expect(bus.emit(event)).resolves.toMatchObject({ handled: 1 })
    expect(debug).toHaveBeenCalledTimes(2)
    expect(debug.mock.calls[1]?.[1]).toBe(event)
    expect(String(debug.mock.calls[1]?.[0])).toContain('testBus')
  })

  it('the default logger handles an event with a circular reference', async () => {
    jest.spyOn(console, 'debug').mockImplementation(() => undefined)
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics(), debug: { name: 'testBus', enabled: true } })
    class Circular {
      self: Circular = this
    }
    await expect(bus.emit(new Circular())).resolves.toMatchObject({ handled: 0 })
  })

  it('isDebug with no debug option logs through the default logger under the name AsyncEventBus', async () => {
    const debug = jest.spyOn(console, 'debug').mockImplementation(() => undefined)
    const bus = newBus()
    AsyncEventBus.isDebug = true
    await bus.emit(new Unicorn())
    AsyncEventBus.isDebug = false
    expect(debug).toHaveBeenCalledTimes(1)
    expect(String(debug.mock.calls[0]?.[0])).toContain('[AsyncEventBus]')
  })

  it('difference from emittery: a throwing logger is ignored; clear(X) still removes everything (emittery rethrows)', () => {
    const bus = new AsyncEventBus({
      metrics: new AsyncMetrics(),
      debug: {
        name: 'testBus',
        enabled: true,
        logger: (action) => {
          if (action === 'clear') throw new Error('logger failed')
        },
      },
    })
    bus.on(Unicorn, () => undefined)
    expect(() => bus.clear(Unicorn)).not.toThrow()
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })
})
