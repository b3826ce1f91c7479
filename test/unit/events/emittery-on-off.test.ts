// Ports emittery 2's test/index.js behaviours for on(), off(), onAny(), offAny(), clear()
// (emittery's clearListeners()) and listenerCount(), written for our class-keyed AsyncEventBus.
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isInvalidEventError } from '../../../src/events/errors'
import { AsyncMetrics } from '../../../src/core/metrics'
import { DISPOSE } from '../../../src/core/dispose'
import { getEventListeners } from 'node:events'

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length

class Unicorn {
  constructor(readonly data?: unknown) {}
}
class Rainbow {
  constructor(readonly data?: unknown) {}
}
class Dog {}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })

function invalidEvent(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

describe('emittery on()', () => {
  it('calls every handler of the emitted class, and only those, in registration order', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(1))
    bus.on(Unicorn, () => calls.push(2))
    bus.on(Rainbow, () => calls.push(3))
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1, 2])
    await bus.emit(new Rainbow())
    expect(calls).toEqual([1, 2, 3])
  })

  it('an array of classes registers one handler for each of them', async () => {
    const bus = newBus()
    let count = 0
    bus.on([Unicorn, Rainbow, Dog], () => ++count)
    await bus.emit(new Unicorn())
    await bus.emit(new Rainbow())
    await bus.emit(new Dog())
    expect(count).toBe(3)
  })

  it('refuses something that is not a class with an InvalidEventError', () => {
    const bus = newBus()
    const h = (): void => undefined
    for (const bad of [true, null, 42, 'Unicorn', Symbol('x'), {}, []]) {
      const error = invalidEvent(() => bus.on(bad as never, h))
      expect(isInvalidEventError(error)).toBe(true)
    }
    expect(isInvalidEventError(invalidEvent(() => bus.on([Unicorn, true] as never, h)))).toBe(true)
    expect(bus.listenerCount()).toBe(0)
  })

  it('refuses a missing or non-function handler with a TypeError', () => {
    const bus = newBus()
    expect(() => bus.on(Unicorn, undefined as never)).toThrow(TypeError)
    expect(() => bus.on(Unicorn, 'handler' as never)).toThrow(TypeError)
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })

  it('returns an unsubscribe function that removes the handler', async () => {
    const bus = newBus()
    const calls: number[] = []
    const off = bus.on(Unicorn, () => calls.push(1))
    await bus.emit(new Unicorn())
    off()
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1])
  })

  it('calling the unsubscribe function twice is a harmless no-op', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(0))
    const off = bus.on(Unicorn, () => calls.push(1))
    off()
    expect(() => off()).not.toThrow()
    await bus.emit(new Unicorn())
    expect(calls).toEqual([0])
    expect(bus.listenerCount(Unicorn)).toBe(1)
  })

  it('the unsubscribe function is also Symbol.dispose (same function)', async () => {
    const bus = newBus()
    const calls: number[] = []
    const off = bus.on(Unicorn, () => calls.push(1))
    expect(off[DISPOSE]).toBe(off)
    await bus.emit(new Unicorn())
    off[DISPOSE]()
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1])
  })

  it('difference from emittery: the same handler registered twice runs twice (emittery dedupes)', async () => {
    const bus = newBus()
    const calls: number[] = []
    const h = (): void => {
      calls.push(1)
    }
    bus.on(Unicorn, h)
    bus.on(Unicorn, h)
    bus.on(Unicorn, h)
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1, 1, 1])
    expect(bus.listenerCount(Unicorn)).toBe(3)
  })

  it('a handler registered for several classes of one array runs once per emit', async () => {
    const bus = newBus()
    const calls: unknown[] = []
    bus.on([Unicorn, Unicorn], (e) => calls.push(e))
    await bus.emit(new Unicorn())
    expect(calls).toHaveLength(1)
  })

  it('the handler receives the event instance itself and a context with signal and attempt', async () => {
    const bus = newBus()
    const event = new Unicorn('rainbow')
    const received: unknown[] = []
    bus.on(Unicorn, (e, context) => {
      received.push(e, context.signal instanceof AbortSignal, context.attempt)
    })
    await bus.emit(event)
    expect(received[0]).toBe(event)
    expect(received.slice(1)).toEqual([true, 0])
  })

  it('an event with no fields is delivered as the bare instance (no name/data wrapper)', async () => {
    const bus = newBus()
    let seen: unknown
    bus.on(Dog, (e) => {
      seen = e
    })
    await bus.emit(new Dog())
    expect(seen).toBeInstanceOf(Dog)
    expect(Object.keys(seen as object)).toEqual([])
  })

  it('an explicit undefined field reaches the handler as an own undefined field', async () => {
    const bus = newBus()
    let seen: Unicorn | undefined
    bus.on(Unicorn, (e) => {
      seen = e
    })
    await bus.emit(new Unicorn(undefined))
    expect(seen).toBeInstanceOf(Unicorn)
    expect('data' in (seen as Unicorn)).toBe(true)
    expect(seen?.data).toBeUndefined()
  })

  it('difference from emittery: every handler sees one shared event instance (emittery isolates copies)', async () => {
    const bus = newBus()
    class Mutable {
      value = 'rainbow'
    }
    const instance = new Mutable()
    let second: Mutable | undefined
    bus.on(Mutable, (e) => {
      e.value = 'changed'
    })
    bus.on(Mutable, (e) => {
      second = e
    })
    await bus.emit(instance)
    expect(second).toBe(instance)
    expect(second?.value).toBe('changed')
  })

  it('an anonymous class (empty name) is a valid event key', async () => {
    const bus = newBus()
    const Anonymous = (() => class {})()
    expect(Anonymous.name).toBe('')
    const calls: unknown[] = []
    bus.on(Anonymous, (e) => calls.push(e))
    expect(bus.listenerCount(Anonymous)).toBe(1)
    await bus.emit(new Anonymous())
    expect(calls).toHaveLength(1)
  })

  it('aborting the signal option removes the handler', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(1), { signal: controller.signal })
    await bus.emit(new Unicorn())
    controller.abort()
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1])
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })

  it('a pre-aborted signal registers nothing', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(1), { signal: AbortSignal.abort() })
    await bus.emit(new Unicorn())
    expect(calls).toEqual([])
    expect(bus.listenerCount(Unicorn)).toBe(0)
  })

  it('aborting the signal unsubscribes every class of an array registration', async () => {
    const bus = newBus()
    const controller = new AbortController()
    const calls: unknown[] = []
    bus.on([Unicorn, Rainbow], (e) => calls.push(e), { signal: controller.signal })
    controller.abort()
    expect(bus.listenerCount(Unicorn)).toBe(0)
    expect(bus.listenerCount(Rainbow)).toBe(0)
    await bus.emit(new Rainbow())
    expect(calls).toEqual([])
  })

  it('unsubscribing removes the abort listener the signal option added', () => {
    const bus = newBus()
    const controller = new AbortController()
    const { signal } = controller
    const off = bus.on(Unicorn, () => undefined, { signal })
    expect(abortListeners(signal)).toBe(1)
    off()
    expect(abortListeners(signal)).toBe(0)
  })

  // Found by this port: only the unsubscribe function used to detach the abort listener, so
  // off(), offAny() and clear() left it on a long-lived signal.
  it('off(), offAny() and clear() also remove the abort listener the signal option added', () => {
    const bus = newBus()
    const { signal } = new AbortController()
    const h = (): void => undefined
    bus.on(Unicorn, h, { signal })
    bus.off(Unicorn, h)
    expect(abortListeners(signal)).toBe(0)
    bus.onAny(h, { signal })
    bus.offAny(h)
    expect(abortListeners(signal)).toBe(0)
    bus.on(Unicorn, h, { signal })
    bus.clear(Unicorn)
    expect(abortListeners(signal)).toBe(0)
  })
})

