import { inspect } from 'node:util'
import Consul from 'consul'
import { consulSource, type ConsulClientLike } from '../../../src/sources/consul/consul-source'
import { watchConsul } from '../../../src/sources/consul/consul-watcher'
import { startConsulDouble, type ConsulDouble } from '../../support/consul-double'
import { isValue, recorder, request, sleep } from './recorder'
import { startToggleProxy, type ToggleProxy } from './toggle-proxy'

describe('consul watcher (Consul double, real consul client)', () => {
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

  // Read pacing has its own (fake-timer) tests in consul-pacing.test.ts; here a 20 ms churn
  // interval keeps it from slowing the protocol cases down.
  const start = (key: string, waitMs: number, field?: string, churnInterval = 20) => {
    const rec = recorder({ pollInterval: waitMs })
    const watcher = watchConsul(request(key, field === undefined ? {} : { field }), rec.options, {
      name: 'consul',
      client: () => client,
      churnInterval,
    })
    return { rec, watcher }
  }
  const reads = (key: string) => double.requests.filter((r) => r.startsWith(`GET /v1/kv/${key}`))

  it('uses blocking queries: a change, an unchanged write, a deletion and a return', async () => {
    double.set('app/port', '8080')
    const { rec, watcher } = start('app/port', 5_000)
    await rec.until(isValue('8080'))
    double.set('app/port', '9090')
    await rec.until(isValue('9090'))
    double.set('app/port', '9090')
    double.set('app/other', 'x')
    await sleep(250)
    expect(rec.values()).toEqual(['8080', '9090'])
    double.delete('app/port')
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    double.set('app/port', '7070')
    await rec.until(isValue('7070'))
    await watcher.stop()
    const blocking = reads('app/port').filter((r) => r.includes('index='))
    expect(blocking.length).toBeGreaterThan(0)
    expect(blocking.every((r) => /wait=5000ms/.test(r))).toBe(true)
    expect(reads('app/port')[0]).not.toMatch(/index=/)
  })

  it('an idle watcher makes one request per wait period', async () => {
    double.set('idle/key', 'v')
    // (A churn interval shorter than the wait keeps the read pacing out of this count.)
    const { rec, watcher } = start('idle/key', 300, undefined, 50)
    await rec.until(isValue('v'))
    await sleep(1_000)
    await watcher.stop()
    // first read + about one blocking read per 300 ms wait
    expect(reads('idle/key').length).toBeLessThanOrEqual(1 + 4)
    expect(reads('idle/key').length).toBeGreaterThanOrEqual(3)
  })

  it("each blocking read's timeout outlasts the wait, whatever the client's own timeout", async () => {
    double.set('slow/key', 'v')
    // A client whose default timeout (150 ms) is shorter than the 600 ms wait.
    client.destroy?.()
    // (papi reads `timeout` from the constructor options; consul's types leave it out.)
    const options = { host: '127.0.0.1', port: proxy.port, timeout: 150 }
    client = new Consul(options as ConstructorParameters<typeof Consul>[0]) as unknown as ConsulClientLike
    const { rec, watcher } = start('slow/key', 600)
    await rec.until(isValue('v'))
    while (reads('slow/key').filter((r) => r.includes('index=')).length < 3) await sleep(20)
    await watcher.stop()
    expect(rec.events.filter((e) => e.kind === 'error')).toEqual([])
  })

  it('1,000 writes to one key: a burst of 2 reads, then one per churn interval', async () => {
    double.set('flood/key', '0')
    const { rec, watcher } = start('flood/key', 5_000, undefined, 200)
    await rec.until(isValue('0'))
    const before = reads('flood/key').length
    const started = Date.now()
    for (let i = 1; i <= 1_000; i++) {
      double.set('flood/key', String(i))
      if (i % 100 === 0) await sleep(20)
    }
    await rec.until(isValue('1000'))
    const elapsed = Date.now() - started
    // the bucket: 2 at once, then one per 200 ms (plus the read that saw the last value)
    expect(reads('flood/key').length - before).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 200) + 2)
    await watcher.stop()
  })

  it('an outage is one error, backs off, and resumes with the current value', async () => {
    double.set('svc/url', 'a')
    const { rec, watcher } = start('svc/url', 5_000)
    await rec.until(isValue('a'))
    await proxy.down()
    await rec.until((events) => events.at(-1)?.kind === 'error')
    double.set('svc/url', 'b')
    await sleep(400)
    await proxy.up()
    await rec.until(isValue('b'))
    expect(rec.events.filter((e) => e.kind === 'error')).toHaveLength(1)
    const error = rec.events.find((e) => e.kind === 'error')
    expect(error?.kind === 'error' && (error.error as Error).name).toBe('SourceUnavailableError')
    await watcher.stop()
  })

  it('an index that goes backwards is reset (a fresh read, no tight loop)', async () => {
    double.set('reset/key', 'one')
    // Consul holds a read whose index is ahead of its own until the wait ends (then answers
    // with its lower index), so the wait is short here.
    const { rec, watcher } = start('reset/key', 1_000)
    await rec.until(isValue('one'))
    // A new Consul server (restored snapshot) on the same address: its index is lower.
    await proxy.down()
    await double.close()
    double = await startConsulDouble({ startIndex: 1 })
    double.set('reset/key', 'two')
    const fresh = await startToggleProxy(double.port)
    await proxy.close()
    proxy = fresh
    client.destroy?.()
    client = new Consul({ host: '127.0.0.1', port: proxy.port }) as unknown as ConsulClientLike
    await rec.until(isValue('two'), 4_000)
    await sleep(300)
    expect(double.requests.length).toBeLessThan(8)
    await watcher.stop()
  })

  const after = (count: number) => double.requests.slice(count).filter((r) => r.startsWith('GET /v1/kv/'))
  const waitFor = async (predicate: () => boolean): Promise<void> => {
    while (!predicate()) await sleep(5)
  }

  it('a restored snapshot (the index goes backwards): one fresh read from 0, then blocking at the new index', async () => {
    double.set('rw/key', 'one')
    const at = double.set('rw/key', 'two')
    const { rec, watcher } = start('rw/key', 60_000)
    await rec.until(isValue('two'))
    await waitFor(() => reads('rw/key').some((r) => r.includes(`index=${at}`)))
    const count = double.requests.length
    // Consul answers a held read at once when a snapshot is restored, with the lower index.
    double.rewind(5)
    await waitFor(() => after(count).some((r) => r.includes('index=5&')))
    // (The held read was sent before `count`; answered with index 5, it is not in the list.)
    expect(after(count).map((r) => r.replace(/&wait=\d+ms/, ''))).toEqual([
      'GET /v1/kv/rw/key', // reset to 0: a fresh, non-blocking read
      'GET /v1/kv/rw/key?index=5', // then blocking from the new index
    ])
    double.set('rw/key', 'three')
    await rec.until(isValue('three'))
    await watcher.stop()
    expect(rec.values()).toEqual(['two', 'three'])
    expect(rec.events.filter((e) => e.kind === 'error')).toEqual([])
  })

  it('an index reported as 0 (older Consul): a fresh read, then blocking at index 1, never a busy loop', async () => {
    double.set('zero/key', 'a')
    const { rec, watcher } = start('zero/key', 60_000)
    await rec.until(isValue('a'))
    await waitFor(() => reads('zero/key').some((r) => r.includes('index=')))
    const count = double.requests.length
    double.rewind(0)
    await waitFor(() => after(count).some((r) => r.includes('index=1&')))
    await sleep(200)
    // Held at index=1 (the data's index is 0): no request loop while nothing changes.
    expect(after(count).map((r) => r.replace(/\?index=\d+&wait=\d+ms/, '?blocking'))).toEqual([
      'GET /v1/kv/zero/key',
      'GET /v1/kv/zero/key?blocking',
    ])
    expect(after(count).every((r) => !/index=0\b/.test(r))).toBe(true)
    double.set('zero/key', 'b')
    await rec.until(isValue('b'))
    await watcher.stop()
    expect(rec.values()).toEqual(['a', 'b'])
  })

  it('5xx answers (no cluster leader) are one error, with backoff, then the current value', async () => {
    double.set('lead/key', 'a')
    const { rec, watcher } = start('lead/key', 60_000)
    await rec.until(isValue('a'))
    await waitFor(() => reads('lead/key').some((r) => r.includes('index=')))
    const count = double.requests.length
    double.fail(500, 'No cluster leader')
    await rec.until((events) => events.at(-1)?.kind === 'error')
    // Backoff 20, 40, 80, 160, 200 ms: a few retries, each a fresh read from index 0.
    await waitFor(() => after(count).length >= 4)
    double.fail(503, 'rpc error: leadership lost')
    await waitFor(() => after(count).length >= 6)
    expect(
      after(count)
        .slice(1)
        .every((r) => !r.includes('index=')),
    ).toBe(true)
    double.set('lead/key', 'b')
    double.recover()
    await rec.until(isValue('b'))
    await watcher.stop()
    const errors = rec.events.filter((e) => e.kind === 'error')
    expect(errors).toHaveLength(1)
    expect((errors[0] as { error: Error }).error.name).toBe('SourceUnavailableError')
    expect((errors[0] as { error: Error }).error.message).toMatch(/No cluster leader/)
  })

  it('jitter: a read held for wait + wait/16 is no error (the timeout allows for it)', async () => {
    await double.close()
    double = await startConsulDouble({ jitter: (max) => max })
    await proxy.close()
    proxy = await startToggleProxy(double.port)
    client.destroy?.()
    // The client's own timeout is shorter than wait + jitter: the watcher's per-read timeout wins.
    const options = { host: '127.0.0.1', port: proxy.port, timeout: 100 }
    client = new Consul(options as ConstructorParameters<typeof Consul>[0]) as unknown as ConsulClientLike
    double.set('jit/key', 'v')
    const { rec, watcher } = start('jit/key', 320)
    await rec.until(isValue('v'))
    await waitFor(() => reads('jit/key').filter((r) => r.includes('index=')).length >= 3)
    await watcher.stop()
    expect(rec.events.filter((e) => e.kind === 'error')).toEqual([])
  })

  it('stop() mid-wait ends the held request at once', async () => {
    double.set('held/key', 'v')
    const { rec, watcher } = start('held/key', 60_000)
    await rec.until(isValue('v'))
    // Wait until the blocking read is held by the double.
    while (!reads('held/key').some((r) => r.includes('index='))) await sleep(10)
    const count = double.requests.length
    // The read is held for 60 s: stop() resolving at all (within the test timeout) means it was cancelled.
    await watcher.stop()
    double.set('held/key', 'w')
    await sleep(150)
    expect(double.requests.length).toBe(count)
    expect(rec.values()).toEqual(['v'])
  })

  it('the source object watches through the client it creates', async () => {
    double.set('own/key', '{"a":1}')
    const source = consulSource({ url: double.url, churnInterval: 20 })
    const rec = recorder({ pollInterval: 5_000 })
    const watcher = source.watch(request('own/key', { field: 'a' }), rec.options)
    await rec.until(isValue(1))
    double.set('own/key', '{"a":2}')
    await rec.until(isValue(2))
    // A value that is not JSON is one error report, not an outage; the next good value follows.
    double.set('own/key', 'not json')
    await rec.until((events) => events.at(-1)?.kind === 'error')
    double.set('own/key', '{"a":3}')
    await rec.until(isValue(3))
    await watcher.stop()
    await source.close?.()
    const error = rec.events.find((e) => e.kind === 'error')
    expect(error?.kind === 'error' && (error.error as Error).message).toMatch(/not valid JSON/)
  })

  it('a wrong ACL token is a SourcePermissionError that never shows the token', async () => {
    await double.close()
    const token = 'consul-token-do-not-print'
    double = await startConsulDouble({ tokens: ['the-right-one'] })
    double.set('acl/key', 'v')
    const source = consulSource({ url: double.url, token })
    const rec = recorder({ pollInterval: 5_000 })
    const watcher = source.watch(request('acl/key'), rec.options)
    await rec.until((events) => events.at(-1)?.kind === 'error')
    await watcher.stop()
    await source.close?.()
    const error = (rec.events[0] as { error: Error }).error
    expect(error.name).toBe('SourcePermissionError')
    // Consul's own reason: the token is unknown to it.
    expect(error.message).toBe('consul: permission denied watching "acl/key" (ACL, 403: ACL not found)')
    expect(inspect(error, { depth: 8 })).not.toContain(token)
  })
})
