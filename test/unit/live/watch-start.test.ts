// Issue 15, defects 5 and 6: what happens while watch() starts — the watchers' own first reads
// take no throttle token, and errors reported while starting reach the first listener and the
// first updates() consumer.
import { Component, SourceUnavailableError, watch, type ComponentUpdate } from 'tributary'
import { describeUpdate, watchableMemory } from './watchable-memory'

beforeEach(() => jest.useFakeTimers())
afterEach(() => jest.useRealTimers())

const values = (heard: ComponentUpdate[]): unknown[] =>
  heard.flatMap((u) => (u.kind === 'updated' ? [u.newValue] : []))

describe('watch(): the watchers’ first reads take no throttle token (issue 15, defect 5)', () => {
  it('throttle: 2000, burst: 2 — the first two real changes after watch() arrive at once', async () => {
    class Limited {
      @Component({ fetchFrom: 'mem', key: 'n', throttle: 2_000, burst: 2 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' }, { firstRead: true })
    const live = await watch(Limited, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    await jest.advanceTimersByTimeAsync(200)
    mem.set('n', '1')
    await jest.advanceTimersByTimeAsync(0)
    mem.set('n', '2')
    await jest.advanceTimersByTimeAsync(0)
    expect(values(heard)).toEqual([1, 2])
    // The bucket is empty now: the third waits for a token.
    mem.set('n', '3')
    await jest.advanceTimersByTimeAsync(0)
    expect(values(heard)).toEqual([1, 2])
    await jest.advanceTimersByTimeAsync(2_000)
    expect(values(heard)).toEqual([1, 2, 3])
    await live.stop()
  })

  it('burst: 1 — the first real change is not held for a whole interval', async () => {
    class One {
      @Component({ fetchFrom: 'mem', key: 'n', throttle: 5_000 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' }, { firstRead: true })
    const live = await watch(One, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    await jest.advanceTimersByTimeAsync(100)
    mem.set('n', '7')
    await jest.advanceTimersByTimeAsync(0)
    expect(values(heard)).toEqual([7])
    expect(live.current.n).toBe(7)
    await live.stop()
  })

  it('a first read that finds a real change still counts against the throttle', async () => {
    class Changed {
      @Component({ fetchFrom: 'mem', key: 'n', throttle: 1_000 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' }, { firstRead: true })
    const pending = watch(Changed, { sources: [mem] })
    // Changed between the resolve and the watcher's first read.
    mem.values.set('n', '5')
    const live = await pending
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    await jest.advanceTimersByTimeAsync(0)
    expect(live.current.n).toBe(5)
    mem.set('n', '6')
    await jest.advanceTimersByTimeAsync(0)
    expect(live.current.n).toBe(5)
    await jest.advanceTimersByTimeAsync(1_000)
    expect(live.current.n).toBe(6)
    await live.stop()
  })

  it('a same-value report while a change waits in the throttle still replaces it (a revert is not lost)', async () => {
    class Revert {
      @Component({ fetchFrom: 'mem', key: 'n', throttle: 1_000 }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Revert, { sources: [mem] })
    mem.set('n', '1')
    mem.set('n', '2')
    mem.set('n', '1')
    await jest.advanceTimersByTimeAsync(0)
    expect(live.current.n).toBe(1)
    mem.set('n', '2')
    mem.set('n', '1')
    await jest.advanceTimersByTimeAsync(1_000)
    expect(live.current.n).toBe(1)
    await live.stop()
  })
})

describe('watch(): errors while starting are delivered (issue 15, defect 6)', () => {
  const outage = (): SourceUnavailableError =>
    new SourceUnavailableError({ source: 'mem', key: 'n' }, 'mem: down while starting')

  it('an error reported while watch() starts reaches the first onUpdate listener', async () => {
    class Starting {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' }, { startError: outage() })
    const live = await watch(Starting, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    expect(heard.map(describeUpdate)).toEqual(['error n'])
    const first = heard[0]
    expect(first?.kind === 'error' && (first.error as Error).message).toMatch(/down while starting/)
    // Replayed once: a second listener hears only what comes next.
    const later: ComponentUpdate[] = []
    live.onUpdate((u) => later.push(u))
    mem.set('n', '2')
    expect(later.map(describeUpdate)).toEqual(['updated n 1→2'])
    expect(heard.map(describeUpdate)).toEqual(['error n', 'updated n 1→2'])
    await live.stop()
  })

  it('an error reported while watch() starts is the first item of the first updates() consumer', async () => {
    class Starting {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' }, { startError: outage() })
    const live = await watch(Starting, { sources: [mem] })
    const updates = live.updates()
    mem.set('n', '2')
    await live.stop()
    const heard: ComponentUpdate[] = []
    for await (const u of updates) heard.push(u)
    expect(heard.map(describeUpdate)).toEqual(['error n', 'updated n 1→2'])
  })

  it('an error reported a few microtasks into the start is replayed too', async () => {
    class Later {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' })
    const watchOf = mem.watch.bind(mem)
    mem.watch = (request, options) => {
      const watcher = watchOf(request, options)
      void Promise.resolve()
        .then(() => undefined)
        .then(() => options.onError(outage()))
      return watcher
    }
    const live = await watch(Later, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    await jest.advanceTimersByTimeAsync(0)
    expect(heard.map(describeUpdate)).toEqual(['error n'])
    await live.stop()
  })

  it('a start error followed by a good value before anyone listens is not replayed', async () => {
    class Recovered {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' }, { startError: outage() })
    const pending = watch(Recovered, { sources: [mem] })
    await Promise.resolve()
    const live = await pending
    mem.set('n', '2')
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    expect(heard).toEqual([])
    expect(live.current.n).toBe(2)
    await live.stop()
  })

  it('errors after the start window are not replayed to a late listener', async () => {
    class Quiet {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' })
    const live = await watch(Quiet, { sources: [mem] })
    await jest.advanceTimersByTimeAsync(10)
    mem.fail('n', outage())
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    expect(heard).toEqual([])
    await live.stop()
  })
})
