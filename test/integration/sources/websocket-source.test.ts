import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  Component,
  isSourceError,
  isSourceNotFoundError,
  isSourcePermissionError,
  isSourceUnavailableError,
  resolve,
  websocketSource,
} from 'tributary'
import { recorder } from '../live/recorder'
import { context, request } from './request'

/** A feed server on a free loopback port: what it does depends on the path. */
async function startFeed(): Promise<{
  url: string
  server: Server
  wss: WebSocketServer
  headers: string[]
}> {
  const wss = new WebSocketServer({ noServer: true })
  const headers: string[] = []
  const server = createServer()
  server.on('upgrade', (req, socket, head) => {
    const path = req.url ?? '/'
    headers.push(String(req.headers.authorization ?? ''))
    if (path === '/auth') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (path === '/missing') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (path === '/prices') ws.send(JSON.stringify({ pair: 'EURUSD', price: 1.085 }))
      if (path === '/text') ws.send('plain text')
      if (path === '/binary') ws.send(Buffer.from('{"n":7}'), { binary: true })
      if (path === '/close') ws.close(1011, 'feed broken')
      if (path === '/ticks') for (const n of [1, 2, 2, 3]) ws.send(String(n))
      // '/silent': connected, never sends
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return { url: `ws://127.0.0.1:${port}/`, server, wss, headers }
}

describe('websocketSource', () => {
  let feed: Awaited<ReturnType<typeof startFeed>>
  beforeAll(async () => {
    feed = await startFeed()
  })
  afterAll(async () => {
    for (const client of feed.wss.clients) client.terminate()
    await new Promise<void>((done) => feed.wss.close(() => done()))
    await new Promise<void>((done) => feed.server.close(() => done()))
  })

  it('is named websocket (or as told) and applies fields itself; options are checked', () => {
    const source = websocketSource({ url: feed.url })
    expect(source.name).toBe('websocket')
    expect(websocketSource({ name: 'ticker' }).name).toBe('ticker')
    expect(source.appliesField).toBe(true)
    expect(() => websocketSource({ uri: 'ws://x' } as never)).toThrow(/unknown option "uri"/)
    expect(() => websocketSource({ url: 'http://127.0.0.1/' })).toThrow(/not a ws:\/\/ or wss:\/\/ URL/)
    expect(() => websocketSource({ timeout: 0 })).toThrow(
      'websocketSource(options): option timeout must be a number of milliseconds > 0, got 0',
    )
    expect(() => websocketSource({ uri: 'ws://x' } as never)).toThrow('(did you mean "url"?)')
    expect(() => websocketSource({ protocols: 3 } as never)).toThrow(
      /option protocols must be a string or an array/,
    )
  })

  it('resolve waits for the first message: JSON when it parses, else the text; field picks a path', async () => {
    const source = websocketSource({ url: feed.url })
    expect(await source.fetch(request({ key: 'prices' }), context())).toEqual({
      pair: 'EURUSD',
      price: 1.085,
    })
    expect(await source.fetch(request({ key: 'prices', field: 'price' }), context())).toBe(1.085)
    expect(await source.fetch(request({ key: 'text' }), context())).toBe('plain text')
    expect(await source.fetch(request({ key: `${feed.url}binary` }), context())).toEqual({ n: 7 })
    // Without a key, the source's url.
    expect(await websocketSource({ url: `${feed.url}text` }).fetch(request(), context())).toBe('plain text')
  })

  it('resolve() coerces the first message to the property type', async () => {
    class Prices {
      @Component({ fetchFrom: 'websocket', key: 'prices', field: 'price' }) price!: number
      @Component({ fetchFrom: 'websocket', key: 'ticks' }) tick!: string
    }
    expect(await resolve(Prices, { sources: [websocketSource({ url: feed.url })] })).toMatchObject({
      price: 1.085,
      tick: '1',
    })
  })

  it('no message in time is a SourceUnavailableError; the resolve timeout applies too', async () => {
    const source = websocketSource({ url: feed.url, timeout: 100 })
    const error = await source.fetch(request({ key: 'silent' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    expect((error as Error).message).toBe(`websocket: no message from ${feed.url}silent within 100 ms`)
    class Silent {
      @Component({ fetchFrom: 'websocket', key: 'silent' }) value!: string
    }
    const started = Date.now()
    await expect(
      resolve(Silent, { sources: [websocketSource({ url: feed.url })], timeout: 150 }),
    ).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('a feed that closes first, refuses (401) or does not exist (404) fails with the matching error', async () => {
    const source = websocketSource({ url: feed.url })
    const closed = await source.fetch(request({ key: 'close' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(closed)).toBe(true)
    expect((closed as Error).message).toBe(
      `websocket: ${feed.url}close closed before its first message (code 1011 (feed broken))`,
    )
    const refused = await source.fetch(request({ key: 'auth' }), context()).catch((e: unknown) => e)
    expect(isSourcePermissionError(refused)).toBe(true)
    expect(refused).toMatchObject({ source: 'websocket', key: `${feed.url}auth` })
    const missing = await source.fetch(request({ key: 'missing' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    const field = await source.fetch(request({ key: 'prices', field: 'volume' }), context()).catch((e) => e)
    expect(isSourceNotFoundError(field)).toBe(true)
    const notJson = await source
      .fetch(request({ key: 'text', field: 'x' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(notJson) && !isSourceNotFoundError(notJson)).toBe(true)
    expect((notJson as Error).message).not.toContain('plain text')
  })

  it('nothing listening is a SourceUnavailableError; credentials in the URL and headers are never printed', async () => {
    const port = Number(new URL(feed.url).port)
    const withSecrets = websocketSource({
      url: `ws://feeduser:s3cret-pw@127.0.0.1:${port}/`,
      headers: { Authorization: 'Bearer t0ken-value' },
    })
    const refused = await withSecrets.fetch(request({ key: 'auth' }), context()).catch((e: unknown) => e)
    expect(feed.headers.at(-1)).toBe('Bearer t0ken-value')
    expect(isSourcePermissionError(refused)).toBe(true)
    expect((refused as Error).message).toContain(`ws://***@127.0.0.1:${port}/auth`)
    const free = createServer()
    await new Promise<void>((done) => free.listen(0, '127.0.0.1', done))
    const freePort = (free.address() as AddressInfo).port
    await new Promise<void>((done) => free.close(() => done()))
    const down = websocketSource({
      url: `ws://feeduser:s3cret-pw@127.0.0.1:${freePort}/`,
      headers: { Authorization: 'Bearer t0ken-value' },
    })
    const error = await down.fetch(request({ key: 'prices' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    for (const e of [refused, error]) {
      const shown = `${String(e)} ${JSON.stringify(e)} ${String((e as { cause?: unknown }).cause)}`
      expect(shown).not.toContain('s3cret-pw')
      expect(shown).not.toContain('t0ken-value')
    }
  })

  it('an aborted signal ends the wait and closes the connection', async () => {
    const controller = new AbortController()
    const pending = websocketSource({ url: feed.url }).fetch(
      request({ key: 'silent' }),
      context(controller.signal),
    )
    setTimeout(() => controller.abort(), 50)
    await expect(pending).rejects.toThrow()
    const already = new AbortController()
    already.abort()
    await expect(
      websocketSource({ url: feed.url }).fetch(request({ key: 'prices' }), context(already.signal)),
    ).rejects.toThrow()
  })

  it('watch: every message once and in order (a repeated value too)', async () => {
    const rec = recorder()
    const watcher = websocketSource({ url: feed.url }).watch(request({ key: 'ticks' }), rec.options)
    try {
      await rec.until((events) => events.length === 4)
    } finally {
      await watcher.stop()
    }
    expect(rec.values()).toEqual([1, 2, 2, 3])
  })
})