describe('emittery off()', () => {
  it('removes the handler so later emits do not reach it', async () => {
    const bus = newBus()
    const calls: number[] = []
    const h = (): void => {
      calls.push(1)
    }
    bus.on(Unicorn, h)
    await bus.emit(new Unicorn())
    bus.off(Unicorn, h)
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1])
  })

  it('an array removes the handler from those classes only', async () => {
    const bus = newBus()
    const calls: string[] = []
    const h = (e: object): void => {
      calls.push(e.constructor.name)
    }
    bus.on([Unicorn, Rainbow, Dog], h)
    bus.off([Unicorn, Rainbow], h)
    await bus.emit(new Unicorn())
    await bus.emit(new Rainbow())
    expect(calls).toEqual([])
    await bus.emit(new Dog())
    expect(calls).toEqual(['Dog'])
  })

  it('refuses something that is not a class with an InvalidEventError', () => {
    const bus = newBus()
    const h = (): void => undefined
    expect(isInvalidEventError(invalidEvent(() => bus.off(true as never, h)))).toBe(true)
    expect(isInvalidEventError(invalidEvent(() => bus.off(null as never, h)))).toBe(true)
  })

  it('refuses a missing handler with a TypeError', () => {
    const bus = newBus()
    expect(() => bus.off(Unicorn, undefined as never)).toThrow(TypeError)
  })

  it('removing the last handler leaves no trace in the counts', () => {
    const bus = newBus()
    const h = (): void => undefined
    bus.on(Unicorn, h)
    expect(bus.listenerCount()).toBe(1)
    bus.off(Unicorn, h)
    expect(bus.listenerCount(Unicorn)).toBe(0)
    expect(bus.listenerCount()).toBe(0)
  })

  it('removes every registration of a handler registered twice', async () => {
    const bus = newBus()
    const calls: number[] = []
    const h = (): void => {
      calls.push(1)
    }
    bus.on(Unicorn, h)
    bus.on(Unicorn, h)
    bus.off(Unicorn, h)
    await bus.emit(new Unicorn())
    expect(calls).toEqual([])
  })
})

