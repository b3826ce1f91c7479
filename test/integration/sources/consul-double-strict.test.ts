/**
 * The Consul double refuses what Consul refuses (agent/http.go parseWait, acl/errors.go, the
 * blocking-query page of the HTTP API docs), through the real `consul` client where it can send
 * the request and raw HTTP where it cannot.
 */
import Consul from 'consul'
import { parseGoDuration, startConsulDouble, type ConsulDouble } from '../../support/consul-double'

/** `kv.get` as the consul client really takes it (its types leave out index and wait). */
type RawGet = (options: Record<string, unknown>) => Promise<unknown>

describe('Consul double: refusals and on-demand failures', () => {
  let double: ConsulDouble
  let consul: Consul
  const jitters: number[] = []
  beforeEach(async () => {
    jitters.length = 0
    double = await startConsulDouble({
      jitter: (max) => {
        jitters.push(max)
        return max
      },
    })
    consul = new Consul({ host: '127.0.0.1', port: double.port })
  })
  afterEach(async () => {
    consul.destroy()
    await double.close()
  })
  // The consul client rejects a non-2xx answer with `statusCode` and the body as `response.body`.
  const get = (options: Record<string, unknown>) =>
    (consul.kv.get as unknown as RawGet).call(consul.kv, options).then(
      (value) => value as { statusCode?: number; message?: string; ModifyIndex?: number },
      (e: { statusCode?: number; response?: { body?: unknown } }) =>
        ({ statusCode: e.statusCode, message: String(e.response?.body) }) as {
          statusCode?: number
          message?: string
          ModifyIndex?: number
        },
    )

  it('parses wait as a Go duration: a bare "5" is 400 "Invalid wait time"', async () => {
    const at = double.set('k', 'v')
    const error = await get({ key: 'k', index: String(at), wait: '5' })
    expect([error.statusCode, error.message]).toEqual([400, 'Invalid wait time'])
    for (const wait of ['5 s', 'abc', '1d', '-']) {
      const res = await fetch(`${double.url}/v1/kv/k?index=${at}&wait=${encodeURIComponent(wait)}`)
      expect([res.status, await res.text()]).toEqual([400, 'Invalid wait time'])
    }
    expect(parseGoDuration('1m30s')).toBe(90_000)
    expect(parseGoDuration('1.5h')).toBe(5_400_000)
    expect(parseGoDuration('0')).toBe(0)
    expect(parseGoDuration('250ms')).toBe(250)
    expect(parseGoDuration('5')).toBeUndefined()
  })

  it('an index that is not an unsigned integer is 400 "Invalid index"', async () => {
    double.set('k', 'v')
    const error = await get({ key: 'k', index: 'abc', wait: '1s' })
    expect([error.statusCode, error.message]).toEqual([400, 'Invalid index'])
    for (const index of ['-1', '1.5', '0x10']) {
      const res = await fetch(`${double.url}/v1/kv/k?index=${index}`)
      expect([res.status, await res.text()]).toEqual([400, 'Invalid index'])
    }
  })

  it('adds up to wait/16 of jitter; caps wait at 10 minutes, 5 when absent or 0', async () => {
    const at = double.set('k', 'v')
    const res = await fetch(`${double.url}/v1/kv/k?index=${at}&wait=160ms`)
    expect(res.headers.get('x-consul-index')).toBe(String(at))
    expect(jitters).toEqual([10])
    // Held reads: only the jitter's bound is asserted, then close() answers them.
    const held = ['1h', '0', ''].map((wait) =>
      fetch(`${double.url}/v1/kv/k?index=${at}${wait === '' ? '' : `&wait=${wait}`}`).then(
        (r) => r.status,
        () => 'closed',
      ),
    )
    while (jitters.length < 4) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(jitters.slice(1).sort()).toEqual([18_750, 18_750, 37_500])
    await double.close()
    for (const status of await Promise.all(held)) expect([200, 'closed']).toContain(status)
    double = await startConsulDouble()
  })

  it('a read of a missing key is not ended by writes to other keys, only by the key itself', async () => {
    const at = double.set('other', 'x')
    const pending = fetch(`${double.url}/v1/kv/absent?index=${at}&wait=5m`)
    while (!double.requests.some((r) => r.includes(`absent?index=${at}`)))
      await new Promise((resolve) => setTimeout(resolve, 5))
    double.set('other', 'y')
    double.set('other', 'z')
    const created = double.set('absent', 'here')
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.headers.get('x-consul-index')).toBe(String(created))
  })

  it('rewind(to): a held read is answered at once with the lower index; rewind(0) reports 0', async () => {
    double.set('k', 'one')
    const at = double.set('k', 'two')
    const pending = get({ key: 'k', index: String(at), wait: '5m' })
    while (!double.requests.some((r) => r.includes(`index=${at}`)))
      await new Promise((resolve) => setTimeout(resolve, 5))
    double.rewind(3)
    const raw = await fetch(`${double.url}/v1/kv/k`)
    expect(raw.headers.get('x-consul-index')).toBe('3')
    expect((await pending).ModifyIndex).toBe(3)
    double.rewind(0)
    expect((await fetch(`${double.url}/v1/kv/k`)).headers.get('x-consul-index')).toBe('0')
    expect((await fetch(`${double.url}/v1/kv/missing`)).headers.get('x-consul-index')).toBe('0')
    // The first write after it is index 2 (Consul's index 1 is never a user write).
    expect(double.set('k', 'three')).toBe(2)
    expect((await fetch(`${double.url}/v1/kv/k`)).headers.get('x-consul-index')).toBe('2')
  })

  it('fail(): 5xx answers (held reads included) until recover()', async () => {
    const at = double.set('k', 'v')
    const held = fetch(`${double.url}/v1/kv/k?index=${at}&wait=5m`)
    while (!double.requests.some((r) => r.includes(`index=${at}`)))
      await new Promise((resolve) => setTimeout(resolve, 5))
    double.fail()
    const answer = await held
    expect([answer.status, await answer.text()]).toEqual([500, 'No cluster leader'])
    const error = await get({ key: 'k' })
    expect([error.statusCode, error.message]).toEqual([500, 'No cluster leader'])
    double.fail(503, 'overloaded')
    expect((await get({ key: 'k' })).statusCode).toBe(503)
    double.recover()
    expect(await consul.kv.get('k')).toMatchObject({ Value: 'v' })
  })
})
