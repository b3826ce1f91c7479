// Beyond the emitter anchors: per-key ordering (`partitionBy`, as Kafka partitions and BullMQ
// groups order work per key) and dead letters (`onDeadLetter`, for invocations whose retries
// are exhausted).
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isHandlerError, type EmitError } from '../../../src/events/errors'
import { isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'
import type { DeadLetter } from '../../../src/events/types'

class OrderEvent {
  constructor(
    readonly customer: string,
    readonly seq: number,
  ) {}
}

const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics(), closeTimeout: 100 })

function gate(): { wait: Promise<void>; open(): void } {
  let open = (): void => undefined
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('partitionBy', () => {
  it('handles events of one key one at a time, in emit order', async () => {
    const bus = newBus()
    const running = new Map<string, number>()
    let overlap = false
    const log: string[] = []
    bus.on(
      OrderEvent,
      async (e) => {
        const now = (running.get(e.customer) ?? 0) + 1
        running.set(e.customer, now)
        if (now > 1) overlap = true
        await new Promise((resolve) => setTimeout(resolve, (5 - e.seq) % 3))
        log.push(`${e.customer}${e.seq}`)
        running.set(e.customer, now - 1)
      },
      { partitionBy: (e) => e.customer },
    )
    const emits = [1, 2, 3, 4].flatMap((seq) => [
      bus.emit(new OrderEvent('a', seq)),
      bus.emit(new OrderEvent('b', seq)),
    ])
    await Promise.all(emits)
    expect(overlap).toBe(false)
    expect(log.filter((x) => x.startsWith('a'))).toEqual(['a1', 'a2', 'a3', 'a4'])
    expect(log.filter((x) => x.startsWith('b'))).toEqual(['b1', 'b2', 'b3', 'b4'])
  })

  it('runs different keys concurrently, up to concurrency', async () => {
    const bus = newBus()
    const gates = new Map<string, ReturnType<typeof gate>>()
    let active = 0
    let peak = 0
    bus.on(
      OrderEvent,
      async (e) => {
        active++
        peak = Math.max(peak, active)
        const g = gate()
        gates.set(`${e.customer}${e.seq}`, g)
        await g.wait
        active--
      },
      { partitionBy: (e) => e.customer, concurrency: 2 },
    )
    const emits = ['a', 'b', 'c'].map((customer) => bus.emit(new OrderEvent(customer, 1)))
    const later = bus.emit(new OrderEvent('a', 2))
    await flush()
    expect([...gates.keys()].sort()).toEqual(['a1', 'b1'])
    gates.get('a1')?.open()
    await flush()
    // a2 waits for a1 (done) and then queues behind c1 for a slot: c1 gets the free slot first.
    expect([...gates.keys()].sort()).toEqual(['a1', 'b1', 'c1'])
    gates.get('b1')?.open()
    await flush()
    expect(gates.has('a2')).toBe(true)
    gates.get('c1')?.open()
    gates.get('a2')?.open()
    await Promise.all([...emits, later])
    expect(peak).toBe(2)
  })

  it('keeps a key in order across retries: the next event waits for the retried one', async () => {
    jest.useFakeTimers()
    try {
      const bus = newBus()
      const log: string[] = []
      let failOnce = true
      bus.on(
        OrderEvent,
        (e) => {
          log.push(`start ${e.seq}`)
          if (e.seq === 1 && failOnce) {
            failOnce = false
            throw new Error('transient')
          }
        },
        { partitionBy: (e) => e.customer, retry: { attempts: 2, initialDelay: 100, jitter: 'none' } },
      )
      const first = bus.emit(new OrderEvent('a', 1))
      const second = bus.emit(new OrderEvent('a', 2))
      await jest.advanceTimersByTimeAsync(50)
      expect(log).toEqual(['start 1'])
      await jest.advanceTimersByTimeAsync(100)
      await Promise.all([first, second])
      expect(log).toEqual(['start 1', 'start 1', 'start 2'])
    } finally {
      jest.useRealTimers()
    }
  })

  it('a failure of one event does not block the key: the next one still runs', async () => {
    const bus = newBus()
    const ran: number[] = []
    bus.on(
      OrderEvent,
      (e) => {
        ran.push(e.seq)
        if (e.seq === 1) throw new Error('bad order')
      },
      { partitionBy: (e) => e.customer },
    )
    const [first, second] = await Promise.allSettled([
      bus.emit(new OrderEvent('a', 1)),
      bus.emit(new OrderEvent('a', 2)),
    ])
    expect(first?.status).toBe('rejected')
    expect(second?.status).toBe('fulfilled')
    expect(ran).toEqual([1, 2])
  })

  it('a partitionBy that throws fails that invocation as the handler failing', async () => {
    const bus = newBus()
    bus.on(OrderEvent, function keyed() {}, {
      partitionBy: () => {
        throw new Error('no key')
      },
    })
    const error = (await bus.emit(new OrderEvent('a', 1)).catch((e: unknown) => e)) as EmitError
    expect(error.errors.map((e) => [e.handlerName, (e.cause as Error).message])).toEqual([
      ['keyed', 'no key'],
    ])
  })

  it('forgets a key once its queue is empty (memory is bounded by the keys in flight)', async () => {
    const bus = newBus()
    let calls = 0
    bus.on(OrderEvent, () => void calls++, { partitionBy: (e) => e.customer })
    await Promise.all(Array.from({ length: 1_000 }, (_, i) => bus.emit(new OrderEvent(`c${i}`, 1))))
    expect(calls).toBe(1_000)
    // Same key again works after its lane was dropped.
    await bus.emit(new OrderEvent('c1', 2))
    expect(calls).toBe(1_001)
  })

  it('on close timeout, queued events of a key fail with the close timeout', async () => {
    const bus = newBus()
    bus.on(OrderEvent, () => new Promise(() => undefined), { partitionBy: (e) => e.customer })
    const stuck = bus.emit(new OrderEvent('a', 1)).catch((e: unknown) => e)
    const queued = bus.emit(new OrderEvent('a', 2)).catch((e: unknown) => e)
    expect(await bus.close({ timeout: 10 })).toMatchObject({ timedOut: true })
    const error = (await queued) as EmitError
    expect(isAsyncTimeoutError(error.errors[0]?.cause)).toBe(true)
    void stuck
  })
})

describe('onDeadLetter', () => {
  it('receives the event, the last error and the attempts once retries are exhausted, besides the normal path', async () => {
    jest.useFakeTimers()
    try {
      const bus = newBus()
      const letters: DeadLetter[] = []
      bus.onDeadLetter((letter) => letters.push(letter))
      let attempt = 0
      bus.on(
        OrderEvent,
        function charge() {
          attempt++
          throw new Error(`declined ${attempt}`)
        },
        { retry: { attempts: 2, initialDelay: 10, jitter: 'none' } },
      )
      const event = new OrderEvent('a', 1)
      const emitted = bus.emit(event).catch((e: unknown) => e)
      await jest.advanceTimersByTimeAsync(100)
      const error = (await emitted) as EmitError
      expect(isHandlerError(error.errors[0])).toBe(true)
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({ event, eventName: 'OrderEvent', handlerName: 'charge', attempts: 3 })
      expect((letters[0]?.error as Error).message).toBe('declined 3')
    } finally {
      jest.useRealTimers()
    }
  })

  it('is not called when a retry succeeds, nor for handlers without retry', async () => {
    const bus = newBus()
    const letters: DeadLetter[] = []
    bus.onDeadLetter((letter) => letters.push(letter))
    let calls = 0
    bus.on(
      OrderEvent,
      () => {
        if (calls++ === 0) throw new Error('once')
      },
      { retry: { attempts: 1, initialDelay: 0, jitter: 'none' } },
    )
    bus.onFallible(OrderEvent, () => {
      throw new Error('no retry')
    })
    await bus.emit(new OrderEvent('a', 1))
    expect(letters).toEqual([])
  })

  it('a retryIf that declines dead-letters at once; a faulty listener does not break the others', async () => {
    const bus = newBus()
    const letters: DeadLetter[] = []
    bus.onDeadLetter(() => {
      throw new Error('faulty listener')
    })
    bus.onDeadLetter((letter) => letters.push(letter))
    bus.onFallible(
      OrderEvent,
      () => {
        throw new Error('permanent')
      },
      { retry: { attempts: 5, retryIf: () => false } },
    )
    const result = await bus.emit(new OrderEvent('a', 1))
    expect(result.errors).toHaveLength(1)
    expect(letters.map((l) => l.attempts)).toEqual([1])
  })

  it('the unsubscribe function stops the listener', async () => {
    const bus = newBus()
    const letters: DeadLetter[] = []
    const off = bus.onDeadLetter((letter) => letters.push(letter))
    off()
    bus.onFallible(
      OrderEvent,
      () => {
        throw new Error('x')
      },
      { retry: 0 },
    )
    await bus.emit(new OrderEvent('a', 1))
    expect(letters).toEqual([])
  })
})