describe('emittery onAny() / offAny()', () => {
  it('hears every event, from emit and from emitSerial', async () => {
    const bus = newBus()
    const event = new Unicorn({ foo: true })
    const seen: unknown[] = []
    bus.onAny((e) => seen.push(e))
    await bus.emit(event)
    await bus.emitSerial(event)
    expect(seen).toEqual([event, event])
    expect(seen[0]).toBe(event)
  })

  it('receives each distinct event with its own class', async () => {
    const bus = newBus()
    const seen: object[] = []
    bus.onAny((e) => seen.push(e))
    await bus.emit(new Unicorn('rainbow'))
    await bus.emit(new Dog())
    expect(seen.map((e) => e.constructor)).toEqual([Unicorn, Dog])
  })

  it('refuses a missing handler with a TypeError', () => {
    const bus = newBus()
    expect(() => bus.onAny(undefined as never)).toThrow(TypeError)
    expect(() => bus.offAny(undefined as never)).toThrow(TypeError)
  })

  it('aborting the signal option removes the handler', async () => {
    const bus = newBus()
    const controller = new AbortController()
    let calls = 0
    bus.onAny(() => ++calls, { signal: controller.signal })
    await bus.emit(new Unicorn())
    await bus.emitSerial(new Unicorn())
    controller.abort()
    await bus.emit(new Unicorn())
    expect(calls).toBe(2)
    expect(bus.listenerCount()).toBe(0)
  })

  it('a pre-aborted signal registers nothing', async () => {
    const bus = newBus()
    let calls = 0
    bus.onAny(() => ++calls, { signal: AbortSignal.abort() })
    await bus.emit(new Unicorn())
    expect(calls).toBe(0)
  })

  it('returns an unsubscribe function that is also Symbol.dispose', async () => {
    const bus = newBus()
    let calls = 0
    const off = bus.onAny(() => ++calls)
    expect(off[DISPOSE]).toBe(off)
    await bus.emit(new Unicorn())
    off[DISPOSE]()
    await bus.emit(new Unicorn())
    expect(calls).toBe(1)
  })

  it('offAny removes the handler', async () => {
    const bus = newBus()
    let calls = 0
    const h = (): void => {
      calls++
    }
    bus.onAny(h)
    await bus.emit(new Unicorn())
    bus.offAny(h)
    await bus.emit(new Unicorn())
    expect(calls).toBe(1)
  })

  it('difference from emittery: onAny handlers run in registration order among class handlers (emittery runs them after)', async () => {
    const bus = newBus()
    const calls: string[] = []
    bus.onAny(() => calls.push('any1'))
    bus.on(Unicorn, () => calls.push('on'))
    bus.onAny(() => calls.push('any2'))
    await bus.emit(new Unicorn())
    expect(calls).toEqual(['any1', 'on', 'any2'])
  })
})

