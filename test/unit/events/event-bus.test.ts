;(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('nodejs.dispose')
import { AsyncEventBus } from '../../../src/events/event-bus'
import {
  BusClosedError,
  HandlerError,
  isBusClosedError,
  isEmitError,
  isHandlerError,
  type EmitError,
} from '../../../src/events/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class UserCreated {
  constructor(readonly id: number) {}
}
class AdminCreated extends UserCreated {}
class OrderPlaced {
  constructor(readonly total: number) {}
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: unknown): void } {
  let resolve!: () => void
  let reject!: (e: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('AsyncEventBus: delivery and ordering', () => {
  it('delivers an event to the handlers of its class only, typed from the class', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const seen: number[] = []
    bus.on(UserCreated, (e) => {
      seen.push(e.id)
    })
    bus.on(OrderPlaced, (e) => {
      seen.push(e.total * 100)
    })
    const result = await bus.emit(new UserCreated(7))
    expect(seen).toEqual([7])
    expect(result.handled).toBe(1)
    expect(result.errors).toEqual([])
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('starts every handler concurrently and waits for all of them', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const first = deferred()
    const started: string[] = []
    bus.on(UserCreated, async () => {
      started.push('a')
      await first.promise
    })
    bus.on(UserCreated, async () => {
      started.push('b')
    })
    let done = false
    const emitted = bus.emit(new UserCreated(1)).then(() => (done = true))
    expect(started).toEqual(['a', 'b'])
    await tick()
    expect(done).toBe(false)
    first.resolve()
    await emitted
    expect(done).toBe(true)
  })

  it('emitSerial runs handlers one at a time in registration order', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const log: string[] = []
    let running = 0
    for (const name of ['a', 'b', 'c']) {
      bus.on(UserCreated, async () => {
        running++
        expect(running).toBe(1)
        log.push(`start ${name}`)
        await tick()
        log.push(`end ${name}`)
        running--
      })
    }
    const result = await bus.emitSerial(new UserCreated(1))
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
    expect(result.handled).toBe(3)
  })

  it('emitSerial keeps going after a failure and then rejects with every failure', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const ran: string[] = []
    bus.on(UserCreated, async function first() {
      ran.push('first')
      throw new Error('one')
    })
    bus.on(UserCreated, function second() {
      ran.push('second')
    })
    const error = (await bus.emitSerial(new UserCreated(1)).catch((e: unknown) => e)) as AggregateError
    expect(ran).toEqual(['first', 'second'])
    expect(error.errors).toHaveLength(1)
    expect((error.errors[0] as HandlerError).handlerName).toBe('first')
  })

  it('handlers added during an emit do not run for it; handlers removed during it are skipped', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const log: string[] = []
    let offLater: () => void = () => undefined
    bus.on(UserCreated, () => {
      log.push('first')
      bus.on(UserCreated, () => {
        log.push('added')
      })
      offLater()
    })
    offLater = bus.on(UserCreated, () => {
      log.push('removed')
    })
    const result = await bus.emit(new UserCreated(1))
    expect(log).toEqual(['first'])
    expect(result.handled).toBe(1)
    log.length = 0
    await bus.emit(new UserCreated(2))
    expect(log).toEqual(['first', 'added'])
  })

  it('a serial emit skips a handler removed by an earlier handler', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const log: string[] = []
    let off: () => void = () => undefined
    bus.on(UserCreated, async () => {
      off()
    })
    off = bus.on(UserCreated, () => {
      log.push('removed one ran')
    })
    expect((await bus.emitSerial(new UserCreated(1))).handled).toBe(1)
    expect(log).toEqual([])
  })

  it('inherited: true reaches parent-class handlers; without it only the exact class does', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const log: string[] = []
    bus.on(UserCreated, (e) => {
      log.push(`exact ${e.id}`)
    })
    bus.on(
      UserCreated,
      (e) => {
        log.push(`inherited ${e.constructor.name}`)
      },
      { inherited: true },
    )
    await bus.emit(new AdminCreated(1))
    expect(log).toEqual(['inherited AdminCreated'])
    log.length = 0
    await bus.emit(new UserCreated(2))
    expect(log).toEqual(['exact 2', 'inherited UserCreated'])
    expect(bus.listenerCount(AdminCreated)).toBe(1)
    expect(bus.listenerCount(UserCreated)).toBe(2)
  })

  it('onAny hears every event, in registration order with class handlers', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const log: string[] = []
    bus.on(UserCreated, () => {
      log.push('user')
    })
    const off = bus.onAny((e) => {
      log.push(`any ${e.constructor.name}`)
    })
    await bus.emit(new UserCreated(1))
    await bus.emit(new OrderPlaced(2))
    expect(log).toEqual(['user', 'any UserCreated', 'any OrderPlaced'])
    off()
    await bus.emit(new OrderPlaced(3))
    expect(log).toHaveLength(3)
  })

  it('off, the unsubscribe function, Symbol.dispose, listenerCount and clear', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const calls: string[] = []
    const a = (): void => {
      calls.push('a')
    }
    bus.on(UserCreated, a)
    bus.on(UserCreated, a)
    const off = bus.on(UserCreated, () => {
      calls.push('b')
    })
    {
      using _scoped = bus.on(UserCreated, () => {
        calls.push('scoped')
      })
      expect(bus.listenerCount(UserCreated)).toBe(4)
    }
    expect(bus.listenerCount(UserCreated)).toBe(3)
    bus.off(UserCreated, a)
    expect(bus.listenerCount(UserCreated)).toBe(1)
    off()
    off()
    expect(bus.listenerCount(UserCreated)).toBe(0)
    bus.on(UserCreated, a)
    bus.on(OrderPlaced, a)
    bus.onAny(a)
    expect(bus.listenerCount()).toBe(3)
    bus.clear(UserCreated)
    expect(bus.listenerCount()).toBe(2)
    bus.clear()
    expect(bus.listenerCount()).toBe(0)
    expect((await bus.emit(new UserCreated(1))).handled).toBe(0)
    expect(calls).toEqual([])
  })

  it('rejects a non-object event and a non-function handler with clear errors', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    await expect(bus.emit(null as unknown as object)).rejects.toThrow(/must be a class instance/)
    expect(() => bus.on(UserCreated, 'nope' as never)).toThrow(
      /on\(UserCreated\): the handler must be a function/,
    )
    expect(() => bus.on(UserCreated, () => undefined, { concurrency: 0, name: 'mailer' })).toThrow(
      /on\(UserCreated\) handler "mailer": option "concurrency"/,
    )
  })
})

