// Ports emittery 2's test/index.js behaviours for init() lifecycle hooks: the hook runs when an
// event gets its first handler and its cleanup when the last one goes, by every removal path.
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isEventBusOptionsError, isInvalidEventError } from '../../../src/events/errors'
import { ListenerAdded, ListenerRemoved } from '../../../src/events/meta-events'
import { AsyncMetrics } from '../../../src/core/metrics'

class Unicorn {}
class Rainbow {}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })

function counted(): { init: () => () => void; inits: number; deinits: number } {
  const state = {
    inits: 0,
    deinits: 0,
    init: (): (() => void) => {
      state.inits++
      return () => void state.deinits++
    },
  }
  return state
}

describe('init()', () => {
  it('runs on the first handler and its cleanup after the last one is removed', () => {
    const bus = newBus()
    const hook = counted()
    bus.init(Unicorn, hook.init)
    expect(hook.inits).toBe(0)
    const off1 = bus.on(Unicorn, () => undefined)
    const off2 = bus.on(Unicorn, () => undefined)
    expect([hook.inits, hook.deinits]).toEqual([1, 0])
    off1()
    expect(hook.deinits).toBe(0)
    off2()
    expect([hook.inits, hook.deinits]).toEqual([1, 1])
  })

  it('runs at once when the class already has handlers', () => {
    const bus = newBus()
    bus.on(Unicorn, () => undefined)
    const hook = counted()
    bus.init(Unicorn, hook.init)
    expect(hook.inits).toBe(1)
  })

  it('an init returning nothing has no cleanup, and the cycle can start again', () => {
    const bus = newBus()
    let inits = 0
    bus.init(Unicorn, () => void inits++)
    bus.on(Unicorn, () => undefined)()
    bus.on(Unicorn, () => undefined)
    expect(inits).toBe(2)
  })

  it('its unsubscribe removes the hook and runs the cleanup of a started one', () => {
    const bus = newBus()
    const hook = counted()
    const remove = bus.init(Unicorn, hook.init)
    const off = bus.on(Unicorn, () => undefined)
    remove()
    expect(hook.deinits).toBe(1)
    off()
    bus.on(Unicorn, () => undefined)
    expect([hook.inits, hook.deinits]).toEqual([1, 1])
    remove()
    expect(hook.deinits).toBe(1)
  })

  it('clear(X) and clear() run the cleanup after the handlers are gone', () => {
    const bus = newBus()
    const seen: number[] = []
    bus.init(Unicorn, () => () => void seen.push(bus.listenerCount(Unicorn)))
    bus.init(Rainbow, () => () => void seen.push(bus.listenerCount(Rainbow)))
    bus.on(Unicorn, () => undefined)
    bus.on(Rainbow, () => undefined)
    bus.clear(Unicorn)
    expect(seen).toEqual([0])
    bus.clear()
    expect(seen).toEqual([0, 0])
  })

  it('is triggered by on, onFallible and once, not by onAny or iterators', async () => {
    const bus = newBus()
    const hook = counted()
    bus.init(Unicorn, hook.init)
    bus.onAny(() => undefined)
    const iterator = bus.events(Unicorn)
    expect(hook.inits).toBe(0)
    const next = bus.once(Unicorn)
    expect(hook.inits).toBe(1)
    await bus.emit(new Unicorn())
    await next
    // The once settled and left: the iterator does not keep the lifecycle alive.
    expect(hook.deinits).toBe(1)
    bus.onFallible(Unicorn, () => undefined)
    expect(hook.inits).toBe(2)
    await iterator.return()
  })

  it('once().off() and an aborted signal end it too', () => {
    const bus = newBus()
    const hook = counted()
    bus.init(Unicorn, hook.init)
    const waiting = bus.once(Unicorn)
    waiting.off()
    expect(hook.deinits).toBe(1)
    const controller = new AbortController()
    bus.on(Unicorn, () => undefined, { signal: controller.signal })
    controller.abort()
    expect([hook.inits, hook.deinits]).toEqual([2, 2])
  })

  it('a handler for several classes starts each hook, once', () => {
    const bus = newBus()
    const unicorn = counted()
    const rainbow = counted()
    bus.init(Unicorn, unicorn.init)
    bus.init(Rainbow, rainbow.init)
    const off = bus.on([Unicorn, Rainbow], () => undefined)
    bus.on(Unicorn, () => undefined)
    expect([unicorn.inits, rainbow.inits]).toEqual([1, 1])
    off()
    expect([unicorn.deinits, rainbow.deinits]).toEqual([0, 1])
  })

  it('an init that throws rolls back the registration that triggered it, earlier classes included', () => {
    const bus = newBus()
    const unicorn = counted()
    bus.init(Unicorn, unicorn.init)
    bus.init(Rainbow, () => {
      throw new Error('no rainbow today')
    })
    expect(() => bus.on([Unicorn, Rainbow], () => undefined)).toThrow('no rainbow today')
    expect(bus.listenerCount()).toBe(0)
    expect([unicorn.inits, unicorn.deinits]).toEqual([1, 1])
  })

  it('a failed registration keeps the handlers that were there before', () => {
    const bus = newBus()
    bus.on(Unicorn, () => undefined)
    let fail = false
    bus.init(Rainbow, () => {
      if (fail) throw new Error('boom')
    })
    fail = true
    expect(() => bus.on([Unicorn, Rainbow], () => undefined)).toThrow('boom')
    expect(bus.listenerCount(Unicorn)).toBe(1)
    expect(bus.listenerCount(Rainbow)).toBe(0)
  })

  it('a once whose init throws rejects with that error', async () => {
    const bus = newBus()
    bus.init(Unicorn, () => {
      throw new Error('nope')
    })
    await expect(bus.once(Unicorn)).rejects.toThrow('nope')
    expect(bus.listenerCount()).toBe(0)
  })

  it('an init that throws when registered over existing handlers is not kept', () => {
    const bus = newBus()
    bus.on(Unicorn, () => undefined)
    expect(() =>
      bus.init(Unicorn, () => {
        throw new Error('bad init')
      }),
    ).toThrow('bad init')
    const hook = counted()
    expect(() => bus.init(Unicorn, hook.init)).not.toThrow()
    expect(hook.inits).toBe(1)
  })

  it('a cleanup that throws still removes the handler; the error goes to onError', () => {
    const bus = newBus()
    const reported: unknown[] = []
    bus.onError((error) => reported.push(error))
    bus.init(Unicorn, () => () => {
      throw new Error('deinit boom')
    })
    const off = bus.on(Unicorn, () => undefined)
    expect(() => off()).not.toThrow()
    expect(bus.listenerCount(Unicorn)).toBe(0)
    expect(reported.map((e) => (e as Error).message)).toEqual(['deinit boom'])
  })

  it('a handler added by the init itself does not start it again', () => {
    const bus = newBus()
    let inits = 0
    bus.init(Unicorn, () => {
      inits++
      bus.on(Unicorn, () => undefined)
    })
    bus.on(Unicorn, () => undefined)
    expect(inits).toBe(1)
    expect(bus.listenerCount(Unicorn)).toBe(2)
  })

  it('ListenerAdded and ListenerRemoved still fire with a hook; a rolled-back handler announces nothing', () => {
    const bus = newBus()
    const events: string[] = []
    bus.on(ListenerAdded, ({ eventClass }) => void events.push(`added ${eventClass?.name}`))
    bus.on(ListenerRemoved, ({ eventClass }) => void events.push(`removed ${eventClass?.name}`))
    bus.init(Unicorn, () => () => undefined)
    bus.on(Unicorn, () => undefined)()
    bus.init(Rainbow, () => {
      throw new Error('x')
    })
    expect(() => bus.on(Rainbow, () => undefined)).toThrow('x')
    expect(events).toEqual(['added Unicorn', 'removed Unicorn'])
  })

  it('refuses a second hook for a class, a meta event, an array, and a non-function', () => {
    const bus = newBus()
    bus.init(Unicorn, () => undefined)
    let error: unknown
    try {
      bus.init(Unicorn, () => undefined)
    } catch (e) {
      error = e
    }
    expect(isEventBusOptionsError(error)).toBe(true)
    expect(() => bus.init(ListenerAdded, () => undefined)).toThrow(/has no lifecycle/)
    expect(() => bus.init([Rainbow] as never, () => undefined)).toThrow(/one event class/)
    expect(() => bus.init('x' as never, () => undefined)).toThrow(/needs an event class/)
    let invalid: unknown
    try {
      bus.init(null as never, () => undefined)
    } catch (e) {
      invalid = e
    }
    expect(isInvalidEventError(invalid)).toBe(true)
    expect(() => bus.init(Rainbow, 'nope' as never)).toThrow(TypeError)
  })

  it('after its unsubscribe, a new hook can be registered', () => {
    const bus = newBus()
    bus.init(Unicorn, () => undefined)()
    const hook = counted()
    bus.init(Unicorn, hook.init)
    bus.on(Unicorn, () => undefined)
    expect(hook.inits).toBe(1)
  })
})