describe('emittery clearListeners() → clear()', () => {
  function wire(bus: AsyncEventBus, calls: string[], anyCount: number): void {
    bus.on(Unicorn, () => calls.push('u1'))
    bus.on(Rainbow, () => calls.push('r'))
    bus.on(Unicorn, () => calls.push('u2'))
    for (let i = 1; i <= anyCount; i++) bus.onAny(() => calls.push(`any${i}`))
  }

  it('clear() removes every handler, onAny ones included', async () => {
    const bus = newBus()
    const calls: string[] = []
    wire(bus, calls, 2)
    await bus.emit(new Unicorn())
    expect(calls).toEqual(['u1', 'u2', 'any1', 'any2'])
    bus.clear()
    await bus.emit(new Unicorn())
    await bus.emit(new Rainbow())
    expect(calls).toEqual(['u1', 'u2', 'any1', 'any2'])
    expect(bus.listenerCount()).toBe(0)
  })

  it('clear(X) removes the handlers of X only; onAny and other classes stay', async () => {
    const bus = newBus()
    const calls: string[] = []
    wire(bus, calls, 2)
    bus.clear(Unicorn)
    await bus.emit(new Unicorn())
    await bus.emit(new Rainbow())
    expect(calls).toEqual(['any1', 'any2', 'r', 'any1', 'any2'])
  })

  it('clear([A, B]) removes the handlers of each class in the array', async () => {
    const bus = newBus()
    const calls: string[] = []
    wire(bus, calls, 1)
    bus.clear([Unicorn, Rainbow])
    await bus.emit(new Unicorn())
    await bus.emit(new Rainbow())
    expect(calls).toEqual(['any1', 'any1'])
  })

  it('clear(X) refuses something that is not a class', () => {
    const bus = newBus()
    expect(isInvalidEventError(invalidEvent(() => bus.clear(true as never)))).toBe(true)
  })
})

describe('emittery listenerCount()', () => {
  function wire(bus: AsyncEventBus): void {
    bus.on(Unicorn, () => undefined)
    bus.on(Rainbow, () => undefined)
    bus.on(Unicorn, () => undefined)
    bus.onAny(() => undefined)
    bus.onAny(() => undefined)
  }

  it('counts a class’s handlers plus onAny handlers; without an argument, every registration', () => {
    const bus = newBus()
    wire(bus)
    expect(bus.listenerCount(Unicorn)).toBe(4)
    expect(bus.listenerCount(Rainbow)).toBe(3)
    expect(bus.listenerCount()).toBe(5)
  })

  it('sums over an array of classes (onAny counted for each)', () => {
    const bus = newBus()
    wire(bus)
    expect(bus.listenerCount([Unicorn, Rainbow])).toBe(7)
    expect(bus.listenerCount()).toBe(5)
  })

  it('is 0 for a class nobody listens to, and grows with its handlers and onAny', () => {
    const bus = newBus()
    expect(bus.listenerCount(Dog)).toBe(0)
    bus.on(Dog, () => undefined)
    bus.on(Dog, () => undefined)
    expect(bus.listenerCount(Dog)).toBe(2)
    bus.onAny(() => undefined)
    expect(bus.listenerCount(Dog)).toBe(3)
  })

  it('refuses something that is not a class (undefined means all)', () => {
    const bus = newBus()
    expect(bus.listenerCount(undefined)).toBe(0)
    expect(isInvalidEventError(invalidEvent(() => bus.listenerCount(true as never)))).toBe(true)
  })
})

describe('emittery: works through a Proxy wrapper', () => {
  it('on, onAny, emit, once, listenerCount and clear work with methods bound to a Proxy', async () => {
    const bus = newBus()
    const proxy = new Proxy(bus, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(receiver) : value
      },
    })
    const calls: string[] = []
    const off = proxy.on(Unicorn, () => calls.push('on'))
    proxy.onAny(() => calls.push('onAny'))
    await proxy.emit(new Unicorn())
    expect(calls).toEqual(['on', 'onAny'])
    off()
    await proxy.emit(new Unicorn())
    expect(calls).toEqual(['on', 'onAny', 'onAny'])
    const next = proxy.once(Unicorn)
    const event = new Unicorn()
    await proxy.emit(event)
    await expect(next).resolves.toBe(event)
    expect(proxy.listenerCount(Unicorn)).toBe(1)
    proxy.onAny(() => undefined)
    proxy.clear()
    expect(proxy.listenerCount()).toBe(0)
  })
})
