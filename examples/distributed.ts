/**
 * The event bus across instances: two buses (standing in for two processes) bridged over Redis
 * Streams (or NATS JetStream with TRIBUTARY_TRANSPORT=nats). `OrderPlaced` goes to the
 * `billing` group (one bus of the group handles each event); `CacheCleared` is broadcast
 * (every bus handles each one). A handler that fails is redelivered with backoff and, after
 * `maxDeliveries`, lands in the dead letters with its last error; an idempotent handler does
 * its side effect once however often the event comes back. For the query store's shared cache
 * (a Redis L2 and an invalidation bus), see examples/distributed-cache.ts.
 * Needs Redis at TRIBUTARY_REDIS_URL (default redis://127.0.0.1:6379), or NATS with JetStream at
 * TRIBUTARY_NATS_URL (default 127.0.0.1:4222); without it, says so and exits 0.
 * Run: npx ts-node --transpile-only examples/distributed.ts
 *      TRIBUTARY_TRANSPORT=nats npx ts-node --transpile-only examples/distributed.ts
 */
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import {
  AsyncEventBus,
  deliveryOf,
  idempotent,
  natsSeenSet,
  natsTransport,
  redisSeenSet,
  redisStreamsTransport,
  type SeenSet,
  type Transport,
} from '../src'

class OrderPlaced {
  constructor(
    readonly orderId: number,
    readonly total: number,
  ) {}
}

class CacheCleared {
  constructor(readonly key: string) {}
}

const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.TRIBUTARY_NATS_URL ?? '127.0.0.1:4222'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The engine's transport and seen-set, a way to publish a payload that does not decode, and a cleanup. */
interface Engine {
  transport: Transport
  seen: SeenSet
  publishUndecodable(id: string): Promise<unknown>
  cleanup(): Promise<void>
}

async function redisEngine(prefix: string): Promise<Engine | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
  } catch {
    console.log(
      `Redis is not reachable at ${redisUrl}; start it (redis-server --port 6379) to run this example.`,
    )
    redis.disconnect()
    return undefined
  }
  return {
    transport: redisStreamsTransport(redis, { prefix, block: 200 }),
    seen: redisSeenSet(redis, { prefix: `${prefix}:seen:` }),
    // What an older publisher could have written: a stream entry whose payload is not JSON.
    publishUndecodable: (id) =>
      redis.xadd(`${prefix}:events:OrderPlaced`, '*', 'id', id, 'name', 'OrderPlaced', 'v', '1', 'data', '['),
    async cleanup() {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    },
  }
}

async function natsEngine(prefix: string): Promise<Engine | undefined> {
  let nc: Awaited<ReturnType<typeof connect>>
  try {
    nc = await connect({ servers: natsUrl, timeout: 1_000, reconnect: false })
  } catch {
    console.log(
      `NATS is not reachable at ${natsUrl}; start it (nats-server -js) to run this example on NATS.`,
    )
    return undefined
  }
  const stream = prefix.toUpperCase()
  return {
    transport: natsTransport(nc, { stream, prefix }),
    seen: natsSeenSet(nc, { stream: `${stream}_SEEN`, prefix: `${prefix}.seen` }),
    // The subject names the event and its version; the payload is not JSON.
    publishUndecodable: (id) => jetstream(nc).publish(`${prefix}.events.OrderPlaced.v1`, '[', { msgID: id }),
    async cleanup() {
      const jsm = await jetstreamManager(nc)
      for (const name of [stream, `${stream}_SEEN`]) await jsm.streams.delete(name).catch(() => undefined)
      await nc.close()
    },
  }
}

async function main(): Promise<void> {
  const prefix = `example-bus-${process.pid}`
  const engine = await (process.env.TRIBUTARY_TRANSPORT === 'nats' ? natsEngine(prefix) : redisEngine(prefix))
  if (engine === undefined) return
  const { transport, seen } = engine

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
  await engine.publishUndecodable('bad-1')
  await sleep(300)
  const [letter] = await transport.deadLetters()
  console.log(`dead letter: ${letter?.id} ${letter?.errorName}: ${letter?.errorMessage}`)

  await Promise.all(buses.map((bus) => bus.close()))
  await engine.cleanup()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
