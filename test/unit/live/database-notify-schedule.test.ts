// The notify-driven database watcher's schedule, with fake timers and a fake listener: which
// interval applies while listening and while not, and how notifications coalesce.
import { SourceUnavailableError, type ComponentSource, type SourceWatchOptions } from 'tributary'
import { watchDatabase } from '../../../src/sources/database/database-watcher'
import type { ChannelListener, ListenSubscriber } from '../../../src/sources/database/database-listener'

afterEach(() => jest.useRealTimers())

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

function fakeListener() {
  const subscribers = new Set<ListenSubscriber>()
  let released = 0
  const listener: ChannelListener = {
    connected: false,
    subscribe(subscriber) {
      subscribers.add(subscriber)
      return () => {
        subscribers.delete(subscriber)
        released += 1
        return Promise.resolve()
      }
    },
  }
  return {
    listener,
    up: () => subscribers.forEach((s) => s.listening()),
    notify: () => subscribers.forEach((s) => s.notify('k')),
    down: () => subscribers.forEach((s) => s.failed(new SourceUnavailableError({ source: 'db' }, 'lost'))),
    get released() {
      return released
    },
  }
}

function countingSource(readMs = 0) {
  let reads = 0
  let value = 0
  const source: ComponentSource = {
    name: 'db',
    appliesField: true,
    fetch: async () => {
      reads += 1
      if (readMs > 0) await new Promise((resolve) => setTimeout(resolve, readMs))
      return String(value)
    },
  }
  return {
    source,
    set: (n: number) => {
      value = n
    },
    get reads() {
      return reads
    },
  }
}

function options(events: string[], extra: Partial<SourceWatchOptions> = {}): SourceWatchOptions {
  return {
    signal: new AbortController().signal,
    ...extra,
    onChange: (v) => events.push(`value ${String(v)}`),
    onRemove: () => events.push('removed'),
    onError: (e) => events.push(`error ${(e as Error).message}`),
  }
}

const request = { className: 'C', property: 'p', key: 'k', secret: false }

describe('database watcher with notify: the schedule', () => {
  it('polls at pollInterval until listening, then at the safety interval; a notification reads at once', async () => {
    jest.useFakeTimers()
    const fake = fakeListener()
    const db = countingSource()
    const events: string[] = []
    const watcher = watchDatabase(db.source, request, options(events, { pollInterval: 1_000 }), {
      listener: fake.listener,
      safetyPollInterval: 60_000,
    })
    await settle()
    expect(db.reads).toBe(1)
    await jest.advanceTimersByTimeAsync(1_000)
    expect(db.reads).toBe(2) // not listening yet: pollInterval
    fake.up()
    await settle()
    expect(db.reads).toBe(3) // (re)connected: one re-read
    await jest.advanceTimersByTimeAsync(59_000)
    expect(db.reads).toBe(3) // listening: only the safety net polls
    await jest.advanceTimersByTimeAsync(1_000)
    expect(db.reads).toBe(4)
    db.set(5)
    fake.notify()
    await settle()
    expect(db.reads).toBe(5)
    expect(events).toEqual(['value 0', 'value 5'])
    fake.down()
    await settle()
    expect(events.at(-1)).toBe('error lost')
    const afterDown = db.reads
    await jest.advanceTimersByTimeAsync(1_000)
    expect(db.reads).toBe(afterDown + 1) // not listening: back to pollInterval
    await watcher.stop()
    expect(fake.released).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('notifications during a read make one more read, not one each', async () => {
    jest.useFakeTimers()
    const fake = fakeListener()
    const db = countingSource(100)
    const watcher = watchDatabase(db.source, request, options([], { pollInterval: 600_000 }), {
      listener: fake.listener,
      safetyPollInterval: 600_000,
    })
    fake.up()
    await jest.advanceTimersByTimeAsync(10)
    const during = db.reads
    for (let i = 0; i < 50; i++) fake.notify()
    await jest.advanceTimersByTimeAsync(1_000)
    expect(db.reads).toBe(during + 1)
    await watcher.stop()
    expect(jest.getTimerCount()).toBe(0)
  })
})
