import Consul from 'consul'
import { Component, consulSource, isComponentError, watch, type ConsulClientLike } from 'tributary'
import { startConsulDouble, type ConsulDouble } from '../../support/consul-double'
import { lastIs, logUpdates, sleep } from './live-log'
import { startToggleProxy, type ToggleProxy } from './toggle-proxy'

describe('watch() on Consul (the double, through the real consul client)', () => {
  let double: ConsulDouble
  let proxy: ToggleProxy
  let client: ConsulClientLike
  beforeEach(async () => {
    double = await startConsulDouble()
    proxy = await startToggleProxy(double.port)
    client = new Consul({ host: '127.0.0.1', port: proxy.port }) as unknown as ConsulClientLike
  })
  afterEach(async () => {
    client.destroy?.()
    await proxy.close()
    await double.close()
  })

  const consul = () => consulSource({ client })
  const reads = (key: string) => double.requests.filter((r) => r.startsWith(`GET /v1/kv/${key}`))
  const backoff = { initialDelay: 20, maxDelay: 200 }

  it('a change, an unchanged write, a deletion with fallback and a return', async () => {
    class KvConfig {
      @Component({ fetchFrom: 'consul', key: 'app/port', fallback: 80, pollInterval: 5_000 }) port!: number
      @Component({ fetchFrom: 'consul', key: 'app/limits', pollInterval: 5_000 }) limits!: { rps: number }
    }
    double.set('app/port', '8080')
    double.set('app/limits', '{"rps":5}')
    const live = await watch(KvConfig, { sources: [consul()], backoff })
    const log = logUpdates(live)
    try {
      double.set('app/port', '9090')
      await log.until(lastIs('updated port 8080→9090'))
      double.set('app/port', '9090')
      double.set('app/limits', '{ "rps": 5 }')
      await sleep(300)
      expect(log.lines()).toEqual(['updated port 8080→9090'])
      double.delete('app/port')
      await log.until(lastIs('removed port 9090→80'))
      expect(live.current.port).toBe(80)
      double.set('app/port', '7070')
      await log.until(lastIs('updated port 80→7070'))
      double.set('app/limits', '{"rps":50}')
      await log.until(lastIs('updated limits {"rps":5}→{"rps":50}'))
    } finally {
      await live.stop()
    }
    expect(
      reads('app/port')
        .filter((r) => r.includes('index='))
        .every((r) => /wait=5000ms/.test(r)),
    ).toBe(true)
  })

  it('a source outage is one error update; on recovery the current value is applied', async () => {
    class Outage {
      @Component({ fetchFrom: 'consul', key: 'svc/mode', pollInterval: 2_000 }) mode!: string
    }
    double.set('svc/mode', 'blue')
    const live = await watch(Outage, { sources: [consul()], backoff })
    const log = logUpdates(live)
    try {
      await sleep(150) // the first (non-blocking) read is done; a blocking read is held
      await proxy.down()
      await log.until((u) => u.some((x) => x.kind === 'error'))
      double.set('svc/mode', 'green')
      await sleep(600) // several capped-backoff retries fail meanwhile
      expect(live.current.mode).toBe('blue')
      await proxy.up()
      await log.until(lastIs('updated mode "blue"→"green"'), 15_000)
    } finally {
      await live.stop()
    }
    expect(log.lines()).toEqual(['error mode', 'updated mode "blue"→"green"'])
    const error = log.updates[0]?.kind === 'error' ? log.updates[0].error : undefined
    expect(isComponentError(error)).toBe(true)
    expect((error as Error).message).toMatch(/^Outage\.mode \(source "consul", key "svc\/mode"\)/)
  })

  it('a flood of 1,000 writes to one key: debounce and throttle bound the updates', async () => {
    class Flood {
      @Component({ fetchFrom: 'consul', key: 'flood/n', debounce: 300, pollInterval: 5_000 })
      debounced!: number
      @Component({ fetchFrom: 'consul', key: 'flood/n', throttle: 1_000, pollInterval: 5_000 })
      throttled!: number
    }
    double.set('flood/n', '0')
    const live = await watch(Flood, { sources: [consul()], backoff })
    const log = logUpdates(live)
    try {
      await sleep(150)
      const started = Date.now()
      for (let i = 1; i <= 1_000; i++) {
        double.set('flood/n', String(i))
        if (i % 100 === 0) await sleep(20)
      }
      const elapsed = Date.now() - started
      await log.until(() => live.current.debounced === 1_000 && live.current.throttled === 1_000, 15_000)
      const of = (property: string) => log.updates.filter((u) => u.property === property)
      expect(of('debounced').length).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1)
      expect(of('throttled').length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1_000) + 2)
      expect(log.updates.every((u) => u.kind === 'updated')).toBe(true)
    } finally {
      await live.stop()
    }
  })

  it('stop() while a blocking read is held resolves, and nothing is read or applied after it', async () => {
    class Held {
      @Component({ fetchFrom: 'consul', key: 'held/k', pollInterval: 60_000 }) value!: string
    }
    double.set('held/k', 'a')
    const live = await watch(Held, { sources: [consul()] })
    const log = logUpdates(live)
    await sleep(200)
    expect(reads('held/k').some((r) => /index=\d+&wait=60000ms/.test(r))).toBe(true)
    await live.stop()
    const count = double.requests.length
    double.set('held/k', 'b')
    await sleep(300)
    expect(double.requests).toHaveLength(count)
    expect(log.updates).toEqual([])
    expect(live.current.value).toBe('a')
  })
})
