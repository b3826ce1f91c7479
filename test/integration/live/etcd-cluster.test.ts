/**
 * Live components on a three-member etcd cluster of the test's own: a burst of writes by a
 * separate etcd3 client, the leader SIGKILLed in the middle of it, and the watch — given all
 * three endpoints — reporting every change once, in order, with no value nobody wrote, and
 * going on after the kill. Once with the watch stream on the leader (it breaks and is resumed
 * on another member from the last revision seen), once on a follower (it stays up while a new
 * leader is elected).
 */
import { Etcd3 } from 'etcd3'
import {
  Component,
  etcdSource,
  isComponentError,
  isSourceUnavailableError,
  watch,
  type ComponentUpdate,
  type LiveComponents,
  type WatchableSource,
} from 'tributary'
import { startEtcd, type EtcdCluster, type EtcdMember } from '../../support/etcd'
import { describeWithEtcd } from '../../support/services'
import { logUpdates, sleep } from './live-log'

class ClusterConfig {
  @Component({ fetchFrom: 'etcd', key: 'n' }) n!: number
  @Component({ fetchFrom: 'etcd', key: 'shards/' }) shards!: Record<string, string>
}

/** Writes of the burst, 1…200 during it (the leader killed after the 50th is seen), 201…220 after. */
const BURST = 200
const AFTER = 20
const KILL_AFTER = 50

const changes = (updates: readonly ComponentUpdate[], property: string): Array<[unknown, unknown]> =>
  updates.flatMap((u) =>
    u.property === property && (u.kind === 'updated' || u.kind === 'added' || u.kind === 'removed')
      ? [[u.kind === 'added' ? undefined : u.oldValue, u.newValue] as [unknown, unknown]]
      : [],
  )

describeWithEtcd('watch() on a three-member etcd cluster whose leader is killed', () => {
  let etcd: EtcdCluster
  let writer: Etcd3
  let source: WatchableSource | undefined
  let live: LiveComponents<ClusterConfig> | undefined

  beforeAll(async () => {
    etcd = await startEtcd(3)
    writer = new Etcd3({ hosts: [...etcd.hosts] })
  }, 90_000)
  afterEach(async () => {
    await live?.stop()
    await source?.close?.()
    live = undefined
    source = undefined
    // The killed member comes back on its data directory for the next case.
    await Promise.all(etcd?.members.map((m) => m.start()) ?? [])
    await etcd?.leader()
  }, 30_000)
  afterAll(async () => {
    writer?.close()
    await etcd?.destroy()
  })

  /** A put retried until etcd takes it (a write fails while a new leader is elected). */
  const put = async (key: string, value: string): Promise<void> => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await writer.put(key).value(value)
        return
      } catch (error) {
        if (attempt > 200) throw error
        await sleep(20)
      }
    }
  }

  /** The member holding the watches of `live` (its client's one watch stream). */
  const watchMember = async (): Promise<EtcdMember> => {
    for (let i = 0; i < 100; i += 1) {
      const counts = await Promise.all(etcd.members.map((m) => m.watchers()))
      const holding = etcd.members.filter((_, at) => (counts[at] ?? 0) >= 2)
      if (holding.length === 1 && counts.filter((c) => c > 0).length === 1) return holding[0]!
      await sleep(50)
    }
    throw new Error('the two watches are not on one member')
  }

  const burstWithLeaderKilled = async (base: string, streamOn: 'leader' | 'follower') => {
    await put(`${base}n`, '0')
    await put(`${base}shards/s0`, '0')
    source = etcdSource({ hosts: etcd.hosts, prefix: base })
    live = await watch(ClusterConfig, { sources: [source], backoff: { initialDelay: 20, maxDelay: 200 } })
    const log = logUpdates(live)
    expect(live.current).toMatchObject({ n: 0, shards: { s0: '0' } })

    // Leadership moved so that the kill hits the member the watch stream is on, or another one.
    const holder = await watchMember()
    const other = etcd.members.find((m) => m !== holder)!
    await etcd.moveLeader(streamOn === 'leader' ? holder : other)

    const shards: Record<string, string> = { s0: '0' }
    const expectedShards: Array<Record<string, string>> = []
    let killed: EtcdMember | undefined
    let writtenBeforeKill = 0
    let written = 0
    const write = async (i: number): Promise<void> => {
      await put(`${base}n`, String(i))
      written = i
      if (i % 5 === 0) {
        const shard = `s${(i / 5) % 4}`
        await put(`${base}shards/${shard}`, String(i))
        shards[shard] = String(i)
        expectedShards.push({ ...shards })
      }
    }
    const kill = log
      .until((u) => changes(u, 'n').length >= KILL_AFTER, 20_000)
      .then(async () => {
        // The leader as etcd reports it (maintenance status), SIGKILLed by its process id.
        const leader = await etcd.leader()
        writtenBeforeKill = written
        await leader.kill()
        killed = leader
      })
    for (let i = 1; i <= BURST; i += 1) await write(i)
    await kill
    for (let i = BURST + 1; i <= BURST + AFTER; i += 1) await write(i)
    const last = BURST + AFTER
    await log.until(
      (u) => changes(u, 'n').at(-1)?.[1] === last && changes(u, 'shards').length === expectedShards.length,
      30_000,
    )

    // The kill happened mid-burst, and it killed the member it was meant to.
    expect(writtenBeforeKill).toBeGreaterThanOrEqual(KILL_AFTER)
    expect(writtenBeforeKill).toBeLessThan(BURST)
    expect(killed).toBe(streamOn === 'leader' ? holder : other)
    expect(killed?.pid).toBeUndefined()

    // Every change once, in order, each from the value before it: no phantom, no duplicate.
    const n = Array.from({ length: last + 1 }, (_, i) => i)
    expect(changes(log.updates, 'n')).toEqual(n.slice(1).map((i) => [i - 1, i]))
    expect(changes(log.updates, 'shards')).toEqual(
      expectedShards.map((after, at) => [at === 0 ? { s0: '0' } : expectedShards[at - 1], after]),
    )
    expect(log.updates.some((u) => u.kind === 'added' || u.kind === 'removed')).toBe(false)
    expect(live.current).toMatchObject({ n: last, shards })
    return log.updates.filter((u) => u.kind === 'error')
  }

  it('the watch stream is on the leader: it breaks, resumes on another member, and loses or repeats nothing', async () => {
    const errors = await burstWithLeaderKilled('lead/', 'leader')
    // The outage was real and reported once per component, as unavailability.
    expect(errors.map((e) => e.property).sort()).toEqual(['n', 'shards'])
    for (const e of errors) {
      expect(e.kind === 'error' && isComponentError(e.error) && isSourceUnavailableError(e.error.cause)).toBe(
        true,
      )
    }
  }, 60_000)

  it('the watch stream is on a follower: it stays up through the election and loses or repeats nothing', async () => {
    const errors = await burstWithLeaderKilled('follow/', 'follower')
    expect(errors).toEqual([])
  }, 60_000)
})
