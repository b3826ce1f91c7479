import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Component, httpSource, watch } from 'tributary'
import { lastIs, logUpdates, sleep } from './live-log'

describe('watch() over HTTP (a local server with ETags)', () => {
  let server: Server
  let baseUrl: string
  let body: string | undefined = '{"rps":10,"mode":"a"}'
  let version = 1
  const seen: Array<{ ifNoneMatch: string | undefined; status: number }> = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      const etag = `"v${version}"`
      const ifNoneMatch = req.headers['if-none-match']
      let status = 200
      if (body === undefined) status = 404
      else if (ifNoneMatch === etag) status = 304
      seen.push({ ifNoneMatch, status })
      res.writeHead(status, { 'content-type': 'application/json', ...(body === undefined ? {} : { etag }) })
      res.end(status === 200 ? body : undefined)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('keeps the value on 304, applies a change, falls back on a 404, and sees the return', async () => {
    class Remote {
      @Component({ fetchFrom: 'http', key: '/limits.json', field: 'rps', pollInterval: 25 }) rps!: number
      @Component({
        fetchFrom: 'http',
        key: '/limits.json',
        field: 'mode',
        fallback: 'safe',
        pollInterval: 25,
      })
      mode!: string
    }
    const live = await watch(Remote, { sources: [httpSource({ baseUrl })] })
    const log = logUpdates(live)
    try {
      await sleep(150)
      expect(log.updates).toEqual([])
      expect(seen.some((s) => s.status === 304 && s.ifNoneMatch === '"v1"')).toBe(true)
      body = '{"rps":20,"mode":"a"}'
      version = 2
      await log.until(lastIs('updated rps 10→20'))
      body = undefined
      // rps is required without a fallback: its deletion is an error update, and it keeps 20
      await log.until(
        () => log.lines().includes('removed mode "a"→"safe"') && log.lines().includes('error rps'),
      )
      expect(live.current).toMatchObject({ rps: 20, mode: 'safe' })
      body = '{"rps":30,"mode":"b"}'
      version = 3
      await log.until(
        () => log.lines().includes('updated rps 20→30') && log.lines().includes('updated mode "safe"→"b"'),
      )
    } finally {
      await live.stop()
    }
    expect(log.lines().filter((l) => l.startsWith('error'))).toEqual(['error rps'])
  })
})
