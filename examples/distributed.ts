/**
 * The event bus across instances: two buses (standing in for two processes) bridged over Redis
 * Streams. `OrderPlaced` goes to the `billing` group (one bus of the group handles each event);
 * `CacheCleared` is broadcast (every bus handles each one). A handler that fails is redelivered
 * with backoff and, after `maxDeliveries`, lands in the dead letters with its last error; an
 * idempotent handler does its side effect once however often the event comes back.
 * For the query store's shared cache (a Redis L2 and an invalidation bus), see
 * examples/distributed-cache.ts; for NATS JetStream, pass `natsTransport(connection)` instead.
 * Needs Redis at TRIBUTARY_REDIS_URL (default redis://127.0.0.1:6379); without it, says so and exits 0.
 * Run: npx ts-node --transpile-only examples/distributed.ts
 */
import Redis from 'ioredis'
import { AsyncEventBus, deliveryOf, idempotent, redisSeenSet, redisStreamsTransport } from '../src'

class OrderPlaced {
  constructor(
    readonly orderId: number,
    readonly total: number,
  ) {}
}

class CacheCleared {
  constructor(readonly key: string) {}
}

const url = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function main(): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await probe.connect()
  } catch {
    console.log(`Redis is not reachable at ${url}; start it (redis-server --port 6379) to run this example.`)
    probe.disconnect()
    return
  }
  probe.disconnect()
  const prefix = `example-bus-${process.pid}`
  const redis = new Redis(url)
  const transport = redisStreamsTransport(redis, { prefix, block: 200 })
  const seen = redisSeenSet(redis, { prefix: `${prefix}:seen:` })

  const charged: string[] = []
  let receiptFailures = 0
  const buses = ['a', 'b'].map((instance) => {
    const bus = new AsyncEventBus()
    // Idempotent: the charge is made once per order even when the event is redelivered.
    bus.on(
      OrderPlaced,
      idempotent(
        async (order: OrderPlaced) => {
          charged.push(`${instance} charged order ${order.orderId}`)
        },
        { seen, name: 'charge' },
      ),
    )
    bus.on(OrderPlaced, async (order) => {
      // Fails on its first delivery: the event is redelivered after the backoff (the charge is not repeated).
      if (order.orderId === 2 && receiptFailures++ === 0) throw new Error('mail server busy')
      console.log(
        `[${instance}] receipt for order ${order.orderId} (delivery ${deliveryOf(order)?.deliveries})`,
      )
    })
    bus.on(CacheCleared, (e) => console.log(`[${instance}] dropped cache key ${e.key}`))
    return bus
  })

  for (const bus of buses) {
    await bus.bridge(transport, {
      events: [OrderPlaced],
      group: 'billing',
      maxDeliveries: 3,
      backoff: { initialDelay: 100, jitter: 'none' },
    })
    await bus.bridge(transport, { events: [CacheCleared] }) // no group: broadcast
  }

  const [a, b] = buses as [AsyncEventBus, AsyncEventBus]
  for (let id = 1; id <= 4; id++) await (id % 2 ? a : b).emit(new OrderPlaced(id, 10 * id))
  await a.emit(new CacheCleared('user:1'))
  await sleep(600)
  console.log(`${charged.length} charges for 4 orders (each by one bus of the group):`)
  for (const line of charged) console.log(`  ${line}`)

  // A payload that no longer decodes goes to the dead letters with a typed error.
  await redis.xadd(
    `${prefix}:events:OrderPlaced`,
    '*',
    'id',
    'bad-1',
    'name',
    'OrderPlaced',
    'v',
    '1',
    'data',
    '[',
  )
  await sleep(300)
  const [letter] = await transport.deadLetters()
  console.log(`dead letter: ${letter?.id} ${letter?.errorName}: ${letter?.errorMessage}`)

  await Promise.all(buses.map((bus) => bus.close()))
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
