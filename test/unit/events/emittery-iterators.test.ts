// Ports emittery 2's test/index.js behaviours for the events() and anyEvent() async iterators
// (return(), Symbol.asyncDispose, the signal option, clearListeners()), written for our
// class-keyed AsyncEventBus.
import { AsyncEventBus } from '../../../src/events/event-bus'
import type { EventIterator } from '../../../src/events/event-iterator'
import { AsyncMetrics } from '../../../src/core/metrics'
import { ASYNC_DISPOSE } from '../../../src/core/dispose'

class Unicorn {
  constructor(readonly data?: unknown) {}
}
class Dog {
  constructor(readonly data?: unknown) {}
}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const DONE = { done: true, value: undefined }

/** Counts the abort listeners added to and removed from `signal`. */
function countAbortListeners(signal: AbortSignal): () => number {
  let count = 0
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    if (type === 'abort') count++
    add(type, listener, options)
  }) as typeof signal.addEventListener
  signal.removeEventListener = ((type: string, listener: EventListener, options?: EventListenerOptions) => {
    if (type === 'abort') count--
    remove(type, listener, options)
  }) as typeof signal.removeEventListener
  return () => count
}

type Make = (bus: AsyncEventBus, options?: { signal?: AbortSignal }) => EventIterator<object>
const kinds: Array<[string, Make]> = [
  ['events(Unicorn)', (bus, options) => bus.events(Unicorn, options)],
  ['anyEvent()', (bus, options) => bus.anyEvent(options)],
]

