/**
 * Consul's blocking-query guidance on rate limiting ("a token bucket with burst of 2"), with fake
 * timers and a scripted client: under churn, two reads at once, then one per churn interval; no
 * wait at all when changes are rarer than that.
 */
import { EventEmitter } from 'node:events'
import {
  CONSUL_CHURN_INTERVAL_MS,
  CONSUL_READ_BURST,
  createReadPacer,
  watchConsul,
} from '../../../src/sources/consul/consul-watcher'
import type { ConsulClientLike } from '../../../src/sources/consul/consul-kv'
import { consulSource } from '../../../src/sources/consul/consul-source'
import { recorder, request } from './recorder'

/** A client whose every read answers at once with a new index (a key that never stops changing). */
function churningClient(): { client: ConsulClientLike; readsAt: number[] } {
  const readsAt: number[] = []
  let index = 10
  const get = async (_options: { ctx?: EventEmitter }) => {
    readsAt.push(Date.now())
    index += 1
    return [
      { headers: { 'x-consul-index': String(index) } },
      { Key: 'k', Value: String(index), ModifyIndex: index },
    ]
  }
  return { client: { kv: { get } } as unknown as ConsulClientLike, readsAt }
}

describe('Consul read pacing (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => jest.useRealTimers())

  it('the defaults are a burst of 2, then one read a second', () => {
    expect([CONSUL_READ_BURST, CONSUL_CHURN_INTERVAL_MS]).toEqual([2, 1_000])
  })

  it('createReadPacer: two takes at once, the third after an interval; idle time refills the bucket', async () => {
    const pacer = createReadPacer(2, 1_000)
    const signal = new AbortController().signal
    const done: number[] = []
    const take = () => pacer.take(signal).then(() => done.push(Date.now() - 1_000_000))
    await take()
    await take()
    const third = take()
    await jest.advanceTimersByTimeAsync(999)
    expect(done).toEqual([0, 0])
    await jest.advanceTimersByTimeAsync(1)
    await third
    expect(done).toEqual([0, 0, 1_000])
    // Quiet for two intervals: the bucket is full again, two reads go at once.
    await jest.advanceTimersByTimeAsync(2_000)
    await take()
    await take()
    expect(done.slice(3)).toEqual([3_000, 3_000])
  })

  it('a watcher on a key that never stops changing: 2 reads at once, then one per churnInterval', async () => {
    const { client, readsAt } = churningClient()
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = watchConsul(request('k'), rec.options, {
      name: 'consul',
      client: () => client,
      churnInterval: 500,
    })
    await jest.advanceTimersByTimeAsync(2_000)
    const offsets = readsAt.map((at) => at - 1_000_000)
    expect(offsets).toEqual([0, 0, 500, 1_000, 1_500, 2_000])
    expect(rec.values()).toHaveLength(offsets.length)
    const stopping = watcher.stop()
    await jest.advanceTimersByTimeAsync(1_000)
    await stopping
    expect(readsAt).toHaveLength(offsets.length)
  })

  it('consulSource passes churnInterval to its watchers', async () => {
    const { client, readsAt } = churningClient()
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = consulSource({ client, churnInterval: 250 }).watch(request('k'), rec.options)
    await jest.advanceTimersByTimeAsync(500)
    expect(readsAt.map((at) => at - 1_000_000)).toEqual([0, 0, 250, 500])
    const stopping = watcher.stop()
    await jest.advanceTimersByTimeAsync(1_000)
    await stopping
  })

  it('the default churn interval is 1 s', async () => {
    const { client, readsAt } = churningClient()
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = watchConsul(request('k'), rec.options, { name: 'consul', client: () => client })
    await jest.advanceTimersByTimeAsync(3_000)
    expect(readsAt.map((at) => at - 1_000_000)).toEqual([0, 0, 1_000, 2_000, 3_000])
    const stopping = watcher.stop()
    await jest.advanceTimersByTimeAsync(1_000)
    await stopping
  })
})
