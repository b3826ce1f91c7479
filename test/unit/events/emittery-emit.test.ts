// Ports emittery 2's test/index.js behaviours for emit() and emitSerial(), written for our
// class-keyed AsyncEventBus (EmitResult instead of undefined, EmitError instead of a bare
// AggregateError, handlers started synchronously, emitSerial aggregating its failures).
import { AsyncEventBus } from '../../../src/events/event-bus'
import { ListenerAdded, ListenerRemoved } from '../../../src/events/meta-events'
import { isEmitError, isHandlerError, isInvalidEventError, type EmitError } from '../../../src/events/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Unicorn {
  constructor(readonly data?: unknown) {}
}
class Rainbow {}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function emitError(promise: Promise<unknown>): Promise<EmitError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the emit to reject')
    },
    (e: unknown) => e,
  )
  expect(isEmitError(error)).toBe(true)
  expect(error).toBeInstanceOf(AggregateError)
  return error as EmitError
}

const causes = (error: EmitError): string[] => error.errors.map((e) => (e.cause as Error).message)

describe('emittery emit()', () => {
  it('delivers one event to its handler', async () => {
    const bus = newBus()
    const event = new Unicorn('rainbow')
    const seen: unknown[] = []
    bus.on(Unicorn, (e) => seen.push(e))
    await bus.emit(event)
    expect(seen).toEqual([event])
  })

  it('delivers several events, each to the handlers of its class', async () => {
    const bus = newBus()
    const seen: unknown[] = []
    bus.on(Unicorn, (e) => seen.push(['u', e.data]))
    bus.on(Rainbow, () => seen.push(['r']))
    await bus.emit(new Unicorn(1))
    await bus.emit(new Rainbow())
    await bus.emit(new Unicorn(2))
    expect(seen).toEqual([['u', 1], ['r'], ['u', 2]])
  })

  it('rejects (never throws) with an InvalidEventError for something that is not an event instance', async () => {
    const bus = newBus()
    for (const bad of [true, 42, 'Unicorn', null, undefined, Object.create(null)]) {
      let thrown = false
      let promise: Promise<unknown> | undefined
      try {
        promise = bus.emit(bad as never)
      } catch {
        thrown = true
      }
      expect(thrown).toBe(false)
      expect(isInvalidEventError(await (promise as Promise<unknown>).catch((e: unknown) => e))).toBe(true)
    }
  })

  it('userland cannot emit the meta events: ListenerAdded and ListenerRemoved reject', async () => {
    const bus = newBus()
    const h = (): void => undefined
    const added = await bus.emit(new ListenerAdded(Unicorn, h)).catch((e: unknown) => e)
    const removed = await bus.emit(new ListenerRemoved(Unicorn, h)).catch((e: unknown) => e)
    expect(isInvalidEventError(added)).toBe(true)
    expect(isInvalidEventError(removed)).toBe(true)
  })

  it('difference from emittery: handlers start synchronously inside emit() (emittery defers them)', async () => {
    const bus = newBus()
    let ran = false
    bus.on(Unicorn, () => {
      ran = true
    })
    const promise = bus.emit(new Unicorn())
    expect(ran).toBe(true)
    expect(promise).toBeInstanceOf(Promise)
    await promise
  })

  it('difference from emittery: unawaited emits run their handlers before the code after them', async () => {
    const bus = newBus()
    const log: string[] = []
    bus.on(Unicorn, () => log.push('handler'))
    const p1 = bus.emit(new Unicorn())
    log.push('after emit 1')
    const p2 = bus.emit(new Unicorn())
    log.push('after emit 2')
    await Promise.all([p1, p2])
    expect(log).toEqual(['handler', 'after emit 1', 'handler', 'after emit 2'])
  })

  it('waits for async handlers before resolving', async () => {
    const bus = newBus()
    let done = false
    bus.on(Unicorn, async () => {
      await tick()
      done = true
    })
    const promise = bus.emit(new Unicorn())
    expect(done).toBe(false)
    await promise
    expect(done).toBe(true)
  })

  it('difference from emittery: resolves with an EmitResult (emittery resolves undefined); return values are not exposed', async () => {
    const bus = newBus()
    bus.on(Unicorn, () => 'rainbow')
    bus.on(Unicorn, async () => 'rainbow')
    const result = await bus.emit(new Unicorn())
    expect(result).toMatchObject({ handled: 2, dropped: 0, errors: [] })
    expect(typeof result.durationMs).toBe('number')
    expect(Object.values(result)).not.toContain('rainbow')
  })

  it('an emit with no handlers resolves with nothing handled', async () => {
    const bus = newBus()
    await expect(bus.emit(new Unicorn())).resolves.toMatchObject({ handled: 0, errors: [] })
  })
})

