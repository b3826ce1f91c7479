import { Etcd3 } from 'etcd3'
import { etcdSource, isSourceUnavailableError, type WatchableSource } from 'tributary'
import { startEtcd, type EtcdCluster } from '../../support/etcd'
import { describeWithEtcd } from '../../support/services'
import { recorder, type Reported } from './recorder'

const request = (key: string, field?: string) => ({
  className: 'C',
  property: 'value',
  key,
  secret: false,
  ...(field === undefined ? {} : { field }),
})
const values = (events: readonly Reported[]): unknown[] =>
  events.flatMap((e) => (e.kind === 'value' ? [e.value] : e.kind === 'removed' ? ['<removed>'] : []))

describeWithEtcd('etcd watcher, one member', () => {
  let etcd: EtcdCluster
  let client: Etcd3
  let source: WatchableSource

  beforeAll(async () => {
    etcd = await startEtcd(1)
    client = new Etcd3({ hosts: [...etcd.hosts] })
    source = etcdSource({ hosts: etcd.hosts })
  })
  afterAll(async () => {
    await source?.close?.()
    client?.close()
    await etcd?.destroy()
  })

  it('reports the value, each change, a delete and a re-create, but not a write of the same value', async () => {
    await client.put('w/one').value('a')
    const rec = recorder()
    const watcher = source.watch(request('w/one'), rec.options)
    await rec.until((e) => values(e).length === 1)
    await client.put('w/one').value('b')
    await client.put('w/one').value('b')
    await client.delete().key('w/one')
    await client.delete().key('w/one')
    await client.put('w/one').value('c')
    await client.put('w/one').value('d')
    await rec.until((e) => values(e).includes('d'))
    await watcher.stop()
    expect(values(rec.events)).toEqual(['a', 'b', '<removed>', 'c', 'd'])
    expect(rec.events.filter((e) => e.kind === 'error')).toEqual([])
  })

  it('a missing key is a removal first; a JSON field follows the document', async () => {
    const rec = recorder()
    const watcher = source.watch(request('w/doc', 'db.host'), rec.options)
    await rec.until((e) => e.length === 1)
    await client.put('w/doc').value(JSON.stringify({ db: { host: 'x' } }))
    await client.put('w/doc').value(JSON.stringify({ db: { host: 'x' }, other: 1 }))
    await client.put('w/doc').value(JSON.stringify({ db: { host: 'y' } }))
    await rec.until((e) => values(e).includes('y'))
    await watcher.stop()
    expect(values(rec.events)).toEqual(['<removed>', 'x', 'y'])
  })

  it('a prefix reports the whole object after every change, once per revision (a transaction is one change)', async () => {
    await client.put('w/p/a').value('1')
    const rec = recorder()
    const watcher = source.watch(request('w/p/'), rec.options)
    await rec.until((e) => values(e).length === 1)
    await client.put('w/p/b').value('2')
    await client
      .if('w/p/a', 'Value', '==', '1')
      .then(client.put('w/p/a').value('10'), client.put('w/p/c').value('3'))
      .commit()
    await client.put('w/other').value('not under the prefix')
    await client.delete().key('w/p/a')
    await client.delete().prefix('w/p/')
    await rec.until((e) => values(e).includes('<removed>'))
    await watcher.stop()
    expect(values(rec.events)).toEqual([
      { a: '1' },
      { a: '1', b: '2' },
      { a: '10', b: '2', c: '3' },
      { b: '2', c: '3' },
      '<removed>',
    ])
  })

  it('stop() ends the watch: later writes are not reported', async () => {
    const rec = recorder()
    const watcher = source.watch(request('w/stop'), rec.options)
    await rec.until((e) => e.length === 1)
    await watcher.stop()
    await client.put('w/stop').value('after')
    // A second watcher sees the write, so the first had every chance to.
    const probe = recorder()
    const second = source.watch(request('w/stop'), probe.options)
    await probe.until((e) => values(e).includes('after'))
    await second.stop()
    expect(values(rec.events)).toEqual(['<removed>'])
  })
})

