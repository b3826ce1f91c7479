// Issue 15, defect 4: a server with `Last-Modified` only (no ETag) compares at 1 s resolution,
// so a change in the same second as the previous one keeps the same `Last-Modified`. The
// server's clock here is set by the test (sent as `Date`), so nothing depends on the wall clock.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpSource } from '../../../src/sources/http/http-source'
import { strongLastModified } from '../../../src/sources/http/http-watcher'
import { isValue, recorder, request, sleep } from './recorder'

interface ClockedServer {
  readonly url: string
  /** The server's clock, in whole seconds since the epoch. */
  now: number
  /** Changes the document; its `Last-Modified` is the server's current second. */
  write(body: string): void
  readonly log: Array<{ ifModifiedSince: string | undefined; status: number }>
  close(): Promise<void>
}

const httpDate = (seconds: number): string => new Date(seconds * 1_000).toUTCString()

async function startClockedServer(start: number): Promise<ClockedServer> {
  let body = ''
  let modified = start
  const log: ClockedServer['log'] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const since = req.headers['if-modified-since']
    res.setHeader('date', httpDate(state.now))
    res.setHeader('last-modified', httpDate(modified))
    // As servers do: 1 s resolution, not modified when Last-Modified <= If-Modified-Since.
    const status = since !== undefined && modified * 1_000 <= Date.parse(since) ? 304 : 200
    log.push({ ifModifiedSince: since, status })
    res.statusCode = status
    if (status === 304) return void res.end()
    res.setHeader('content-type', 'application/json')
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const state: ClockedServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    now: start,
    write(next) {
      body = next
      modified = state.now
    },
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
  return state
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('http watcher with Last-Modified only (issue 15, defect 4)', () => {
  let server: ClockedServer
  const watchers: Array<{ stop(): Promise<void> }> = []
  beforeEach(async () => {
    server = await startClockedServer(1_767_225_600)
  })
  afterEach(async () => {
    // Also after a failed test: a watcher left polling would keep jest alive.
    await Promise.all(watchers.splice(0).map((w) => w.stop()))
    await server.close()
  })

  it('a change in the same second as the previous one is seen; a Last-Modified a second old is then used', async () => {
    server.write('{"v":"a"}')
    const rec = recorder({ pollInterval: 20 })
    const watcher = httpSource({ baseUrl: server.url }).watch(request('/doc', { field: 'v' }), rec.options)
    watchers.push(watcher)
    await rec.until(isValue('a'))
    const seen = server.log.length
    await waitFor(() => server.log.length >= seen + 2)
    // Same second: the document's Last-Modified does not change.
    server.write('{"v":"b"}')
    await rec.until(isValue('b'), 3_000)
    // Less than a second old, the date is weak: no If-Modified-Since was sent.
    expect(server.log.every((r) => r.ifModifiedSince === undefined)).toBe(true)
    // A second later the same Last-Modified is strong: polls are conditional, and answered 304.
    server.now += 1
    await waitFor(() => server.log.some((r) => r.status === 304))
    expect(server.log.find((r) => r.status === 304)?.ifModifiedSince).toBe(httpDate(server.now - 1))
    server.now += 4
    server.write('{"v":"c"}')
    await rec.until(isValue('c'))
    await watcher.stop()
    expect(rec.values()).toEqual(['a', 'b', 'c'])
  })

  it('strongLastModified: weak within a second of Date (or of the receipt without Date), unusable when unparsable', () => {
    const at = Date.parse('Thu, 01 Jan 2026 00:00:10 GMT')
    const headers = (h: Record<string, string>): Headers => new Headers(h)
    const lm = 'Thu, 01 Jan 2026 00:00:09 GMT'
    expect(strongLastModified(headers({ 'last-modified': lm, date: 'Thu, 01 Jan 2026 00:00:10 GMT' }))).toBe(
      lm,
    )
    expect(
      strongLastModified(headers({ 'last-modified': lm, date: 'Thu, 01 Jan 2026 00:00:09 GMT' })),
    ).toBeUndefined()
    expect(strongLastModified(headers({ 'last-modified': lm }), at)).toBe(lm)
    expect(strongLastModified(headers({ 'last-modified': lm }), at - 500)).toBeUndefined()
    expect(strongLastModified(headers({ 'last-modified': 'yesterday' }), at)).toBeUndefined()
    expect(strongLastModified(headers({}), at)).toBeUndefined()
  })
})
