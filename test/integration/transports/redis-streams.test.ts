import Redis from 'ioredis'
import { AsyncEventBus } from '../../../src/events/event-bus'
import { deliveryOf } from '../../../src/events/bridge'
import { AsyncMetrics } from '../../../src/core/metrics'
import { redisStreamsTransport } from '../../../src/transports/redis-streams/redis-streams-transport'
import { idempotent, redisSeenSet } from '../../../src/transports/idempotency'
import { isEventDecodeError } from '../../../src/transports/errors'
import type { BridgeDeadLetter } from '../../../src/events/bridge'
import { describeWithRedis, redisUrl } from '../../support/services'
import { uniqueName } from '../../support/database'
import { remoteHandlerOptionCases } from './remote-handler-options'

class UserCreated {
  constructor(readonly id: number) {}
}

describeWithRedis('redis streams transport', () => {
  let client: Redis
  let prefix: string
  const buses: AsyncEventBus[] = []

  beforeEach(async () => {
    client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await client.connect()
    prefix = uniqueName('rst')
  })
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()))
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
    await client.quit()
  })

  const newBus = (): AsyncEventBus => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    buses.push(bus)
    return bus
  }
  const until = async (check: () => boolean | Promise<boolean>): Promise<void> => {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  it('broadcast: every bus handles each event, the emitter included, once', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const seen: number[][] = [[], [], []]
    for (const list of seen) {
      const bus = newBus()
      bus.on(UserCreated, (e) => void list.push(e.id))
      await bus.bridge(transport, { events: [UserCreated] })
    }
    const result = await buses[0]!.emit(new UserCreated(1))
    expect(result.handled).toBe(0)
    await buses[1]!.emit(new UserCreated(2))
    await until(() => seen.every((list) => list.length === 2))
    for (const list of seen) expect(list.sort()).toEqual([1, 2])
  })

  it('group: one bus of the group handles each event', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const seen: number[] = []
    const perBus = [0, 0, 0]
    for (let i = 0; i < 3; i++) {
      const bus = newBus()
      bus.on(UserCreated, async (e) => {
        perBus[i]!++
        seen.push(e.id)
      })
      await bus.bridge(transport, { events: [UserCreated], group: 'mailer', prefetch: 2 })
    }
    for (let n = 0; n < 30; n++) await buses[n % 3]!.emit(new UserCreated(n))
    await until(() => seen.length >= 30)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n))
  })

  it('a failing handler is redelivered with backoff, then dead-lettered with its last error', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const bus = newBus()
    const attempts: number[] = []
    bus.on(UserCreated, (e) => {
      attempts.push(deliveryOf(e)!.deliveries)
      throw new Error(`boom ${attempts.length}`)
    })
    const letters: BridgeDeadLetter[] = []
    const bridge = await bus.bridge(transport, {
      events: [UserCreated],
      group: 'g',
      maxDeliveries: 3,
      backoff: { initialDelay: 10, maxDelay: 20, jitter: 'none' },
    })
    bridge.onDeadLetter((letter) => letters.push(letter))
    await bus.emit(new UserCreated(7))
    await until(() => letters.length === 1)
    expect(attempts).toEqual([1, 2, 3])
    const [stored] = await transport.deadLetters()
    expect(stored).toMatchObject({ name: 'UserCreated', deliveries: 3, errorName: 'EmitError' })
    expect(stored!.errorMessage).toContain('boom 3')
    expect(JSON.parse(stored!.data)).toEqual({ id: 7 })
  })

  it('an unknown event name or a bad payload goes to dead letters with a typed error; the consumer goes on', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const bus = newBus()
    const handled: number[] = []
    bus.on(UserCreated, (e) => void handled.push(e.id))
    const letters: BridgeDeadLetter[] = []
    const bridge = await bus.bridge(transport, { events: [UserCreated], group: 'g' })
    bridge.onDeadLetter((letter) => letters.push(letter))
    const stream = `${prefix}:events:UserCreated`
    await client.xadd(stream, '*', 'id', 'a', 'name', 'Ghost', 'v', '1', 'data', '{}')
    await client.xadd(stream, '*', 'id', 'b', 'name', 'UserCreated', 'v', '1', 'data', 'not json')
    await client.xadd(stream, '*', 'id', 'c', 'name', 'UserCreated', 'v', '9', 'data', '{}')
    await client.xadd(stream, '*', 'id', 'd', 'name', 'UserCreated', 'data', '{"id":4}') // no version
    await bus.emit(new UserCreated(3))
    await until(() => handled.length === 1 && letters.length === 4)
    expect(handled).toEqual([3])
    expect(letters.map((l) => [l.id, isEventDecodeError(l.error) && l.error.problem])).toEqual([
      ['a', 'unknown-event'],
      ['b', 'bad-payload'],
      ['c', 'unknown-version'],
      ['d', 'unknown-version'],
    ])
    // A message without a version reads back as NaN (not 0).
    expect((await transport.deadLetters()).map((l) => [l.id, l.version, l.errorName])).toEqual([
      ['a', 1, 'EventDecodeError'],
      ['b', 1, 'EventDecodeError'],
      ['c', 9, 'EventDecodeError'],
      ['d', Number.NaN, 'EventDecodeError'],
    ])
  })

  it('idempotent handlers do not repeat a side effect when another handler fails and the event is redelivered', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const bus = newBus()
    const seen = redisSeenSet(client, { prefix: `${prefix}:seen:` })
    let effects = 0
    let flaky = 0
    bus.on(
      UserCreated,
      idempotent(async () => void effects++, { seen, name: 'effect' }),
    )
    bus.on(UserCreated, () => {
      if (++flaky < 3) throw new Error('not yet')
    })
    await bus.bridge(transport, {
      events: [UserCreated],
      group: 'g',
      backoff: { initialDelay: 10, jitter: 'none' },
    })
    await bus.emit(new UserCreated(1))
    await until(() => flaky === 3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(effects).toBe(1)
  })

  remoteHandlerOptionCases({
    transport: () => redisStreamsTransport(client, { prefix, block: 100 }),
    bus: newBus,
  })

  it('handler options apply to remote deliveries (concurrency)', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const bus = newBus()
    let active = 0
    let peak = 0
    let done = 0
    bus.on(
      UserCreated,
      async () => {
        peak = Math.max(peak, ++active)
        await new Promise((resolve) => setTimeout(resolve, 10))
        active--
        done++
      },
      { concurrency: 2 },
    )
    await bus.bridge(transport, { events: [UserCreated], group: 'g', prefetch: 20 })
    await Promise.all(Array.from({ length: 10 }, (_, n) => bus.emit(new UserCreated(n))))
    await until(() => done === 10)
    expect(peak).toBe(2)
  })

  it('a message left unacknowledged by a dead consumer is claimed by another after ackWait', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const stream = `${prefix}:events:UserCreated`
    await client.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM')
    await client.xadd(stream, '*', 'id', 'x', 'name', 'UserCreated', 'v', '1', 'data', '{"id":5}')
    await client.xreadgroup('GROUP', 'g', 'dead-consumer', 'COUNT', 1, 'STREAMS', stream, '>')
    const bus = newBus()
    const got: Array<[number, number]> = []
    bus.on(UserCreated, (e) => void got.push([e.id, deliveryOf(e)!.deliveries]))
    await bus.bridge(transport, { events: [UserCreated], group: 'g', ackWait: 100 })
    await until(() => got.length === 1)
    expect(got).toEqual([[5, 2]])
  })

  it('close() of a broadcast bridge removes its consumer group; emits are local again', async () => {
    const transport = redisStreamsTransport(client, { prefix, block: 100 })
    const bus = newBus()
    const handled: number[] = []
    bus.on(UserCreated, (e) => void handled.push(e.id))
    const bridge = await bus.bridge(transport, { events: [UserCreated] })
    const stream = `${prefix}:events:UserCreated`
    expect((await client.xinfo('GROUPS', stream)) as unknown[]).toHaveLength(1)
    await bridge.close()
    expect((await client.xinfo('GROUPS', stream)) as unknown[]).toHaveLength(0)
    const result = await bus.emit(new UserCreated(9))
    expect(result.handled).toBe(1)
    expect(handled).toEqual([9])
  })
})
