// The Redis Stream watcher against a fake client, with fake timers: a connection that fails is
// replaced after the shared capped backoff (one error per outage), and the new one reads on
// from the last id seen (XREAD from it, no XREVRANGE again); stop() disconnects the reader.
import {
  redisStreamSource,
  type ComponentRequest,
  type RedisStreamClientLike,
  type RedisStreamReaderLike,
  type RedisStreamReaderOverrides,
} from 'tributary'

interface Call {
  readonly command: 'xrevrange' | 'xread'
  readonly args: readonly (string | number)[]
  resolve(value: unknown): void
  reject(error: Error): void
}

interface FakeReader {
  readonly calls: Call[]
  readonly overrides: RedisStreamReaderOverrides | undefined
  disconnected: boolean
}

function fakeClient(): { client: RedisStreamClientLike; readers: FakeReader[] } {
  const readers: FakeReader[] = []
  const client = {
    xrevrange: () => Promise.resolve([]),
    duplicate(overrides?: RedisStreamReaderOverrides): RedisStreamReaderLike {
      const reader: FakeReader = { calls: [], overrides, disconnected: false }
      readers.push(reader)
      const call =
        (command: Call['command']) =>
        (...args: (string | number)[]): Promise<never> =>
          new Promise((resolve, reject) => {
            if (reader.disconnected) return reject(new Error('Connection is closed.'))
            reader.calls.push({ command, args, resolve: resolve as (value: unknown) => void, reject })
          })
      return {
        xrevrange: call('xrevrange'),
        xread: call('xread'),
        on: () => undefined,
        disconnect() {
          reader.disconnected = true
          for (const pending of reader.calls) pending.reject(new Error('Connection is closed.'))
        },
      } as unknown as RedisStreamReaderLike
    },
  }
  return { client: client as unknown as RedisStreamClientLike, readers }
}

const request: ComponentRequest = {
  className: 'Flags',
  property: 'theme',
  key: 'flags',
  field: 'v',
  secret: false,
}

describe('redis stream watcher', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick'] }))
  afterEach(() => jest.useRealTimers())

  it('backs off between connections, reports one error per outage and reads on from the last id', async () => {
    const { client, readers } = fakeClient()
    const errors: Error[] = []
    const values: unknown[] = []
    const watcher = redisStreamSource(client, { blockTimeout: 1_000 }).watch(request, {
      signal: new AbortController().signal,
      backoff: { initialDelay: 100, maxDelay: 200 },
      onChange: (value) => values.push(value),
      onRemove: () => undefined,
      onError: (error) => errors.push(error as Error),
    })
    const last = (): FakeReader => readers.at(-1) as FakeReader
    const pending = (): Call => last().calls.at(-1) as Call
    await jest.advanceTimersByTimeAsync(0)
    expect(readers).toHaveLength(1)
    // Its own connection: no reconnects of ioredis' own, no resent commands, named.
    expect(last().overrides).toMatchObject({
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectionName: 'tributary-stream-watch',
    })
    expect(last().overrides?.retryStrategy?.(1)).toBeNull()

    pending().reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'))
    const waits = [100, 200, 200]
    for (const [i, wait] of waits.entries()) {
      await jest.advanceTimersByTimeAsync(wait - 1)
      const before = readers.length
      await jest.advanceTimersByTimeAsync(1)
      expect(readers.length).toBe(before + 1)
      expect(readers.at(-2)?.disconnected).toBe(true)
      if (i < waits.length - 1) pending().reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'))
    }
    expect(errors).toHaveLength(1)
    expect(errors[0]?.name).toBe('SourceUnavailableError')
    expect(errors[0]?.message).toBe(
      'redis-stream: Redis unavailable while watching stream flags: connect ECONNREFUSED 127.0.0.1:6379',
    )

    // Connected: the latest entry, then XREAD BLOCK from its id.
    expect(pending().command).toBe('xrevrange')
    pending().resolve([['5-0', ['v', 'a']]])
    await jest.advanceTimersByTimeAsync(0)
    expect(pending().args).toEqual(['COUNT', 100, 'BLOCK', 1_000, 'STREAMS', 'flags', '5-0'])
    pending().resolve([
      [
        'flags',
        [
          ['6-0', ['v', 'b']],
          ['7-0', ['v', 'b']],
        ],
      ],
    ])
    await jest.advanceTimersByTimeAsync(0)
    expect(pending().args.at(-1)).toBe('7-0')
    pending().resolve(null) // the block timed out: ask again from the same id
    await jest.advanceTimersByTimeAsync(0)
    expect(pending().args.at(-1)).toBe('7-0')
    expect(values).toEqual(['a', 'b', 'b'])

    // The connection drops: a new outage, and after initialDelay a new connection catches up from 7-0.
    pending().reject(new Error('Connection is closed.'))
    await jest.advanceTimersByTimeAsync(0)
    expect(errors).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(100)
    expect(pending().command).toBe('xread')
    expect(pending().args).toEqual(['COUNT', 100, 'STREAMS', 'flags', '7-0'])
    pending().resolve([['flags', [['8-0', ['v', 'c']]]]])
    await jest.advanceTimersByTimeAsync(0)
    expect(pending().args).toEqual(['COUNT', 100, 'STREAMS', 'flags', '8-0'])
    pending().resolve(null)
    await jest.advanceTimersByTimeAsync(0)
    expect(pending().args).toEqual(['COUNT', 100, 'BLOCK', 1_000, 'STREAMS', 'flags', '8-0'])
    expect(values).toEqual(['a', 'b', 'b', 'c'])

    await watcher.stop()
    expect(last().disconnected).toBe(true)
    expect(jest.getTimerCount()).toBe(0)
    expect(errors).toHaveLength(2)
  })
})
