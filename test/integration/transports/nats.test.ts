import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, AckPolicy, type JetStreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import { AsyncEventBus } from '../../../src/events/event-bus'
import { deliveryOf } from '../../../src/events/bridge'
import { AsyncMetrics } from '../../../src/core/metrics'
import { natsConsumerName, natsTransport } from '../../../src/transports/nats/nats-transport'
import { natsSeenSet } from '../../../src/transports/nats/nats-seen-set'
import { idempotent, redisSeenSet } from '../../../src/transports/idempotency'
import { isEventDecodeError } from '../../../src/transports/errors'
import type { BridgeDeadLetter } from '../../../src/events/bridge'
import type { Transport } from '../../../src/transports/transport'
import { describeWithNats, itWithRedis, natsUrl, redisUrl } from '../../support/services'
import { uniqueName } from '../../support/database'
import { remoteHandlerOptionCases } from './remote-handler-options'

class UserCreated {
  constructor(readonly id: number) {}
}

describeWithNats('nats jetstream transport', () => {
  let nc: NatsConnection
  let jsm: JetStreamManager
  let stream: string
  let prefix: string
  const buses: AsyncEventBus[] = []

  beforeEach(async () => {
    nc = await connect({ servers: natsUrl })
    jsm = await jetstreamManager(nc)
    stream = uniqueName('nt').toUpperCase()
    prefix = stream.toLowerCase()
  })
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()))
    await jsm.streams.delete(stream).catch(() => undefined)
    await jsm.streams.delete(`${stream}_SEEN`).catch(() => undefined)
    await nc.close()
  })

  const newBus = (): AsyncEventBus => {
    const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
    buses.push(bus)
    return bus
  }
  const newTransport = (): Transport => natsTransport(nc, { stream, prefix, expires: 1_000 })
  const until = async (check: () => boolean | Promise<boolean>): Promise<void> => {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const consumerNames = async (): Promise<string[]> => {
    const names: string[] = []
    for await (const info of jsm.consumers.list(stream)) names.push(info.name)
    return names
  }
  /** A message on `<prefix>.events.<name>.<versionToken>`, as another publisher could send it. */
  const publishRaw = async (id: string, name: string, versionToken: string, data: string): Promise<void> => {
    await jetstream(nc).publish(`${prefix}.events.${name}.${versionToken}`, data, { msgID: id })
  }

  it('broadcast: every bus handles each event, the emitter included, once', async () => {
    const transport = newTransport()
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
    await new Promise((resolve) => setTimeout(resolve, 100))
    for (const list of seen) expect(list.sort()).toEqual([1, 2])
  })

  it('group: one bus of the group handles each event', async () => {
    const transport = newTransport()
    const seen: number[] = []
    for (let i = 0; i < 3; i++) {
      const bus = newBus()
      bus.on(UserCreated, async (e) => void seen.push(e.id))
      await bus.bridge(transport, { events: [UserCreated], group: 'mailer', prefetch: 2 })
    }
    expect(await consumerNames()).toEqual(['mailer_UserCreated'])
    for (let n = 0; n < 30; n++) await buses[n % 3]!.emit(new UserCreated(n))
    await until(() => seen.length >= 30)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n))
  })

  it('a failing handler is redelivered with backoff, then dead-lettered with its last error', async () => {
    const transport = newTransport()
    const bus = newBus()
    const attempts: Array<[number, number]> = []
    const start = Date.now()
    bus.on(UserCreated, (e) => {
      attempts.push([deliveryOf(e)!.deliveries, Date.now() - start])
      throw new Error(`boom ${attempts.length}`)
    })
    const letters: BridgeDeadLetter[] = []
    const bridge = await bus.bridge(transport, {
      events: [UserCreated],
      group: 'g',
      maxDeliveries: 3,
      backoff: { initialDelay: 100, maxDelay: 200, jitter: 'none' },
    })
    bridge.onDeadLetter((letter) => letters.push(letter))
    await bus.emit(new UserCreated(7))
    await until(() => letters.length === 1)
    expect(attempts.map(([n]) => n)).toEqual([1, 2, 3])
    // nak with delay: the redeliveries waited for the backoff (100 ms, then 200 ms)
    expect(attempts[1]![1] - attempts[0]![1]).toBeGreaterThanOrEqual(90)
    expect(attempts[2]![1] - attempts[1]![1]).toBeGreaterThanOrEqual(180)
    const [stored] = await transport.deadLetters()
    expect(stored).toMatchObject({ name: 'UserCreated', version: 1, deliveries: 3, errorName: 'EmitError' })
    expect(stored!.errorMessage).toContain('boom 3')
    expect(JSON.parse(stored!.data)).toEqual({ id: 7 })
  })

  it('a bad payload or version goes to dead letters with a typed error; an unknown name is not delivered; the consumer goes on', async () => {
    const transport = newTransport()
    const bus = newBus()
    const handled: number[] = []
    bus.on(UserCreated, (e) => void handled.push(e.id))
    const letters: BridgeDeadLetter[] = []
    const bridge = await bus.bridge(transport, { events: [UserCreated], group: 'g', prefetch: 1 })
    bridge.onDeadLetter((letter) => letters.push(letter))
    // The consumers filter by name: a name this bridge does not carry stays in the stream for another.
    await publishRaw('a', 'Ghost', 'v1', '{}')
    await publishRaw('b', 'UserCreated', 'v1', 'not json')
    await publishRaw('c', 'UserCreated', 'v9', '{}')
    await publishRaw('d', 'UserCreated', 'latest', '{"id":4}')
    await bus.emit(new UserCreated(3))
    await until(() => handled.length === 1 && letters.length === 3)
    expect(handled).toEqual([3])
    expect(
      letters.map((l) => [
        l.id,
        isEventDecodeError(l.error) && l.error.problem,
        l.error instanceof Error && l.error.message,
      ]),
    ).toEqual([
      ['b', 'bad-payload', expect.stringContaining('UserCreated')],
      ['c', 'unknown-version', expect.stringContaining('9')],
      ['d', 'unknown-version', expect.stringContaining('UserCreated')],
    ])
    // A message without a version reads back as NaN (not 0).
    expect(
      (await transport.deadLetters()).map((l) => [l.id, l.name, l.version, l.errorName, l.deliveries]),
    ).toEqual([
      ['b', 'UserCreated', 1, 'EventDecodeError', 1],
      ['c', 'UserCreated', 9, 'EventDecodeError', 1],
      ['d', 'UserCreated', Number.NaN, 'EventDecodeError', 1],
    ])
    const ghost = await jsm.streams.getMessage(stream, { last_by_subj: `${prefix}.events.Ghost.v1` })
    expect(ghost?.string()).toBe('{}')
  })

  itWithRedis(
    'idempotent handlers do not repeat a side effect when another handler fails and the event is redelivered',
    async () => {
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
      await redis.connect()
      try {
        const transport = newTransport()
        const bus = newBus()
        const seen = redisSeenSet(redis, { prefix: `${prefix}:seen:` })
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
      } finally {
        const keys = await redis.keys(`${prefix}:seen:*`)
        if (keys.length > 0) await redis.del(...keys)
        await redis.quit()
      }
    },
  )

  it('idempotent handlers with a JetStream seen-set (no Redis) do not repeat a side effect on redelivery', async () => {
    const transport = newTransport()
    const bus = newBus()
    const seen = natsSeenSet(nc, { stream: `${stream}_SEEN`, prefix: `${prefix}.seen` })
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

  it('the JetStream seen-set: claim, busy, release, done, and a lapsed lease taken over', async () => {
    const seen = natsSeenSet(nc, { stream: `${stream}_SEEN`, prefix: `${prefix}.seen` })
    expect(await seen.claim('k:1', 'a', 60_000)).toBe('claimed')
    expect(await seen.claim('k:1', 'b', 60_000)).toBe('busy')
    await seen.release('k:1', 'b') // not b's claim: no effect
    expect(await seen.claim('k:1', 'b', 60_000)).toBe('busy')
    await seen.release('k:1', 'a')
    expect(await seen.claim('k:1', 'b', 60_000)).toBe('claimed')
    await seen.complete('k:1', 'b', 60_000)
    expect(await seen.claim('k:1', 'c', 60_000)).toBe('done')
    expect(await seen.claim('k/2 with spaces', 'a', 1_000)).toBe('claimed') // its holder "dies"
    expect(await seen.claim('k/2 with spaces', 'b', 60_000)).toBe('busy')
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    expect(await seen.claim('k/2 with spaces', 'b', 60_000)).toBe('claimed')
  })

  remoteHandlerOptionCases({ transport: newTransport, bus: newBus })

  it('handler options apply to remote deliveries (concurrency)', async () => {
    const transport = newTransport()
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

  it('a message left unacknowledged by a dead consumer is redelivered to another after ackWait', async () => {
    const transport = newTransport()
    await transport.publish({ id: 'x', name: 'UserCreated', version: 1, data: '{"id":5}' }) // creates the stream
    const durable = natsConsumerName('g', 'UserCreated')
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${prefix}.events.UserCreated.*`,
      ack_wait: 300 * 1_000_000,
    })
    const taken = await jetstream(nc).consumers.get(stream, durable)
    const held = await taken.next({ expires: 1_000 }) // a consumer that takes it and dies
    expect(held?.info.deliveryCount).toBe(1)
    const bus = newBus()
    const got: Array<[number, number]> = []
    bus.on(UserCreated, (e) => void got.push([e.id, deliveryOf(e)!.deliveries]))
    await bus.bridge(transport, { events: [UserCreated], group: 'g', ackWait: 300 })
    await until(() => got.length === 1)
    expect(got).toEqual([[5, 2]])
  })

  it('close() of a broadcast bridge removes its durable consumer; emits are local again', async () => {
    const transport = newTransport()
    const bus = newBus()
    const handled: number[] = []
    bus.on(UserCreated, (e) => void handled.push(e.id))
    const bridge = await bus.bridge(transport, { events: [UserCreated], consumer: 'inst-1' })
    expect(await consumerNames()).toEqual([natsConsumerName('tributary', 'bc', 'inst-1', 'UserCreated')])
    await bridge.close()
    expect(await consumerNames()).toEqual([])
    const result = await bus.emit(new UserCreated(9))
    expect(result.handled).toBe(1)
    expect(handled).toEqual([9])
  })

  it('a publish is deduplicated by event id (Nats-Msg-Id) and the stream gets the transport subjects', async () => {
    const transport = newTransport()
    const message = { id: 'same', name: 'UserCreated', version: 1, data: '{"id":1}' }
    await transport.publish(message)
    await transport.publish(message)
    const info = await jsm.streams.info(stream)
    expect(info.state.messages).toBe(1)
    expect(info.config.subjects).toEqual([`${prefix}.events.>`, `${prefix}.dead`])
  })
})
