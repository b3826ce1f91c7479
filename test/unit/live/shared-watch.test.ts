import {
  Component,
  SourceUnavailableError,
  sharedWatchStats,
  watch,
  watchShared,
  type ComponentRequest,
  type SourceWatchOptions,
} from 'tributary'
import { describeUpdate, watchableMemory } from './watchable-memory'

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

const request = (key: string, extra: Partial<ComponentRequest> = {}): ComponentRequest => ({
  className: 'C',
  property: 'value',
  key,
  secret: false,
  ...extra,
})

function subscriber(signal: AbortSignal, extra: Partial<SourceWatchOptions> = {}) {
  const heard: string[] = []
  const options: SourceWatchOptions = {
    signal,
    ...extra,
    onChange: (value) => heard.push(`value ${JSON.stringify(value)}`),
    onRemove: () => heard.push('removed'),
    onError: (error) => heard.push(`error ${(error as Error).message}`),
  }
  return { heard, options }
}

describe('shared upstream watches', () => {
  it('two classes watching one key share one source watcher; the last stop() stops it', async () => {
    class A {
      @Component({ fetchFrom: 'mem', key: 'app/port' }) port!: number
    }
    class B {
      @Component({ fetchFrom: 'mem', key: 'app/port' }) listenOn!: number
    }
    const mem = watchableMemory('mem', { 'app/port': '80' })
    const a = await watch(A, { sources: [mem] })
    const b = await watch(B, { sources: [mem] })
    expect(mem.calls).toHaveLength(1)
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 1, subscribers: 2 })
    const heardA: string[] = []
    const heardB: string[] = []
    a.onUpdate((u) => heardA.push(describeUpdate(u)))
    b.onUpdate((u) => heardB.push(describeUpdate(u)))

    mem.set('app/port', '81')
    await settle()
    expect(heardA).toEqual(['updated port 80→81'])
    expect(heardB).toEqual(['updated listenOn 80→81'])

    await a.stop()
    expect(mem.running).toBe(1)
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 1, subscribers: 1 })
    mem.set('app/port', '82')
    await settle()
    expect(heardA).toEqual(['updated port 80→81'])
    expect(b.current.listenOn).toBe(82)

    await b.stop()
    expect(mem.running).toBe(0)
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 0, subscribers: 0 })
  })

  it('two components of one class on the same key share; a different field, poll interval or key does not', async () => {
    class Mixed {
      @Component({ fetchFrom: 'mem', key: 'doc' }) a!: string
      @Component({ fetchFrom: 'mem', key: 'doc' }) b!: string
      @Component({ fetchFrom: 'mem', key: 'doc', pollInterval: 500 }) c!: string
      @Component({ fetchFrom: 'mem', key: 'other' }) d!: string
      @Component({ fetchFrom: 'mem' }) doc!: string // no key: read by property name, so key "doc"
      @Component({ fetchFrom: 'mem', key: 'json', field: 'x' }) x!: string
      @Component({ fetchFrom: 'mem', key: 'json', field: 'y' }) y!: string
    }
    const mem = watchableMemory('mem', { doc: 'x', other: 'y', json: { x: '1', y: '2' } })
    const live = await watch(Mixed, { sources: [mem] })
    // a, b and doc share; c (pollInterval), d (key), x and y (field) each have their own
    expect(mem.calls.map((c) => c.key)).toEqual(['doc', 'doc', 'other', 'json', 'json'])
    mem.set('doc', 'z')
    await settle()
    expect(live.current).toMatchObject({ a: 'z', b: 'z', c: 'z', doc: 'z' })
    await live.stop()
    expect(mem.running).toBe(0)
  })

  it('two separately built sources never share', async () => {
    class A {
      @Component({ fetchFrom: 'mem', key: 'k' }) k!: string
    }
    const one = watchableMemory('mem', { k: '1' })
    const two = watchableMemory('mem', { k: '1' })
    const a = await watch(A, { sources: [one] })
    const b = await watch(A, { sources: [two] })
    expect([one.calls.length, two.calls.length]).toEqual([1, 1])
    await Promise.all([a.stop(), b.stop()])
  })

  it('dependsOn values are part of the identity', async () => {
    class Tenant {
      @Component({ fetchFrom: 'mem', key: 'tenant' }) tenant!: string
      @Component({ fetchFrom: 'mem', key: 'limit', dependsOn: 'tenant' }) limit!: number
    }
    const first = watchableMemory('mem', { tenant: 't1', limit: '5' })
    const x = await watch(Tenant, { sources: [first] })
    const y = await watch(Tenant, { sources: [first] })
    expect(first.calls.map((c) => c.key)).toEqual(['tenant', 'limit'])
    // The tenant changes: each limit watch restarts with tenant "t2" — the first restart opens
    // a new upstream (its identity differs), the second joins it and closes the "t1" one.
    first.set('tenant', 't2')
    await settle()
    expect(first.calls.filter((c) => c.key === 'limit' && !c.stopped)).toHaveLength(1)
    expect(first.calls.filter((c) => c.key === 'limit')).toHaveLength(2)
    expect(sharedWatchStats(first)).toEqual({ upstreams: 2, subscribers: 4 })
    await Promise.all([x.stop(), y.stop()])
    expect(first.running).toBe(0)
  })

  it('an outage is one error update per subscriber', async () => {
    class A {
      @Component({ fetchFrom: 'mem', key: 'k' }) k!: string
    }
    class B {
      @Component({ fetchFrom: 'mem', key: 'k' }) k!: string
    }
    const mem = watchableMemory('mem', { k: 'v' })
    const a = await watch(A, { sources: [mem] })
    const b = await watch(B, { sources: [mem] })
    const heard: string[] = []
    a.onUpdate((u) => heard.push(`A ${describeUpdate(u)}`))
    b.onUpdate((u) => heard.push(`B ${describeUpdate(u)}`))
    mem.fail('k', new SourceUnavailableError({ source: 'mem', key: 'k' }))
    await settle()
    expect(heard.sort()).toEqual(['A error k', 'B error k'])
    await Promise.all([a.stop(), b.stop()])
  })

  it('a subscriber joining a running watch is replayed the latest value, removal or error newer than its own', async () => {
    const mem = watchableMemory('mem', { k: '1' })
    const lifetime = new AbortController()
    const first = subscriber(lifetime.signal)
    const w1 = watchShared(mem, request('k'), first.options)
    mem.set('k', '2')
    const second = subscriber(lifetime.signal)
    const w2 = watchShared(mem, request('k', { className: 'D' }), second.options)
    expect(second.heard).toEqual([]) // a microtask later, not inside watchShared
    await settle()
    expect(second.heard).toEqual(['value "2"'])
    // a subscriber whose value was read after the last report gets no replay
    const third = subscriber(lifetime.signal)
    const w3 = watchShared(mem, request('k'), { ...third.options, since: performance.now() })
    await settle()
    expect(third.heard).toEqual([])
    mem.delete('k')
    mem.fail('k', new Error('down'))
    const fourth = subscriber(lifetime.signal)
    const w4 = watchShared(mem, request('k'), fourth.options)
    await settle()
    expect(fourth.heard).toEqual(['removed', 'error down'])
    expect(mem.calls).toHaveLength(1)
    expect(first.heard).toEqual(['value "2"', 'removed', 'error down'])
    await Promise.all([w1.stop(), w2.stop(), w3.stop(), w4.stop()])
    expect(mem.running).toBe(0)
  })

  it('aborting a subscriber signal detaches it; a throwing callback does not keep reports from the others', async () => {
    const mem = watchableMemory('mem', { k: '1' })
    const one = new AbortController()
    const two = new AbortController()
    const thrower = watchShared(mem, request('k'), {
      ...subscriber(one.signal).options,
      onChange: () => {
        throw new Error('listener bug')
      },
    })
    const kept = subscriber(two.signal)
    const watcher = watchShared(mem, request('k'), kept.options)
    mem.set('k', '2')
    expect(kept.heard).toEqual(['value "2"'])
    one.abort()
    await settle()
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 1, subscribers: 1 })
    two.abort()
    await settle()
    expect(mem.running).toBe(0)
    await Promise.all([thrower.stop(), watcher.stop()])
  })

  it('a source whose watch throws registers nothing; the next subscriber tries again', async () => {
    const mem = watchableMemory('mem', { k: '1' })
    const original = mem.watch.bind(mem)
    let fail = true
    mem.watch = (r, o) => {
      if (fail) throw new Error('cannot watch')
      return original(r, o)
    }
    const signal = new AbortController().signal
    expect(() => watchShared(mem, request('k'), subscriber(signal).options)).toThrow('cannot watch')
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 0, subscribers: 0 })
    fail = false
    const watcher = watchShared(mem, request('k'), subscriber(signal).options)
    expect(sharedWatchStats(mem)).toEqual({ upstreams: 1, subscribers: 1 })
    await watcher.stop()
    expect(mem.running).toBe(0)
  })

  it('a stop() while the upstream is stopping and a new subscriber starts a fresh upstream', async () => {
    const mem = watchableMemory('mem', { k: '1' })
    const signal = new AbortController().signal
    const w1 = watchShared(mem, request('k'), subscriber(signal).options)
    const stopping = w1.stop()
    expect(w1.stop()).toBe(stopping)
    const w2 = watchShared(mem, request('k'), subscriber(signal).options)
    expect(mem.calls).toHaveLength(2)
    await stopping
    await w2.stop()
    expect(mem.running).toBe(0)
  })
})
