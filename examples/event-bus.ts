/**
 * The event bus: class-keyed events, awaited emits that lose no error, fallible handlers,
 * per-handler concurrency, timeout, retry and rate limit, per-key ordering (partitionBy), dead
 * letters, several classes per call, meta events, once(), an events() iterator, fire and forget
 * with onError, and close(). Run: npx ts-node --transpile-only examples/event-bus.ts
 * (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
 */
import {
  AsyncEventBus,
  AsyncMetrics,
  ListenerAdded,
  isAsyncTimeoutError,
  isEmitError,
  isHandlerError,
} from '../src'

class DomainEvent {
  readonly at = new Date()
}
class UserCreated extends DomainEvent {
  constructor(
    readonly id: number,
    readonly email: string,
  ) {
    super()
  }
}
class OrderPlaced extends DomainEvent {
  constructor(readonly total: number) {
    super()
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })

async function main(): Promise<void> {
  const bus = new AsyncEventBus()
  // Meta events: the bus says when a handler is added (or removed).
  const listening: string[] = []
  bus.on(ListenerAdded, ({ eventClass }) => void listening.push(eventClass?.name ?? 'any'))

  // Handlers are typed from the class: `e` is a UserCreated.
  let active = 0
  let peak = 0
  bus.on(
    UserCreated,
    async function sendWelcome(e, { signal }) {
      active++
      peak = Math.max(peak, active)
      await sleep(10, signal) // pass the signal on: it aborts at the timeout
      active--
      if (e.email.endsWith('@bounce.test')) throw new Error(`mailbox ${e.email} does not exist`)
    },
    { concurrency: 2, timeout: 1_000, retry: { attempts: 1, initialDelay: 10 } },
  )
  bus.onFallible(UserCreated, async function warmCache() {
    throw new Error('cache is cold') // collected in EmitResult.errors; emit still resolves
  })
  // inherited: true also hears subclasses of DomainEvent.
  const audit: string[] = []
  bus.on(DomainEvent, (e) => void audit.push(e.constructor.name), { inherited: true })

  const result = await bus.emit(new UserCreated(1, 'ada@example.com'))
  console.log(
    'handled:',
    result.handled,
    'fallible errors:',
    result.errors.map((e) => e.message),
  )

  // Five at once: at most two sendWelcome calls run together; the rest queue.
  await Promise.all([2, 3, 4, 5, 6].map((id) => bus.emit(new UserCreated(id, `u${id}@example.com`))))
  console.log('sendWelcome peak concurrency:', peak)

  // A failing handler: every handler still runs; emit rejects once, after all settled.
  // The rejection is an EmitError (an AggregateError) that also carries the fallible failures.
  const failed = await bus.emit(new UserCreated(7, 'x@bounce.test')).catch((e: unknown) => e)
  if (isEmitError(failed)) {
    console.log(failed.message, '→', (failed.errors[0]?.cause as Error).message)
    console.log(
      '  and fallible:',
      failed.result.errors.map((e) => e.handlerName),
    )
  }

  // A timeout aborts the handler's signal and fails the invocation with an AsyncTimeoutError.
  bus.onFallible(OrderPlaced, (_e, { signal }) => sleep(5_000, signal), { timeout: 50, name: 'slowLedger' })
  const timed = await bus.emit(new OrderPlaced(10))
  console.log('timed out:', isAsyncTimeoutError(timed.errors[0]?.cause), timed.errors[0]?.message)

  // A rate limit: at most 2 per second; over it, 'drop' skips (counted in `dropped`).
  bus.on(OrderPlaced, () => undefined, { rateLimit: { max: 2, windowMs: 1_000, onLimit: 'drop' } })
  const dropped = (await bus.emitBatchSequential([1, 2, 3].map((n) => new OrderPlaced(n)))).map((o) =>
    o.status === 'fulfilled' ? o.result.dropped : -1,
  )
  console.log('dropped per emit:', dropped)

  // partitionBy: events of one customer are handled one at a time, in order; customers in parallel.
  class PaymentCaptured {
    constructor(
      readonly customer: string,
      readonly seq: number,
    ) {}
  }
  const ledger: string[] = []
  bus.on(
    PaymentCaptured,
    async (e) => {
      await sleep(e.seq === 1 ? 20 : 1) // the first is slow; the second of that customer still waits for it
      ledger.push(`${e.customer}${e.seq}`)
    },
    { partitionBy: (e) => e.customer, concurrency: 4 },
  )
  await Promise.all(
    [new PaymentCaptured('a', 1), new PaymentCaptured('b', 1), new PaymentCaptured('a', 2)].map((e) =>
      bus.emit(e),
    ),
  )
  console.log('per-customer order:', ledger)

  // Dead letters: when a handler's retries are exhausted, the event and last error land here too.
  bus.onDeadLetter((letter) =>
    console.log('dead letter:', letter.handlerName, 'after', letter.attempts, 'attempts'),
  )
  class RefundRequested {}
  bus.onFallible(
    RefundRequested,
    function refund() {
      throw new Error('gateway down')
    },
    { retry: { attempts: 2, initialDelay: 5 } },
  )
  await bus.emit(new RefundRequested())

  // init(): open a feed only while someone listens to PriceChanged.
  class PriceChanged {
    constructor(readonly price: number) {}
  }
  bus.init(PriceChanged, () => {
    console.log('price feed: open')
    return () => console.log('price feed: closed')
  })
  const offPrices = bus.on(PriceChanged, () => undefined)
  offPrices()

  // Several classes in one call: one registration, one unsubscribe.
  const offBoth = bus.on([UserCreated, OrderPlaced], (e) => void audit.push(`both:${e.constructor.name}`))
  await bus.emit(new OrderPlaced(1))
  offBoth()

  // once(): the next matching event, with a timeout.
  const big = bus.once(OrderPlaced, { filter: (e) => e.total > 100, timeout: 1_000 })
  bus.emitAndForget(new OrderPlaced(500))
  console.log('once:', (await big).total)

  // events(): an async iterator with a bounded buffer.
  const controller = new AbortController()
  const seen: number[] = []
  const consumer = (async () => {
    for await (const order of bus.events(OrderPlaced, { signal: controller.signal, bufferSize: 100 })) {
      seen.push(order.total)
      if (seen.length === 3) controller.abort()
    }
  })()
  for (const total of [1, 2, 3]) bus.emitAndForget(new OrderPlaced(total))
  await consumer
  console.log('iterated:', seen)

  // emitAndForget never throws or rejects; failures go to onError and AsyncMetrics.
  bus.onError((error) => console.log('onError:', isHandlerError(error) ? error.message : error))
  bus.emitAndForget(new UserCreated(8, 'y@bounce.test'))

  // close() stops new emits and waits for the ones in flight (at most 10 s by default).
  console.log('close:', await bus.close({ timeout: 2_000 }))
  console.log('handlers added:', listening.join(', '))
  console.log(
    'audited:',
    audit.length,
    'events;',
    'emit(UserCreated) calls:',
    AsyncMetrics.snapshot().operations['emit(UserCreated)']?.total,
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