describe('emittery emit(): handlers subscribed when emit() was invoked', () => {
  it('a handler added after emit() was called does not run for that emit', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(1))
    const promise = bus.emit(new Unicorn())
    bus.on(Unicorn, () => calls.push(2))
    await promise
    expect(calls).toEqual([1])
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1, 1, 2])
  })

  it('handlers added by a handler (with on or onAny) run from the next emit on', async () => {
    const bus = newBus()
    const calls: string[] = []
    const off = bus.on(Unicorn, () => {
      calls.push('adder')
      bus.on(Unicorn, () => calls.push('added'))
      bus.onAny(() => calls.push('addedAny'))
    })
    await bus.emit(new Unicorn())
    expect(calls).toEqual(['adder'])
    off()
    await bus.emit(new Unicorn())
    expect(calls).toEqual(['adder', 'added', 'addedAny'])
  })

  it('a handler removed by an earlier handler of the same emit is skipped', async () => {
    const bus = newBus()
    const calls: number[] = []
    let offLater = (): void => undefined
    bus.on(Unicorn, () => {
      calls.push(7)
      offLater()
    })
    offLater = bus.on(Unicorn, () => calls.push(8))
    await bus.emit(new Unicorn())
    expect(calls).toEqual([7])
  })

  it('an onAny handler removed by an earlier onAny handler of the same emit is skipped', async () => {
    const bus = newBus()
    const calls: number[] = []
    let offLater = (): void => undefined
    bus.onAny(() => {
      calls.push(9)
      offLater()
    })
    offLater = bus.onAny(() => calls.push(10))
    await bus.emit(new Unicorn())
    await bus.emit(new Unicorn())
    expect(calls).toEqual([9, 9])
  })

  it('a handler that removes an earlier one does not undo that earlier call', async () => {
    const bus = newBus()
    const calls: number[] = []
    const offFirst = bus.on(Unicorn, () => calls.push(1))
    bus.on(Unicorn, () => {
      calls.push(3)
      offFirst()
    })
    await bus.emit(new Unicorn())
    await bus.emit(new Unicorn())
    expect(calls).toEqual([1, 3, 3])
  })

  it('difference from emittery: clear() right after an unawaited emit() does not stop it (its handlers already started)', async () => {
    const bus = newBus()
    const calls: string[] = []
    bus.on(Unicorn, () => calls.push('on'))
    bus.onAny(() => calls.push('any'))
    const promise = bus.emit(new Unicorn())
    bus.clear()
    await promise
    expect(calls).toEqual(['on', 'any'])
    await bus.emit(new Unicorn())
    expect(calls).toEqual(['on', 'any'])
  })
})

describe('emittery emit(): errors', () => {
  it('rejects with an EmitError (an AggregateError) when a handler throws, sync or async', async () => {
    const bus = newBus()
    bus.on(Unicorn, () => {
      throw new Error('rainbow')
    })
    const error = await emitError(bus.emit(new Unicorn()))
    expect(error.errors).toHaveLength(1)
    expect(isHandlerError(error.errors[0])).toBe(true)
    expect(causes(error)).toEqual(['rainbow'])

    const bus2 = newBus()
    bus2.on(Unicorn, async () => {
      throw new Error('rainbow')
    })
    expect(causes(await emitError(bus2.emit(new Unicorn())))).toEqual(['rainbow'])
  })

  it('collects every handler failure into the one EmitError, in registration order', async () => {
    const bus = newBus()
    bus.on(Unicorn, async () => {
      await tick()
      throw new Error('first')
    })
    bus.on(Unicorn, () => {
      throw new Error('second')
    })
    expect(causes(await emitError(bus.emit(new Unicorn())))).toEqual(['first', 'second'])
  })

  it('every handler runs even when one throws', async () => {
    const bus = newBus()
    const ran: string[] = []
    bus.on(Unicorn, () => {
      ran.push('first')
      throw new Error('first fails')
    })
    bus.on(Unicorn, () => ran.push('second'))
    bus.on(Unicorn, () => ran.push('third'))
    const error = await emitError(bus.emit(new Unicorn()))
    expect(ran).toEqual(['first', 'second', 'third'])
    expect(error.result.handled).toBe(2)
  })

  it('collects failures of on() and onAny() handlers alike', async () => {
    const bus = newBus()
    bus.on(Unicorn, () => {
      throw new Error('class handler error')
    })
    bus.onAny(() => {
      throw new Error('any handler error')
    })
    expect(causes(await emitError(bus.emit(new Unicorn())))).toEqual([
      'class handler error',
      'any handler error',
    ])
  })

  it('collects failures of synchronously and asynchronously throwing handlers alike', async () => {
    const bus = newBus()
    bus.on(Unicorn, () => {
      throw new Error('sync error')
    })
    bus.on(Unicorn, async () => {
      throw new Error('async error')
    })
    expect(causes(await emitError(bus.emit(new Unicorn())))).toEqual(['sync error', 'async error'])
  })

  it('rejects only after every handler has settled', async () => {
    const bus = newBus()
    let slowDone = false
    bus.on(Unicorn, () => {
      throw new Error('fast failure')
    })
    bus.on(Unicorn, async () => {
      await tick()
      await tick()
      slowDone = true
    })
    await emitError(bus.emit(new Unicorn()))
    expect(slowDone).toBe(true)
  })
})

