import { Component, pollingWatcher, watch, type ComponentSource, type ComponentUpdate } from 'tributary'
import { watchableMemory } from './watchable-memory'

afterEach(() => jest.useRealTimers())

describe('watch(): stop()', () => {
  it('mid-wait: ends every watcher and timer, drops the waiting value, ends every iteration', async () => {
    jest.useFakeTimers()
    class Waiting {
      @Component({ fetchFrom: 'mem', key: 'a', debounce: 1_000 }) a!: number
      @Component({ fetchFrom: 'mem', key: 'b', throttle: 1_000 }) b!: number
      @Component({ fetchFrom: 'poll', key: 'c', pollInterval: 5_000 }) c!: number
    }
    const mem = watchableMemory('mem', { a: '1', b: '1' })
    const plain: ComponentSource = { name: 'poll', fetch: async () => '1' }
    const poll = { ...plain, watch: pollingWatcher(plain) }
    const live = await watch(Waiting, { sources: [mem, poll] })
    const iteration = (async () => {
      const seen: ComponentUpdate[] = []
      for await (const u of live.updates()) seen.push(u)
      return seen
    })()
    mem.set('b', '2')
    mem.set('b', '3')
    mem.set('a', '2')
    await jest.advanceTimersByTimeAsync(10)
    expect(jest.getTimerCount()).toBeGreaterThanOrEqual(3) // debounce, throttle, poll
    expect(live.stopped).toBe(false)
    const stopping = live.stop()
    expect(live.stopped).toBe(true)
    expect(live.stop()).toBe(stopping)
    await stopping
    expect(jest.getTimerCount()).toBe(0)
    expect(mem.running).toBe(0)
    expect(live.watching).toEqual([])
    expect((await iteration).map((u) => u.kind === 'updated' && u.newValue)).toEqual([2])
    await jest.advanceTimersByTimeAsync(10_000)
    expect(live.current).toMatchObject({ a: 1, b: 2, c: 1 })
    // after stop: new iterations end at once, listeners are not called, writes are ignored
    const after = await live.updates().next()
    expect(after.done).toBe(true)
    const heard: unknown[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('a', '9')
    expect(heard).toEqual([])
  })

  it('waits for a re-fetch and an async validation in flight', async () => {
    jest.useFakeTimers()
    let releaseValidation: (ok: boolean) => void = () => undefined
    class Slow {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
      @Component({
        fetchFrom: 'mem',
        key: 'b',
        validate: (v: string) =>
          v === 'slow' ? new Promise<boolean>((resolve) => (releaseValidation = resolve)) : true,
      })
      b!: string
      @Component({ fetchFrom: 'fetcher', key: 'c', dependsOn: 'a' }) c!: string
    }
    const mem = watchableMemory('mem', { a: '1', b: 'x' })
    const fetcher = watchableMemory('fetcher', { c: 'C' })
    const live = await watch(Slow, { sources: [mem, fetcher] })
    fetcher.fetchDelay = 10_000
    let aborted = false
    const originalFetch = fetcher.fetch.bind(fetcher)
    fetcher.fetch = (request, context) => {
      context.signal.addEventListener('abort', () => (aborted = true))
      return originalFetch(request, context)
    }
    mem.set('a', '2') // starts a 10 s re-fetch of c
    mem.set('b', 'slow') // an async validation that waits
    await jest.advanceTimersByTimeAsync(0)
    let stopped = false
    const stopping = live.stop().then(() => (stopped = true))
    await jest.advanceTimersByTimeAsync(0)
    expect(aborted).toBe(true) // the re-fetch's signal was aborted
    expect(stopped).toBe(false) // the validation is still running
    releaseValidation(true)
    await stopping
    expect(stopped).toBe(true)
    expect(live.current.b).toBe('x') // nothing is applied after stop
    expect(jest.getTimerCount()).toBe(0)
  })

  it('the caller signal stops the watch; asyncDispose is stop()', async () => {
    class Signalled {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
    }
    const mem = watchableMemory('mem', { a: '1' })
    const controller = new AbortController()
    const live = await watch(Signalled, { sources: [mem], signal: controller.signal })
    expect(mem.running).toBe(1)
    controller.abort()
    expect(live.stopped).toBe(true)
    await live.stop()
    expect(mem.running).toBe(0)

    const disposable = await watch(Signalled, { sources: [mem] })
    expect(mem.running).toBe(1)
    await disposable[Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose]()
    expect(disposable.stopped).toBe(true)
    expect(mem.running).toBe(0)
  })

  it('a watcher whose stop() rejects does not make stop() reject', async () => {
    class Rude {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
    }
    const mem = watchableMemory('mem', { a: '1' })
    const watchOriginal = mem.watch.bind(mem)
    mem.watch = (request, options) => {
      watchOriginal(request, options)
      return { stop: () => Promise.reject(new Error('already closed')) }
    }
    const live = await watch(Rude, { sources: [mem] })
    await expect(live.stop()).resolves.toBeUndefined()
  })
})