describeWithEtcd('etcd watcher across a restart of its member', () => {
  let etcd: EtcdCluster
  let client: Etcd3

  beforeAll(async () => {
    etcd = await startEtcd(1)
    client = new Etcd3({ hosts: [...etcd.hosts] })
  })
  afterAll(async () => {
    client?.close()
    await etcd?.destroy()
  })

  it('resumes from the last revision seen: every change once, the outage reported once', async () => {
    const source = etcdSource({ hosts: etcd.hosts })
    await client.put('r/n').value('0')
    const rec = recorder()
    const watcher = source.watch(request('r/n'), rec.options)
    await rec.until((e) => values(e).includes('0'))
    for (let i = 1; i <= 20; i += 1) await client.put('r/n').value(String(i))
    await rec.until((e) => values(e).includes('20'))
    const member = etcd.members[0]!
    await member.kill()
    await rec.until((e) => e.some((x) => x.kind === 'error'))
    await member.start()
    // Written while the watcher is (re)connecting: replayed from the revision after the last seen.
    const writer = new Etcd3({ hosts: [...etcd.hosts] })
    for (let i = 21; i <= 40; i += 1) await writer.put('r/n').value(String(i))
    writer.close()
    await rec.until((e) => values(e).includes('40'), 15_000)
    await watcher.stop()
    await source.close?.()
    expect(values(rec.events)).toEqual(Array.from({ length: 41 }, (_, i) => String(i)))
    const errors = rec.events.filter((e) => e.kind === 'error')
    expect(errors.length).toBeGreaterThanOrEqual(1)
    expect(errors.every((e) => e.kind === 'error' && isSourceUnavailableError(e.error))).toBe(true)
    // One outage, one report: no error after the first value following it.
    const firstError = rec.events.findIndex((e) => e.kind === 'error')
    expect(rec.events.slice(firstError + 1).some((e) => e.kind === 'error')).toBe(false)
  }, 30_000)
})

describeWithEtcd('etcd watcher on a three-member cluster', () => {
  let etcd: EtcdCluster

  beforeAll(async () => {
    etcd = await startEtcd(3)
  })
  afterAll(async () => {
    await etcd?.destroy()
  })

  it('the leader is killed during a burst of writes: the watch sees every change exactly once, in order', async () => {
    const leader = await etcd.leader()
    // The watcher connects to the leader only, so killing it breaks the watch stream; the
    // writer and the watcher's reconnects use every member.
    const followers = etcd.members.filter((m) => m !== leader).map((m) => m.clientUrl)
    const source = etcdSource({ hosts: [leader.clientUrl, ...followers] })
    const pinned = etcdSource({ hosts: leader.clientUrl })
    const writer = new Etcd3({ hosts: followers })
    await writer.put('c/n').value('0')
    const rec = recorder()
    const watcher = source.watch(request('c/n'), rec.options)
    const onLeader = recorder()
    const leaderWatcher = pinned.watch(request('c/n'), onLeader.options)
    await rec.until((e) => values(e).includes('0'))
    await onLeader.until((e) => values(e).includes('0'))
    const written: string[] = ['0']
    let n = 1
    const burst = async (count: number): Promise<void> => {
      for (const end = n + count; n < end; n += 1) {
        // A write may fail while a new leader is elected; it is retried until etcd takes it.
        for (;;) {
          try {
            await writer.put('c/n').value(String(n))
            break
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
        }
        written.push(String(n))
      }
    }
    const during = burst(60)
    await rec.until((e) => values(e).length >= 15)
    await leader.kill()
    await during
    await burst(20)
    await rec.until((e) => values(e).includes(written.at(-1)), 20_000)
    await watcher.stop()
    await leaderWatcher.stop()
    await source.close?.()
    await pinned.close?.()
    writer.close()
    expect(values(rec.events)).toEqual(written)
    // The watch pinned to the killed leader lost its stream: the outage was really there.
    expect(onLeader.events.some((e) => e.kind === 'error' && isSourceUnavailableError(e.error))).toBe(true)
  }, 40_000)
})
