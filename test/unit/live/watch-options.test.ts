import { Component, pollingWatcher, watch, type ComponentSource, type ComponentUpdate } from 'tributary'
import { describeUpdate, watchableMemory } from './watchable-memory'

beforeEach(() => jest.useFakeTimers())
afterEach(() => jest.useRealTimers())

const values = (heard: ComponentUpdate[]): unknown[] =>
  heard.flatMap((u) => (u.kind === 'updated' ? [u.newValue] : []))

describe('watch(): per-component options (fake timers)', () => {
  it('debounce: a burst of changes is one update, with the last value, after the quiet time', async () => {
    class Debounced {
      @Component({ fetchFrom: 'mem', key: 'n', debounce: 50 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Debounced, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('n', '1')
    await jest.advanceTimersByTimeAsync(40)
    mem.set('n', '2')
    await jest.advanceTimersByTimeAsync(49)
    expect(heard).toEqual([])
    expect(live.current.n).toBe(0)
    await jest.advanceTimersByTimeAsync(1)
    expect(values(heard)).toEqual([2])
    expect(live.current.n).toBe(2)
    await live.stop()
  })

  it('a flood of 1,000 writes to one key: debounce gives one update, throttle a bounded few, both end on the last value', async () => {
    class Flooded {
      @Component({ fetchFrom: 'mem', key: 'k', debounce: 20 }) debounced!: number
      @Component({ fetchFrom: 'mem', key: 'k', throttle: 100, burst: 3 }) throttled!: number
      @Component({ fetchFrom: 'mem', key: 'k' }) raw!: number
    }
    const mem = watchableMemory('mem', { k: '0' })
    const live = await watch(Flooded, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    for (let i = 1; i <= 1_000; i++) {
      mem.set('k', String(i))
      await jest.advanceTimersByTimeAsync(1)
    }
    await jest.advanceTimersByTimeAsync(1_000)
    const of = (property: string): unknown[] => values(heard.filter((u) => u.property === property))
    expect(of('raw')).toHaveLength(1_000)
    expect(of('debounced')).toEqual([1_000])
    const throttled = of('throttled')
    // burst + one per 100 ms over ~1 s (+1 for the trailing value)
    expect(throttled.length).toBeGreaterThanOrEqual(3)
    expect(throttled.length).toBeLessThanOrEqual(3 + 10 + 1)
    expect(throttled.slice(0, 3)).toEqual([1, 2, 3])
    expect(throttled.at(-1)).toBe(1_000)
    expect(live.current).toMatchObject({ debounced: 1_000, throttled: 1_000, raw: 1_000 })
    await live.stop()
  })

  it('throttle: at most one update per interval after the burst, and the latest waiting value wins', async () => {
    class Throttled {
      @Component({ fetchFrom: 'mem', key: 'n', throttle: 1_000 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Throttled, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('n', '1')
    mem.set('n', '2')
    mem.set('n', '3')
    await jest.advanceTimersByTimeAsync(0)
    expect(values(heard)).toEqual([1])
    await jest.advanceTimersByTimeAsync(999)
    expect(values(heard)).toEqual([1])
    await jest.advanceTimersByTimeAsync(1)
    expect(values(heard)).toEqual([1, 3])
    await live.stop()
  })

  it('errors are not held back by the schedule and do not replace a waiting value', async () => {
    class Held {
      @Component({ fetchFrom: 'mem', key: 'n', debounce: 100 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Held, { sources: [mem] })
    const heard: string[] = []
    live.onUpdate((u) => heard.push(describeUpdate(u)))
    mem.set('n', '5')
    mem.fail('n', new Error('blip'))
    await jest.advanceTimersByTimeAsync(0)
    expect(heard).toEqual(['error n'])
    await jest.advanceTimersByTimeAsync(100)
    expect(heard).toEqual(['error n', 'updated n 0→5'])
    await live.stop()
  })

  it('pollInterval reaches polling watchers', async () => {
    const state: Record<string, string> = { n: '1' }
    const base: ComponentSource = { name: 'poll', fetch: async (r) => state[r.key ?? ''] }
    let reads = 0
    const counted: ComponentSource = {
      name: 'poll',
      fetch: (r, c) => {
        reads += 1
        return base.fetch(r, c)
      },
    }
    const source = { ...counted, watch: pollingWatcher(counted, { pollInterval: 60_000 }) }
    class Polled {
      @Component({ fetchFrom: 'poll', key: 'n', pollInterval: 250 }) n!: number
    }
    const live = await watch(Polled, { sources: [source] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    reads = 0
    await jest.advanceTimersByTimeAsync(1_000)
    // a first read at start, then one every 250 ms
    expect(reads).toBeGreaterThanOrEqual(4)
    expect(reads).toBeLessThanOrEqual(5)
    state['n'] = '2'
    await jest.advanceTimersByTimeAsync(250)
    expect(values(heard)).toEqual([2])
    await live.stop()
    const after = reads
    await jest.advanceTimersByTimeAsync(5_000)
    expect(reads).toBe(after)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('condition: watched only while another component has the value; re-evaluated when it changes', async () => {
    class Conditional {
      @Component({ fetchFrom: 'mem', key: 'live' }) liveReload!: boolean
      @Component({ fetchFrom: 'mem', key: 'limit', condition: { component: 'liveReload', equals: true } })
      limit!: number
      @Component({
        fetchFrom: 'mem',
        key: 'mode',
        condition: { component: 'limit', matches: (v) => (v as number) < 100 },
      })
      mode!: string
    }
    const mem = watchableMemory('mem', { live: 'false', limit: '10', mode: 'a' })
    const live = await watch(Conditional, { sources: [mem] })
    const heard: string[] = []
    live.onUpdate((u) => heard.push(describeUpdate(u)))
    expect(live.watching).toEqual(['liveReload', 'mode'])

    mem.set('limit', '20')
    await jest.advanceTimersByTimeAsync(0)
    expect(heard).toEqual([])
    expect(live.current.limit).toBe(10)

    mem.set('live', 'true')
    await jest.advanceTimersByTimeAsync(0)
    // turning the watch on catches up with what changed while it was off
    expect(heard).toEqual(['updated liveReload false→true', 'updated limit 10→20'])
    expect(live.watching).toEqual(['liveReload', 'limit', 'mode'])

    heard.length = 0
    mem.set('limit', '500')
    await jest.advanceTimersByTimeAsync(0)
    expect(live.watching).toEqual(['liveReload', 'limit'])
    mem.set('mode', 'b')
    await jest.advanceTimersByTimeAsync(0)
    expect(heard).toEqual(['updated limit 20→500'])

    mem.set('live', 'false')
    await jest.advanceTimersByTimeAsync(0)
    mem.set('limit', '50')
    await jest.advanceTimersByTimeAsync(0)
    expect(live.current.limit).toBe(500)
    expect(live.watching).toEqual(['liveReload'])
    expect(mem.running).toBe(1)
    await live.stop()
    expect(mem.running).toBe(0)
  })

  it('a condition turned off drops a value waiting in the debounce', async () => {
    class Dropped {
      @Component({ fetchFrom: 'mem', key: 'on' }) on!: boolean
      @Component({ fetchFrom: 'mem', key: 'n', debounce: 100, condition: { component: 'on', equals: true } })
      n!: number
    }
    const mem = watchableMemory('mem', { on: 'true', n: '1' })
    const live = await watch(Dropped, { sources: [mem] })
    mem.set('n', '2')
    mem.set('on', 'false')
    await jest.advanceTimersByTimeAsync(500)
    expect(live.current.n).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
    await live.stop()
  })

  it('dependsOn: a dependent is re-fetched with the new value, and its watcher restarted with it', async () => {
    class Tenant {
      @Component({ fetchFrom: 'mem', key: 'tenant' }) tenant!: string
      @Component({ fetchFrom: 'deps', key: 'quota', dependsOn: 'tenant' }) quota!: number
    }
    const mem = watchableMemory('mem', { tenant: 'acme' })
    const quotas: Record<string, string> = { acme: '10', globex: '20' }
    const deps = watchableMemory('deps')
    deps.fetch = async (_request, context) => {
      deps.fetches.push({ key: 'quota', resolved: { ...context.resolved } })
      return quotas[context.resolved['tenant'] as string]
    }
    const live = await watch(Tenant, { sources: [mem, deps] })
    expect(live.current.quota).toBe(10)
    expect(deps.calls[0]?.options.resolved).toMatchObject({ tenant: 'acme' })
    const heard: string[] = []
    live.onUpdate((u) => heard.push(describeUpdate(u)))

    mem.set('tenant', 'globex')
    await jest.advanceTimersByTimeAsync(0)
    expect(heard).toEqual(['updated tenant "acme"→"globex"', 'updated quota 10→20'])
    expect(deps.fetches.at(-1)?.resolved).toMatchObject({ tenant: 'globex' })
    expect(deps.calls).toHaveLength(2)
    expect(deps.calls[0]?.stopped).toBe(true)
    expect(deps.calls[1]?.options.resolved).toMatchObject({ tenant: 'globex' })
    expect(deps.running).toBe(1)

    // an unchanged dependency does not re-fetch
    const fetched = deps.fetches.length
    mem.set('tenant', 'globex')
    await jest.advanceTimersByTimeAsync(0)
    expect(deps.fetches).toHaveLength(fetched)
    await live.stop()
  })

  it('dependsOn: a slow re-fetch overtaken by a newer change is discarded', async () => {
    class Chain {
      @Component({ fetchFrom: 'mem', key: 'region' }) region!: string
      @Component({ fetchFrom: 'slow', key: 'endpoint', dependsOn: 'region' }) endpoint!: string
    }
    const mem = watchableMemory('mem', { region: 'eu' })
    const slow: ComponentSource = {
      name: 'slow',
      fetch: async (_r, context) => {
        const region = context.resolved['region'] as string
        if (region === 'us') await new Promise((resolve) => setTimeout(resolve, 500))
        return `https://${region}.example`
      },
    }
    const live = await watch(Chain, { sources: [mem, slow] })
    const heard: string[] = []
    live.onUpdate((u) => heard.push(describeUpdate(u)))
    mem.set('region', 'us')
    await jest.advanceTimersByTimeAsync(10)
    mem.set('region', 'ap')
    await jest.advanceTimersByTimeAsync(1_000)
    expect(live.current.endpoint).toBe('https://ap.example')
    expect(heard.filter((h) => h.includes('endpoint'))).toEqual([
      'updated endpoint "https://eu.example"→"https://ap.example"',
    ])
    await live.stop()
  })

  it('dependsOn: a failed re-fetch is an error update and keeps the value', async () => {
    class Failing {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
      @Component({ fetchFrom: 'flaky', key: 'b', dependsOn: 'a', retry: 1 }) b!: string
    }
    const mem = watchableMemory('mem', { a: '1' })
    let calls = 0
    const flaky: ComponentSource = {
      name: 'flaky',
      fetch: async () => {
        calls += 1
        if (calls > 1) throw new Error('flaky down')
        return 'B'
      },
    }
    const live = await watch(Failing, { sources: [mem, flaky] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('a', '2')
    await jest.advanceTimersByTimeAsync(5_000)
    expect(calls).toBe(3) // first resolve, then 1 + 1 retry
    expect(heard.map(describeUpdate)).toEqual(['updated a "1"→"2"', 'error b'])
    expect((heard[1] as { error: Error }).error.message).toMatch(
      /Failing\.b \(source "flaky", key "b", 2 attempts\): flaky down/,
    )
    expect(live.current.b).toBe('B')
    await live.stop()
  })
})
