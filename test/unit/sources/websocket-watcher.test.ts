// The WebSocket watcher's reconnects, with fake timers and a fake socket: the shared capped
// backoff (initialDelay doubling to maxDelay), one error per outage, the backoff reset once a
// connection opens, and stop() closing the socket.
import { EventEmitter } from 'node:events'
import { websocketSource, type ComponentRequest, type WebSocketConstructorLike } from 'tributary'

class FakeSocket extends EventEmitter {
  static made: FakeSocket[] = []
  readyState = 0
  pings = 0
  constructor(readonly url: string) {
    super()
    FakeSocket.made.push(this)
  }
  open(): void {
    this.readyState = 1
    this.emit('open')
  }
  message(text: string): void {
    this.emit('message', Buffer.from(text), false)
  }
  fail(reason: string): void {
    this.emit('error', new Error(reason))
    this.closed(1006)
  }
  closed(code: number): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.emit('close', code, Buffer.alloc(0))
  }
  terminate(): void {
    this.closed(1006)
  }
  ping(): void {
    this.pings += 1
  }
}

const request: ComponentRequest = { className: 'Ticker', property: 'price', key: 'prices', secret: false }

describe('websocket watcher reconnects', () => {
  beforeEach(() => {
    FakeSocket.made = []
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick'] })
  })
  afterEach(() => jest.useRealTimers())

  it('waits initialDelay doubling to maxDelay between attempts, reports one error per outage, resets after an open', async () => {
    const source = websocketSource({
      url: 'ws://user:pw@feed.test/',
      WebSocket: FakeSocket as unknown as WebSocketConstructorLike,
    })
    const errors: Error[] = []
    const values: unknown[] = []
    const watcher = source.watch(request, {
      signal: new AbortController().signal,
      backoff: { initialDelay: 100, maxDelay: 400 },
      onChange: (value) => values.push(value),
      onRemove: () => undefined,
      onError: (error) => errors.push(error as Error),
    })
    const attempts = (): number => FakeSocket.made.length
    const last = (): FakeSocket => FakeSocket.made.at(-1) as FakeSocket
    expect(attempts()).toBe(1)
    expect(last().url).toBe('ws://user:pw@feed.test/prices')

    last().fail('connect ECONNREFUSED 10.0.0.1:80')
    const waits = [100, 200, 400, 400]
    for (const [i, wait] of waits.entries()) {
      await jest.advanceTimersByTimeAsync(wait - 1)
      const before = attempts()
      await jest.advanceTimersByTimeAsync(1)
      expect(attempts()).toBe(before + 1)
      if (i < waits.length - 1) last().fail('connect ECONNREFUSED 10.0.0.1:80')
    }
    // Four failed attempts in a row: one outage, one error, the URL's credentials masked.
    expect(errors).toHaveLength(1)
    expect(errors[0]?.name).toBe('SourceUnavailableError')
    expect(errors[0]?.message).toBe(
      'websocket: unavailable while watching ws://***@feed.test/prices: connect ECONNREFUSED 10.0.0.1:80',
    )

    // It opens: messages are values; the next close is a new outage, retried after initialDelay again.
    last().open()
    last().message('{"price":1.5}')
    last().message('plain')
    expect(values).toEqual([{ price: 1.5 }, 'plain'])
    last().closed(1001)
    await jest.advanceTimersByTimeAsync(0)
    expect(errors).toHaveLength(2)
    expect(errors[1]?.message).toBe(
      'websocket: the connection to ws://***@feed.test/prices closed (code 1001)',
    )
    const before = attempts()
    await jest.advanceTimersByTimeAsync(99)
    expect(attempts()).toBe(before)
    await jest.advanceTimersByTimeAsync(1)
    expect(attempts()).toBe(before + 1)

    // stop() closes the open (or opening) socket and nothing reconnects after it.
    const current = last()
    await watcher.stop()
    expect(current.readyState).toBe(3)
    await jest.advanceTimersByTimeAsync(10_000)
    expect(attempts()).toBe(before + 1)
    expect(errors).toHaveLength(2)
  })

  it('stop() during a backoff wait ends the wait at once', async () => {
    const source = websocketSource({
      url: 'ws://feed.test/',
      WebSocket: FakeSocket as unknown as WebSocketConstructorLike,
    })
    const watcher = source.watch(request, {
      signal: new AbortController().signal,
      backoff: { initialDelay: 30_000 },
      onChange: () => undefined,
      onRemove: () => undefined,
      onError: () => undefined,
    })
    FakeSocket.made[0]?.fail('ECONNRESET')
    await jest.advanceTimersByTimeAsync(0)
    await watcher.stop()
    expect(FakeSocket.made).toHaveLength(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('drops a connection that answers no ping (nor with a message) for a heartbeat, and reconnects', async () => {
    const source = websocketSource({
      url: 'ws://feed.test/',
      heartbeat: 1_000,
      WebSocket: FakeSocket as unknown as WebSocketConstructorLike,
    })
    const errors: Error[] = []
    const watcher = source.watch(request, {
      signal: new AbortController().signal,
      backoff: { initialDelay: 100 },
      onChange: () => undefined,
      onRemove: () => undefined,
      onError: (error) => errors.push(error as Error),
    })
    const socket = FakeSocket.made[0] as FakeSocket
    socket.open()
    await jest.advanceTimersByTimeAsync(1_000)
    expect(socket.pings).toBe(1)
    socket.emit('pong')
    await jest.advanceTimersByTimeAsync(1_000)
    expect(socket.pings).toBe(2)
    socket.message('"still here"') // a message answers too
    await jest.advanceTimersByTimeAsync(1_000)
    expect(socket.pings).toBe(3)
    expect(socket.readyState).toBe(1)
    // Silent for a whole heartbeat: dropped, one error, a new connection after the backoff.
    await jest.advanceTimersByTimeAsync(1_000)
    expect(socket.readyState).toBe(3)
    expect(errors.map((e) => e.message)).toEqual([
      'websocket: ws://feed.test/prices answered no ping within 1000 ms',
    ])
    await jest.advanceTimersByTimeAsync(100)
    expect(FakeSocket.made).toHaveLength(2)
    await watcher.stop()
    expect(jest.getTimerCount()).toBe(0)
  })
})