describe('emittery emitSerial()', () => {
  it('runs the handlers one at a time, in registration order, each awaited', async () => {
    const bus = newBus()
    const log: string[] = []
    for (const n of [1, 2, 3, 4, 5]) {
      bus.on(Unicorn, async () => {
        log.push(`start ${n}`)
        // Later handlers wait less: only serial execution keeps the order.
        for (let i = 0; i < 6 - n; i++) await tick()
        log.push(`end ${n}`)
      })
    }
    await bus.emitSerial(new Unicorn())
    expect(log).toEqual([1, 2, 3, 4, 5].flatMap((n) => [`start ${n}`, `end ${n}`]))
  })

  it('difference from emittery: a failure rejects with an EmitError whose cause is the thrown error (emittery rethrows it bare)', async () => {
    const bus = newBus()
    const thrown = new Error('rainbow')
    bus.on(Unicorn, () => {
      throw thrown
    })
    const error = await emitError(bus.emitSerial(new Unicorn()))
    expect(error.errors[0]?.cause).toBe(thrown)
  })

  it('difference from emittery: does not stop at the first failure; runs all and aggregates', async () => {
    const bus = newBus()
    const ran: string[] = []
    bus.on(Unicorn, () => {
      ran.push('first')
      throw new Error('first error')
    })
    bus.on(Unicorn, () => ran.push('second'))
    bus.on(Unicorn, async () => {
      ran.push('third')
      throw new Error('third error')
    })
    const error = await emitError(bus.emitSerial(new Unicorn()))
    expect(ran).toEqual(['first', 'second', 'third'])
    expect(causes(error)).toEqual(['first error', 'third error'])
  })

  it('rejects with an InvalidEventError for something that is not an event instance', async () => {
    const bus = newBus()
    for (const bad of [true, 42, Object.create(null)]) {
      expect(isInvalidEventError(await bus.emitSerial(bad as never).catch((e: unknown) => e))).toBe(true)
    }
  })

  it('userland cannot emitSerial the meta events', async () => {
    const bus = newBus()
    const h = (): void => undefined
    expect(
      isInvalidEventError(await bus.emitSerial(new ListenerAdded(Unicorn, h)).catch((e: unknown) => e)),
    ).toBe(true)
    expect(
      isInvalidEventError(await bus.emitSerial(new ListenerRemoved(Unicorn, h)).catch((e: unknown) => e)),
    ).toBe(true)
  })

  it('difference from emittery: the first handler starts synchronously inside emitSerial(); the next after it settles', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, async () => {
      calls.push(1)
      await tick()
    })
    bus.on(Unicorn, () => calls.push(2))
    const promise = bus.emitSerial(new Unicorn())
    expect(calls).toEqual([1])
    await promise
    expect(calls).toEqual([1, 2])
  })

  it('a handler added after emitSerial() was called does not run for it', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, () => calls.push(1))
    const promise = bus.emitSerial(new Unicorn())
    bus.on(Unicorn, () => calls.push(2))
    await promise
    expect(calls).toEqual([1])
  })

  it('a handler removed by an earlier handler of the same serial emit is skipped', async () => {
    const bus = newBus()
    const calls: number[] = []
    let offLater = (): void => undefined
    bus.on(Unicorn, async () => {
      calls.push(7)
      await tick()
      offLater()
    })
    offLater = bus.on(Unicorn, () => calls.push(8))
    bus.onAny(() => calls.push(9))
    await bus.emitSerial(new Unicorn())
    expect(calls).toEqual([7, 9])
  })

  it('handlers added during a serial emit (with on or onAny) run from the next one on', async () => {
    const bus = newBus()
    const calls: string[] = []
    const off = bus.on(Unicorn, () => {
      calls.push('adder')
      bus.on(Unicorn, () => calls.push('added'))
      bus.onAny(() => calls.push('addedAny'))
    })
    await bus.emitSerial(new Unicorn())
    off()
    await bus.emitSerial(new Unicorn())
    expect(calls).toEqual(['adder', 'added', 'addedAny'])
  })

  it('clear() during a serial emit skips the handlers that had not started yet', async () => {
    const bus = newBus()
    const calls: number[] = []
    bus.on(Unicorn, async () => {
      calls.push(1)
      await tick()
    })
    bus.on(Unicorn, () => calls.push(2))
    bus.onAny(() => calls.push(3))
    const promise = bus.emitSerial(new Unicorn())
    bus.clear()
    await promise
    expect(calls).toEqual([1])
  })

  it('resolves with an EmitResult counting the handlers that ran', async () => {
    const bus = newBus()
    bus.on(Unicorn, () => undefined)
    bus.onAny(async () => undefined)
    await expect(bus.emitSerial(new Unicorn())).resolves.toMatchObject({ handled: 2, errors: [] })
  })
})
