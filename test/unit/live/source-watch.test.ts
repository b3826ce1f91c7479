import {
  SourceNotFoundError,
  SourceUnavailableError,
  backoffDelay,
  canWatch,
  pollingWatcher,
  type ComponentSource,
} from 'tributary'

describe('source watch helpers', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('backoff is exponential and capped', () => {
    expect([1, 2, 3, 4, 20].map((n) => backoffDelay(n, { initialDelay: 100, maxDelay: 500 }))).toEqual([
      100, 200, 400, 500, 500,
    ])
  })

  it('the polling watcher reports changes, a deletion, one error per outage and the recovery', async () => {
    let state: { value?: string; down?: boolean } = { value: 'a' }
    let reads = 0
    const source: ComponentSource = {
      name: 'memory',
      async fetch() {
        reads += 1
        if (state.down) throw new SourceUnavailableError({ source: 'memory', key: 'k' })
        if (state.value === undefined) throw new SourceNotFoundError({ source: 'memory', key: 'k' })
        return state.value
      },
    }
    expect(canWatch(source)).toBe(false)
    const events: string[] = []
    const controller = new AbortController()
    const watcher = pollingWatcher(source)(
      { className: 'C', property: 'p', key: 'k', secret: false },
      {
        signal: controller.signal,
        pollInterval: 1_000,
        backoff: { initialDelay: 100, maxDelay: 400 },
        onChange: (v) => events.push(`value:${String(v)}`),
        onRemove: () => events.push('removed'),
        onError: (e) => events.push(`error:${(e as Error).name}`),
      },
    )
    await jest.advanceTimersByTimeAsync(0)
    expect(events).toEqual(['value:a'])
    await jest.advanceTimersByTimeAsync(1_000)
    expect(events).toEqual(['value:a'])
    state = { value: 'b' }
    await jest.advanceTimersByTimeAsync(1_000)
    state = {}
    await jest.advanceTimersByTimeAsync(1_000)
    state = { down: true }
    const before = reads
    await jest.advanceTimersByTimeAsync(5_000)
    // 100, 200, 400, 400… backoff: about a dozen reads in 5 s, not thousands; one error.
    expect(reads - before).toBeLessThan(16)
    state = { value: 'c' }
    await jest.advanceTimersByTimeAsync(1_000)
    expect(events).toEqual(['value:a', 'value:b', 'removed', 'error:SourceUnavailableError', 'value:c'])
    await watcher.stop()
    expect(jest.getTimerCount()).toBe(0)
  })
})