describe('AsyncEventBus: errors', () => {
  it('runs every handler, then rejects once with an AggregateError of HandlerErrors in registration order', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const ran: string[] = []
    bus.on(UserCreated, async function sendWelcome() {
      await tick()
      ran.push('sendWelcome')
      throw new Error('smtp down')
    })
    bus.on(UserCreated, function syncThrower() {
      ran.push('syncThrower')
      throw new TypeError('bad')
    })
    bus.on(UserCreated, async function audit() {
      await tick()
      ran.push('audit')
    })
    const error = (await bus.emit(new UserCreated(3)).catch((e: unknown) => e)) as AggregateError
    expect(ran.sort()).toEqual(['audit', 'sendWelcome', 'syncThrower'])
    expect(error).toBeInstanceOf(AggregateError)
    expect(error.message).toBe('2 of 3 handlers failed for UserCreated: sendWelcome, syncThrower')
    const [first, second] = error.errors as HandlerError[]
    expect(isHandlerError(first)).toBe(true)
    expect(first).toMatchObject({ handlerName: 'sendWelcome', eventName: 'UserCreated' })
    expect((first?.cause as Error).message).toBe('smtp down')
    expect(first?.event).toEqual(new UserCreated(3))
    expect(second).toMatchObject({ handlerName: 'syncThrower', eventName: 'UserCreated' })
    expect(second?.cause).toBeInstanceOf(TypeError)
  })

  it('a synchronously throwing handler does not skip the ones after it', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    const after = jest.fn()
    bus.on(UserCreated, () => {
      throw new Error('sync')
    })
    bus.on(UserCreated, after)
    await expect(bus.emit(new UserCreated(1))).rejects.toBeInstanceOf(AggregateError)
    expect(after).toHaveBeenCalledTimes(1)
  })

  it('names a handler by the name option, then by function name, else anonymous', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    bus.on(
      UserCreated,
      () => {
        throw new Error('x')
      },
      { name: 'mailer' },
    )
    const handlers = [
      (): void => {
        throw new Error('y')
      },
    ]
    bus.on(UserCreated, handlers[0] as () => void)
    const error = (await bus.emit(new UserCreated(1)).catch((e: unknown) => e)) as AggregateError
    expect((error.errors as HandlerError[]).map((e) => e.handlerName)).toEqual(['mailer', 'anonymous'])
  })

  it('onFallible failures are collected in EmitResult and do not reject', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    bus.onFallible(UserCreated, async function cacheWarmup() {
      throw new Error('cache cold')
    })
    bus.onFallible(UserCreated, function syncFallible() {
      throw new Error('sync fallible')
    })
    bus.on(UserCreated, async () => undefined)
    const result = await bus.emit(new UserCreated(1))
    expect(result.handled).toBe(1)
    expect(result.errors.map((e) => [e.handlerName, (e.cause as Error).message])).toEqual([
      ['cacheWarmup', 'cache cold'],
      ['syncFallible', 'sync fallible'],
    ])
  })

  it('a failing on handler rejects even when fallible ones also failed; the rejection carries both', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    bus.onFallible(UserCreated, () => {
      throw new Error('soft')
    })
    bus.on(UserCreated, function hard() {
      throw new Error('hard')
    })
    const error = (await bus.emit(new UserCreated(1)).catch((e: unknown) => e)) as EmitError
    expect(isEmitError(error)).toBe(true)
    expect(error).toBeInstanceOf(AggregateError)
    expect(error.errors.map((e) => e.handlerName)).toEqual(['hard'])
    // The fallible failure of the same emit is not lost: it rides on the rejection's result.
    expect(error.result.errors.map((e) => (e.cause as Error).message)).toEqual(['soft'])
    expect(error.message).toMatch(/1 of 2 handlers failed for UserCreated: hard \(and 1 fallible\)/)
  })

  it('records each emit, and failed ones, in AsyncMetrics', async () => {
    const metrics = new AsyncMetrics()
    const bus = new AsyncEventBus({ metrics })
    let fail = false
    bus.on(UserCreated, async () => {
      if (fail) throw new Error('x')
    })
    await bus.emit(new UserCreated(1))
    fail = true
    await bus.emit(new UserCreated(2)).catch(() => undefined)
    const stats = metrics.snapshot().operations['emit(UserCreated)']
    expect(stats).toMatchObject({ total: 2, succeeded: 1, failed: 1, active: 0 })
  })

  it('emits after close are refused with BusClosedError', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    await bus.close()
    const error = await bus.emit(new UserCreated(1)).catch((e: unknown) => e)
    expect(isBusClosedError(error)).toBe(true)
    expect((error as BusClosedError).message).toBe('emit(UserCreated): the event bus is closed')
    await expect(bus.emitSerial(new UserCreated(1))).rejects.toBeInstanceOf(BusClosedError)
    await expect(bus.once(UserCreated)).rejects.toBeInstanceOf(BusClosedError)
  })
})

describe('AsyncEventBus: batches', () => {
  it('emitBatchConcurrent returns one outcome per event, failures included, in order', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    let active = 0
    let peak = 0
    bus.on(UserCreated, async (e) => {
      active++
      peak = Math.max(peak, active)
      await tick()
      active--
      if (e.id === 2) throw new Error('two')
    })
    const outcomes = await bus.emitBatchConcurrent([
      new UserCreated(1),
      new UserCreated(2),
      new UserCreated(3),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(outcomes[1]?.event.id).toBe(2)
    expect(peak).toBe(3)
  })

  it('emitBatchSequential emits one event after another', async () => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    let active = 0
    let peak = 0
    const order: number[] = []
    bus.on(UserCreated, async (e) => {
      active++
      peak = Math.max(peak, active)
      await tick()
      order.push(e.id)
      active--
    })
    const outcomes = await bus.emitBatchSequential([new UserCreated(1), new UserCreated(2)])
    expect(peak).toBe(1)
    expect(order).toEqual([1, 2])
    expect(outcomes.every((o) => o.status === 'fulfilled' && o.result.handled === 1)).toBe(true)
  })
})