describe('emittery events()', () => {
  it('yields events emitted before and while the consumer waits; break ends it', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    const first = new Unicorn('rainbow')
    const second = new Unicorn('star')
    await bus.emit(first)
    setImmediate(() => void bus.emit(second))
    const seen: Unicorn[] = []
    for await (const event of iterator) {
      seen.push(event)
      if (seen.length === 2) break
    }
    expect(seen).toEqual([first, second])
    expect(seen[1]).toBe(second)
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('an array yields the events of each of its classes, in emit order', async () => {
    const bus = newBus()
    const iterator = bus.events([Unicorn, Dog])
    const a = new Unicorn(1)
    const b = new Dog(2)
    const c = new Unicorn(3)
    await bus.emit(a)
    await bus.emit(b)
    setImmediate(() => void bus.emit(c))
    const seen: object[] = []
    for await (const event of iterator) {
      seen.push(event)
      if (seen.length === 3) break
    }
    expect(seen).toEqual([a, b, c])
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('yields the event instance itself (an event with no fields included)', async () => {
    const bus = newBus()
    const iterator = bus.events(Dog)
    const event = new Dog()
    await bus.emit(event)
    const result = await iterator.next()
    expect(result.done).toBe(false)
    expect(result.value).toBe(event)
    await iterator.return()
  })

  it('an explicit undefined field is kept', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    await bus.emit(new Unicorn(undefined))
    const { value } = await iterator.next()
    expect('data' in (value as Unicorn)).toBe(true)
    await iterator.return()
  })

  it('difference from emittery: two iterators get the same event instance (emittery isolates copies)', async () => {
    const bus = newBus()
    const first = bus.events(Unicorn)
    const second = bus.events(Unicorn)
    await bus.emit(new Unicorn('rainbow'))
    const a = await first.next()
    const b = await second.next()
    expect(a.value).toBe(b.value)
    await first.return()
    await second.return()
  })

  it('difference from emittery: return() by an earlier handler of the same emit means the iterator gets nothing', async () => {
    const bus = newBus()
    const holder: { iterator?: EventIterator<Unicorn> } = {}
    bus.on(Unicorn, () => void holder.iterator?.return())
    const iterator = (holder.iterator = bus.events(Unicorn))
    void bus.emit(new Unicorn('rainbow'))
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('return(value) resolves { done: true } with its argument awaited', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    await expect(iterator.return(Promise.resolve(1))).resolves.toEqual({ done: true, value: 1 })
  })

  it('return() without an argument resolves { done: true }', async () => {
    const bus = newBus()
    await expect(bus.events(Unicorn).return()).resolves.toEqual(DONE)
  })

  it('emitSerial delivers to events() too', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    const event = new Unicorn(undefined)
    await bus.emitSerial(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator.return()
  })
})

describe('emittery anyEvent()', () => {
  it('yields every event, whatever its class; break ends it', async () => {
    const bus = newBus()
    const iterator = bus.anyEvent()
    const first = new Unicorn('rainbow')
    const second = new Dog('star')
    await bus.emit(first)
    setImmediate(() => void bus.emit(second))
    const seen: object[] = []
    for await (const event of iterator) {
      seen.push(event)
      if (seen.length === 2) break
    }
    expect(seen).toEqual([first, second])
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('emitSerial delivers to anyEvent() too', async () => {
    const bus = newBus()
    const iterator = bus.anyEvent()
    const event = new Dog()
    await bus.emitSerial(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator.return()
  })

  it('difference from emittery: return() by an earlier onAny handler of the same emit means the iterator gets nothing', async () => {
    const bus = newBus()
    const holder: { iterator?: EventIterator<object> } = {}
    bus.onAny(() => void holder.iterator?.return())
    const iterator = (holder.iterator = bus.anyEvent())
    void bus.emit(new Unicorn())
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('works after clear() of everything, and counts as a registration', async () => {
    const bus = newBus()
    bus.clear()
    const iterator = bus.anyEvent()
    expect(bus.listenerCount()).toBe(1)
    const event = new Unicorn('star')
    await bus.emit(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator.return()
  })
})

describe.each(kinds)('emittery %s: ending', (_name, make) => {
  it('a discarded iterator stops receiving events and unsubscribes', async () => {
    const bus = newBus()
    const iterator = make(bus)
    const event = new Unicorn('rainbow')
    await bus.emit(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator.return()
    expect(bus.listenerCount(Unicorn)).toBe(0)
    await bus.emit(new Unicorn('again'))
    await expect(iterator.next()).resolves.toEqual(DONE)
    setImmediate(() => void bus.emit(new Unicorn('later')))
    await tick()
    await tick()
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('is async disposable: Symbol.asyncDispose ends it', async () => {
    const bus = newBus()
    const iterator = make(bus)
    expect(typeof iterator[ASYNC_DISPOSE]).toBe('function')
    const event = new Unicorn()
    await bus.emit(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    await iterator[ASYNC_DISPOSE]()
    await expect(iterator.next()).resolves.toEqual(DONE)
    expect(bus.listenerCount()).toBe(0)
  })

  it('aborting its signal ends it after what it already yielded', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const iterator = make(bus, { signal: controller.signal })
    const event = new Unicorn()
    await bus.emit(event)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: event })
    controller.abort()
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('a pre-aborted signal gives an iterator that is done at once and registers nothing', async () => {
    const bus = newBus()
    const iterator = make(bus, { signal: AbortSignal.abort() })
    expect(bus.listenerCount()).toBe(0)
    await expect(iterator.next()).resolves.toEqual(DONE)
  })

  it('an abort unregisters it: later emit and emitSerial still resolve, with nothing to reach', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const iterator = make(bus, { signal: controller.signal })
    controller.abort()
    await expect(iterator.next()).resolves.toEqual(DONE)
    expect(bus.listenerCount()).toBe(0)
    await expect(bus.emit(new Unicorn())).resolves.toMatchObject({ handled: 0 })
    await expect(bus.emitSerial(new Unicorn())).resolves.toMatchObject({ handled: 0 })
  })

  it('removes its abort listener from the signal when clear() ends it', async () => {
    const bus = newBus()
    const { signal } = new AbortController()
    const abortListeners = countAbortListeners(signal)
    const iterator = make(bus, { signal })
    expect(abortListeners()).toBe(1)
    bus.clear()
    expect(abortListeners()).toBe(0)
    await expect(iterator.next()).resolves.toEqual(DONE)
  })
})

describe('emittery clearListeners() and iterators', () => {
  it('clear() ends every iterator after it has yielded what was already buffered', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    const anyIterator = bus.anyEvent()
    const u1 = new Unicorn(1)
    const d1 = new Dog(1)
    await bus.emit(u1)
    await bus.emit(d1)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: u1 })
    await expect(anyIterator.next()).resolves.toEqual({ done: false, value: u1 })
    await expect(anyIterator.next()).resolves.toEqual({ done: false, value: d1 })
    const u2 = new Unicorn(2)
    await bus.emit(u2)
    bus.clear()
    await bus.emit(new Dog(2))
    await expect(iterator.next()).resolves.toEqual({ done: false, value: u2 })
    await expect(iterator.next()).resolves.toEqual(DONE)
    await expect(anyIterator.next()).resolves.toEqual({ done: false, value: u2 })
    await expect(anyIterator.next()).resolves.toEqual(DONE)
  })

  it('clear(X) ends the iterators of X after their buffer; anyEvent() keeps going', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    const anyIterator = bus.anyEvent()
    const u = new Unicorn(2)
    await bus.emit(u)
    bus.clear(Unicorn)
    const d = new Dog(2)
    await bus.emit(d)
    await expect(iterator.next()).resolves.toEqual({ done: false, value: u })
    await expect(iterator.next()).resolves.toEqual(DONE)
    await expect(anyIterator.next()).resolves.toEqual({ done: false, value: u })
    await expect(anyIterator.next()).resolves.toEqual({ done: false, value: d })
    await anyIterator.return()
  })

  it('a consumer waiting on next() when clear() runs gets done', async () => {
    const bus = newBus()
    const iterator = bus.events(Unicorn)
    const next = iterator.next()
    bus.clear(Unicorn)
    await expect(next).resolves.toEqual(DONE)
  })
})
