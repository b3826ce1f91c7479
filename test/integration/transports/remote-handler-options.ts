/**
 * Cases both transports' suites run (inside their `describe`, with their own servers): handler
 * options keep their meaning for remote deliveries — `timeout` fails a delivery (redelivered
 * after the backoff), `retry` retries within one delivery, `partitionBy` keeps per-key order,
 * and `rateLimit` bounds the starts in any window.
 */
import type { AsyncEventBus } from '../../../src/events/event-bus'
import { deliveryOf } from '../../../src/events/bridge'
import type { Transport } from '../../../src/transports/transport'

/** The event the cases carry (its own class, so the wire name is the same on both engines). */
export class Ticket {
  constructor(
    readonly n: number,
    readonly key: string,
  ) {}
}

/** What a case needs: a fresh transport and a bus the suite closes after the case. */
export interface RemoteSetup {
  transport(): Transport
  bus(): AsyncEventBus
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (check: () => boolean): Promise<void> => {
  while (!check()) await sleep(10)
}

/** Registers the cases with `it` in the calling suite. */
export function remoteHandlerOptionCases(setup: RemoteSetup): void {
  /** `bus` bridged in group mode over a fresh transport, redelivering after 20 ms. */
  const bridged = async (bus: AsyncEventBus): Promise<void> => {
    await bus.bridge(setup.transport(), {
      events: [Ticket],
      group: 'g',
      prefetch: 16,
      backoff: { initialDelay: 20, jitter: 'none' },
    })
  }

  it('handler options apply to remote deliveries: a timed-out handler fails the delivery, which comes back', async () => {
    const bus = setup.bus()
    const runs: number[] = []
    bus.on(
      Ticket,
      async (t, { signal }) => {
        runs.push(deliveryOf(t)?.deliveries ?? 0)
        // The first delivery outlasts the timeout (and stops when its signal aborts).
        if (runs.length === 1) await new Promise((resolve) => signal.addEventListener('abort', resolve))
      },
      { timeout: 50 },
    )
    await bridged(bus)
    await bus.emit(new Ticket(1, 'a'))
    await until(() => runs.length === 2)
    await sleep(100) // a third delivery would show here
    expect(runs).toEqual([1, 2])
  })

  it('handler options apply to remote deliveries: retry retries within one delivery', async () => {
    const bus = setup.bus()
    const runs: number[] = []
    bus.on(
      Ticket,
      (t) => {
        runs.push(deliveryOf(t)?.deliveries ?? 0)
        if (runs.length < 3) throw new Error('not yet')
      },
      { retry: { attempts: 3, initialDelay: 1, jitter: 'none' } },
    )
    await bridged(bus)
    await bus.emit(new Ticket(1, 'a'))
    await until(() => runs.length === 3)
    await sleep(100) // a redelivery would run the handler again
    expect(runs).toEqual([1, 1, 1])
  })

  it('handler options apply to remote deliveries: partitionBy keeps per-key order, one at a time per key', async () => {
    const bus = setup.bus()
    const order = new Map<string, number[]>()
    const active = new Map<string, number>()
    let overlapWithinKey = false
    let peak = 0
    let running = 0
    bus.on(
      Ticket,
      async (t) => {
        const now = (active.get(t.key) ?? 0) + 1
        active.set(t.key, now)
        if (now > 1) overlapWithinKey = true
        peak = Math.max(peak, ++running)
        await sleep(5)
        running--
        active.set(t.key, now - 1)
        order.set(t.key, [...(order.get(t.key) ?? []), t.n])
      },
      { partitionBy: (t) => t.key, concurrency: 4 },
    )
    await bridged(bus)
    for (let n = 0; n < 12; n++) await bus.emit(new Ticket(n, ['a', 'b', 'c'][n % 3] as string))
    await until(() => [...order.values()].reduce((sum, list) => sum + list.length, 0) === 12)
    expect(Object.fromEntries(order)).toEqual({
      a: [0, 3, 6, 9],
      b: [1, 4, 7, 10],
      c: [2, 5, 8, 11],
    })
    expect(overlapWithinKey).toBe(false)
    expect(peak).toBeGreaterThan(1) // different keys did run at once
  })

  it('handler options apply to remote deliveries: rateLimit bounds the starts in any window', async () => {
    const bus = setup.bus()
    const starts: number[] = []
    bus.on(Ticket, () => void starts.push(performance.now()), {
      rateLimit: { max: 2, windowMs: 100 },
    })
    await bridged(bus)
    await Promise.all(Array.from({ length: 6 }, (_, n) => bus.emit(new Ticket(n, 'a'))))
    await until(() => starts.length === 6)
    // Queued, not dropped: all six ran, and no three of them started within one window (the
    // limiter counts whole milliseconds of Date.now(), and a timer may fire a millisecond early).
    for (let i = 2; i < starts.length; i++)
      expect((starts[i] as number) - (starts[i - 2] as number)).toBeGreaterThanOrEqual(97)
  })
}
