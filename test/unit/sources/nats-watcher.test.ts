// The NATS stream watcher against a fake JetStream module and connection, with fake timers:
// a consumer that cannot be created is retried with the shared capped backoff (one error for
// the outage); a consumer that ends is replaced by one starting after the last sequence seen,
// so nothing is repeated; a connection's disconnect is one error, its reconnect the end of it;
// stop() returns even when the status iterator has no stop().
import {
  natsStreamSource,
  type ComponentRequest,
  type NatsStatusLike,
  type NatsStreamConnectionLike,
} from 'tributary'

interface FakeMessages {
  push(seq: number, text: string): void
  end(): void
}
type ConsumerOptions = { filter_subjects: string; deliver_policy: string; opt_start_seq?: number }

const state: {
  gets: ConsumerOptions[]
  failGets: number
  messages: FakeMessages[]
} = { gets: [], failGets: 0, messages: [] }

/** An async iterable fed by `push`, ended by `end`. */
function channel<T>(): { iterable: AsyncIterable<T>; push(value: T): void; end(): void } {
  const queue: T[] = []
  const waiting: Array<(result: IteratorResult<T>) => void> = []
  let ended = false
  return {
    push(value) {
      const waiter = waiting.shift()
      if (waiter) waiter({ done: false, value })
      else queue.push(value)
    },
    end() {
      ended = true
      for (const waiter of waiting.splice(0)) waiter({ done: true, value: undefined })
    },
    iterable: {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          queue.length > 0
            ? Promise.resolve({ done: false, value: queue.shift() as T })
            : ended
              ? Promise.resolve({ done: true, value: undefined })
              : new Promise<IteratorResult<T>>((resolve) => waiting.push(resolve)),
      }),
    },
  }
}

jest.mock('@nats-io/jetstream', () => ({
  jetstreamManager: async () => ({ streams: {} }),
  jetstream: () => ({
    consumers: {
      async get(_stream: string, options: ConsumerOptions) {
        state.gets.push(options)
        if (state.failGets > 0) {
          state.failGets -= 1
          throw Object.assign(new Error('timeout'), { name: 'TimeoutError' })
        }
        return {
          async consume() {
            const data = channel<{ seq: number; data: Uint8Array }>()
            const statuses = channel<{ type: string }>()
            state.messages.push({
              push: (seq, text) => data.push({ seq, data: Buffer.from(text) }),
              end: () => {
                data.end()
                statuses.end()
              },
            })
            return {
              [Symbol.asyncIterator]: () => data.iterable[Symbol.asyncIterator](),
              status: () => statuses.iterable,
              async close() {
                data.end()
                statuses.end()
              },
            }
          },
        }
      },
    },
  }),
}))

const request: ComponentRequest = {
  className: 'Flags',
  property: 'flags',
  key: 'config.flags',
  secret: false,
}

describe('nats stream watcher', () => {
  let connectionStatus: ReturnType<typeof channel<NatsStatusLike>>
  let connection: NatsStreamConnectionLike
  beforeEach(() => {
    state.gets = []
    state.failGets = 0
    state.messages = []
    connectionStatus = channel<NatsStatusLike>()
    // A status iterator without stop(): stop() must not wait for its next event.
    connection = {
      request: async () => undefined,
      isClosed: () => false,
      status: () => connectionStatus.iterable,
    }
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick'] })
  })
  afterEach(() => jest.useRealTimers())

  it('retries with the capped backoff, resumes after the last sequence, reports one error per outage', async () => {
    state.failGets = 3
    const errors: Error[] = []
    const values: unknown[] = []
    const watcher = natsStreamSource(connection, { stream: 'CONFIG' }).watch(request, {
      signal: new AbortController().signal,
      backoff: { initialDelay: 100, maxDelay: 200 },
      onChange: (value) => values.push(value),
      onRemove: () => undefined,
      onError: (error) => errors.push(error as Error),
    })
    await jest.advanceTimersByTimeAsync(0)
    expect(state.gets).toHaveLength(1)
    for (const wait of [100, 200, 200]) {
      await jest.advanceTimersByTimeAsync(wait - 1)
      const before = state.gets.length
      await jest.advanceTimersByTimeAsync(1)
      expect(state.gets.length).toBe(before + 1)
    }
    expect(errors).toHaveLength(1)
    expect(errors[0]?.name).toBe('SourceUnavailableError')
    expect(errors[0]?.message).toContain('config.flags')
    expect(state.gets[0]).toEqual({ filter_subjects: 'config.flags', deliver_policy: 'last_per_subject' })

    const first = state.messages[0] as FakeMessages
    first.push(4, '{"beta":true}')
    first.push(5, 'plain')
    first.push(5, 'plain') // a redelivery of a sequence already seen
    await jest.advanceTimersByTimeAsync(0)
    expect(values).toEqual([{ beta: true }, 'plain'])

    // The consumer ends: one error, a new consumer after the backoff, starting at sequence 6.
    first.end()
    await jest.advanceTimersByTimeAsync(0)
    expect(errors).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(100)
    expect(state.gets.at(-1)).toEqual({
      filter_subjects: 'config.flags',
      deliver_policy: 'by_start_sequence',
      opt_start_seq: 6,
    })
    ;(state.messages[1] as FakeMessages).push(6, '42')
    await jest.advanceTimersByTimeAsync(0)
    expect(values).toEqual([{ beta: true }, 'plain', 42])

    // The connection drops and comes back: one error, whatever happens in between.
    connectionStatus.push({ type: 'disconnect' })
    connectionStatus.push({ type: 'reconnecting' })
    connectionStatus.push({ type: 'reconnecting' })
    await jest.advanceTimersByTimeAsync(0)
    expect(errors).toHaveLength(3)
    expect(errors[2]?.message).toBe(
      'nats: NATS unavailable while watching subject config.flags: the connection dropped',
    )
    connectionStatus.push({ type: 'reconnect' })
    connectionStatus.push({ type: 'disconnect' })
    await jest.advanceTimersByTimeAsync(0)
    expect(errors).toHaveLength(4)

    await watcher.stop()
    expect(jest.getTimerCount()).toBe(0)
  })
})
