import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { httpSource } from '../../../src/sources/http/http-source'
import { isValue, recorder, request, sleep, type Reported } from './recorder'
import { startToggleProxy, type ToggleProxy } from './toggle-proxy'

/** A config server on 127.0.0.1: one document with an ETag, headers and failure modes to set. */
interface ConfigServer {
  readonly port: number
  body: string | undefined
  contentType: string
  etags: boolean
  cacheControl: string | undefined
  status: number | undefined
  /** Holds every answer until released (or the client gives up). */
  hold: boolean
  readonly log: Array<{ ifNoneMatch: string | undefined; status: number; at: number; auth?: string }>
  /** Requests whose client closed the connection before an answer. */
  abandoned: number
  close(): Promise<void>
}

async function startConfigServer(): Promise<ConfigServer> {
  let version = 0
  let lastBody: string | undefined
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const answer = (status: number): void => {
      state.log.push({
        ifNoneMatch: req.headers['if-none-match'],
        status,
        at: Date.now(),
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      })
      res.statusCode = status
      if (state.cacheControl !== undefined) res.setHeader('cache-control', state.cacheControl)
      if (status !== 200) return void res.end()
      res.setHeader('content-type', state.contentType)
      if (state.etags) res.setHeader('etag', `"v${version}"`)
      res.end(state.body)
    }
    if (state.hold) {
      res.on('close', () => {
        if (!res.writableFinished) state.abandoned += 1
      })
      return
    }
    if (state.body !== lastBody) {
      version += 1
      lastBody = state.body
    }
    if (state.status !== undefined) return answer(state.status)
    if (state.body === undefined) return answer(404)
    if (state.etags && req.headers['if-none-match'] === `"v${version}"`) return answer(304)
    answer(200)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const state: ConfigServer = {
    port: (server.address() as AddressInfo).port,
    body: undefined,
    contentType: 'application/json',
    etags: true,
    cacheControl: undefined,
    status: undefined,
    hold: false,
    log: [],
    abandoned: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
  return state
}

const lastKind =
  (kind: Reported['kind']) =>
  (events: readonly Reported[]): boolean =>
    events.at(-1)?.kind === kind

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('http watcher (real HTTP server on 127.0.0.1)', () => {
  let server: ConfigServer
  let proxy: ToggleProxy
  beforeEach(async () => {
    server = await startConfigServer()
    proxy = await startToggleProxy(server.port)
  })
  afterEach(async () => {
    await proxy.close()
    await server.close()
  })

  const watch = (pollInterval: number, field?: string, bearerToken?: string) => {
    const rec = recorder({ pollInterval })
    const source = httpSource({ baseUrl: proxy.url, ...(bearerToken ? { bearerToken } : {}) })
    const watcher = source.watch(request('/config.json', field === undefined ? {} : { field }), rec.options)
    return { rec, watcher }
  }

  it('sends If-None-Match, keeps the value on 304, sees a change, a deletion and a return', async () => {
    server.body = '{"port":1}'
    const { rec, watcher } = watch(20, 'port')
    await rec.until(isValue(1))
    await waitFor(() => server.log.filter((r) => r.status === 304).length >= 3)
    expect(server.log[0]?.ifNoneMatch).toBeUndefined()
    expect(server.log.slice(1).every((r) => r.ifNoneMatch === '"v1"')).toBe(true)
    server.body = '{"port":2}'
    await rec.until(isValue(2))
    server.body = undefined
    await rec.until(lastKind('removed'))
    server.body = '{"port":3}'
    await rec.until(isValue(3))
    // After a 404 the validators are dropped: the return is a plain GET.
    const returned = server.log.findIndex(
      (r, i) => i > 0 && server.log[i - 1]?.status === 404 && r.status === 200,
    )
    expect(server.log[returned]?.ifNoneMatch).toBeUndefined()
    await watcher.stop()
    expect(rec.events.map((e) => (e.kind === 'value' ? e.value : e.kind))).toEqual([1, 2, 'removed', 3])
  })

  it('Cache-Control: max-age is the minimum interval; no-store polls at pollInterval', async () => {
    server.body = '{"n":1}'
    server.cacheControl = 'public, max-age=1'
    const { rec, watcher } = watch(20, 'n')
    await rec.until(isValue(1))
    server.body = '{"n":2}'
    await rec.until(isValue(2), 10_000)
    const [first, second] = server.log
    // A 20 ms poll interval, but the answer was fresh for 1 s.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950)
    server.cacheControl = 'no-store'
    const before = server.log.length
    await waitFor(() => server.log.length >= before + 5)
    await watcher.stop()
  })

  it('a body that is not JSON is one error, kept until the document is fixed', async () => {
    server.body = '{"level":"info"}'
    server.etags = false
    const { rec, watcher } = watch(20, 'level')
    await rec.until(isValue('info'))
    server.body = '{"level":'
    await rec.until(lastKind('error'))
    const before = server.log.length
    await waitFor(() => server.log.length >= before + 3)
    server.body = '{"level":"debug"}'
    await rec.until(isValue('debug'))
    await watcher.stop()
    expect(rec.events.map((e) => e.kind)).toEqual(['value', 'error', 'value'])
    const error = rec.events[1] as { error: Error }
    expect(error.error.message).toMatch(/not valid JSON/)
  })

  it('503 then a dead server: one error, capped backoff, then the current value', async () => {
    const token = 'bearer-do-not-print'
    server.body = '{"url":"a"}'
    const { rec, watcher } = watch(20, 'url', token)
    await rec.until(isValue('a'))
    expect(server.log[0]?.auth).toBe(`Bearer ${token}`)
    server.status = 503
    await rec.until(lastKind('error'))
    const failingFrom = server.log.length
    await sleep(500)
    // 20, 40, 80, 160, 200 ms…: a handful of retries in 500 ms, not one every 20 ms.
    expect(server.log.length - failingFrom).toBeLessThanOrEqual(6)
    await proxy.down()
    await sleep(200)
    server.status = undefined
    server.body = '{"url":"b"}'
    await proxy.up()
    await rec.until(isValue('b'))
    await watcher.stop()
    const errors = rec.events.filter((e): e is Extract<Reported, { kind: 'error' }> => e.kind === 'error')
    expect(errors).toHaveLength(1)
    const error = errors[0]?.error as Error & { status?: number }
    expect(error.name).toBe('HttpUnavailableError')
    expect(error.status).toBe(503)
    expect(inspect(error, { depth: 8 })).not.toContain(token)
  })

  it('a refused connection is a SourceUnavailableError without the token', async () => {
    const token = 'bearer-do-not-print'
    await proxy.down()
    const { rec, watcher } = watch(20, undefined, token)
    await rec.until(lastKind('error'))
    await watcher.stop()
    const error = (rec.events[0] as { error: Error }).error
    expect(error.name).toBe('SourceUnavailableError')
    expect(error.message).toMatch(/ECONNREFUSED/)
    expect(inspect(error, { depth: 8 })).not.toContain(token)
  })

  it('stop() mid-wait ends the wait; stop() mid-request aborts the request', async () => {
    server.body = '{"v":1}'
    const idle = watch(60_000, 'v')
    await idle.rec.until(isValue(1))
    const count = server.log.length
    await idle.watcher.stop()
    await sleep(50)
    expect(server.log.length).toBe(count)

    server.hold = true
    const held = watch(60_000, 'v')
    await sleep(100)
    await held.watcher.stop()
    await waitFor(() => server.abandoned === 1)
    expect(held.rec.events).toEqual([])
  })
})
