import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Component,
  HttpNotFoundError,
  HttpPermissionError,
  HttpStatusError,
  HttpUnavailableError,
  explain,
  httpSource,
  isAsyncTimeoutError,
  isHttpStatusError,
  isSourceError,
  isSourceNotFoundError,
  isSourcePermissionError,
  isSourceUnavailableError,
  resolve,
  type ComponentResolutionError,
} from 'tributary'
import { context, request } from './request'

const TOKEN = 'tok-SECRET-4711'

/** A small HTTP server on 127.0.0.1 that records what it receives. */
interface TestServer {
  readonly url: string
  readonly port: number
  readonly requests: IncomingMessage[]
  /** Requests to /hang, whose connection is still open until the client goes away. */
  readonly hanging: IncomingMessage[]
  /** Failures /flaky answers before it succeeds. */
  flakyFailures: number
  close(): Promise<void>
}

async function startServer(): Promise<TestServer> {
  const requests: IncomingMessage[] = []
  const hanging: IncomingMessage[] = []
  const state = { flakyFailures: 0 }
  const send = (res: ServerResponse, status: number, type: string | undefined, body: string): void => {
    res.statusCode = status
    if (type !== undefined) res.setHeader('content-type', type)
    res.end(body)
  }
  const server: Server = createServer((req, res) => {
    requests.push(req)
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const [, first = '', second = ''] = url.pathname.split('/')
    switch (first) {
      case 'json':
        return send(
          res,
          200,
          'application/json; charset=utf-8',
          JSON.stringify({ db: { port: 5432 }, on: true }),
        )
      case 'vnd':
        return send(res, 200, 'application/vnd.api+json', '{"limit":7}')
      case 'text':
        return send(res, 200, 'text/plain; charset=utf-8', '{"looks":"like json"}')
      case 'none':
        return send(res, 200, undefined, 'plain body')
      case 'echo':
        return send(
          res,
          200,
          'application/json',
          JSON.stringify({
            authorization: req.headers.authorization,
            tenant: req.headers['x-tenant'],
            accept: req.headers.accept,
          }),
        )
      case 'status':
        return send(res, Number(second), 'text/plain', `status ${second} with ${TOKEN} in the body`)
      case 'bad-json':
        return send(res, 200, 'application/json', '{"password": "hunter2", oops')
      case 'redirect':
        res.statusCode = 302
        res.setHeader('location', '/json')
        return res.end()
      case 'flaky':
        if (state.flakyFailures > 0) {
          state.flakyFailures--
          return send(res, 503, 'text/plain', 'busy')
        }
        return send(res, 200, 'text/plain', '42')
      case 'hang':
        hanging.push(req)
        return // never answers
      default:
        return send(res, 404, 'text/plain', 'no route')
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    hanging,
    get flakyFailures() {
      return state.flakyFailures
    },
    set flakyFailures(n: number) {
      state.flakyFailures = n
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Resolves when the client side of `req` went away (an aborted request also emits 'error'). */
function closedByClient(req: IncomingMessage): Promise<void> {
  req.on('error', () => undefined)
  if (req.destroyed) return Promise.resolve()
  return new Promise((resolve) => req.once('close', () => resolve()))
}

/** Resolves once the server has seen `count` requests to /hang. */
async function hangingRequests(server: TestServer, count: number): Promise<void> {
  while (server.hanging.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
}

let server: TestServer
beforeEach(async () => {
  server = await startServer()
})
afterEach(() => server.close())

describe('httpSource', () => {
  it('is named http (or as told) and applies fields itself', () => {
    expect(httpSource().name).toBe('http')
    expect(httpSource({ name: 'remote' }).name).toBe('remote')
    expect(httpSource().appliesField).toBe(true)
  })

  it('parses JSON by content type (application/json, *+json); anything else is text', async () => {
    const source = httpSource({ baseUrl: server.url })
    expect(await source.fetch(request({ key: '/json' }), context())).toEqual({ db: { port: 5432 }, on: true })
    expect(await source.fetch(request({ key: '/vnd' }), context())).toEqual({ limit: 7 })
    expect(await source.fetch(request({ key: '/text' }), context())).toBe('{"looks":"like json"}')
    expect(await source.fetch(request({ key: '/none' }), context())).toBe('plain body')
  })

  it('picks a dotted field from JSON; a field of a text answer is an error naming the type', async () => {
    const source = httpSource({ baseUrl: server.url })
    expect(await source.fetch(request({ key: '/json', field: 'db.port' }), context())).toBe(5432)
    const missing = await source
      .fetch(request({ key: '/json', field: 'db.host' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    const text = await source
      .fetch(request({ key: '/text', field: 'looks' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(text)).toBe(true)
    expect((text as Error).message).toBe(
      `http: ${server.url}/text answered text/plain, so field "looks" cannot be read`,
    )
  })

  it('sends the configured headers and the bearer token, and accepts JSON first', async () => {
    const source = httpSource({ headers: { 'X-Tenant': 'acme' }, bearerToken: TOKEN })
    expect(await source.fetch(request({ key: `${server.url}/echo` }), context())).toEqual({
      authorization: `Bearer ${TOKEN}`,
      tenant: 'acme',
      accept: 'application/json, text/plain;q=0.9, */*;q=0.8',
    })
    // Without a token no Authorization header is sent.
    const anonymous = await httpSource().fetch(request({ key: `${server.url}/echo` }), context())
    expect(anonymous).not.toHaveProperty('authorization')
  })

  // Issue 16, defect 2: fetch refuses a URL with user:password@, so such a key or baseUrl never
  // worked; the credentials go as Basic authorization, and no message or cause shows them.
  it('credentials in a key or baseUrl are sent as Basic authorization, never shown', async () => {
    const host = server.url.replace('http://', '')
    const basic = `Basic ${Buffer.from('app:p@ss w0rd-SECRET').toString('base64')}`
    const inKey = await httpSource().fetch(
      request({ key: `http://app:p%40ss%20w0rd-SECRET@${host}/echo` }),
      context(),
    )
    expect(inKey).toMatchObject({ authorization: basic })
    const inBase = httpSource({ baseUrl: `http://app:p%40ss%20w0rd-SECRET@${host}/` })
    expect(await inBase.fetch(request({ key: 'echo' }), context())).toMatchObject({ authorization: basic })
    const failing = httpSource({ baseUrl: 'http://app:p%40ss%20w0rd-SECRET@127.0.0.1:1/' })
    const error = await failing.fetch(request({ key: 'echo' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    const shown = [String(error), String((error as Error).cause), JSON.stringify(error)].join('\n')
    expect(shown).not.toMatch(/SECRET|p%40ss/)
  })

  it('follows redirects', async () => {
    const source = httpSource({ baseUrl: server.url })
    expect(await source.fetch(request({ key: '/redirect', field: 'on' }), context())).toBe(true)
  })

  it('a non-2xx answer is an error carrying the status, of a kind per status', async () => {
    const source = httpSource({ baseUrl: server.url })
    const fetchStatus = (status: number) =>
      source.fetch(request({ key: `/status/${status}` }), context()).catch((e: unknown) => e)
    const notFound = await fetchStatus(404)
    expect(notFound).toBeInstanceOf(HttpNotFoundError)
    expect(isSourceNotFoundError(notFound)).toBe(true)
    const forbidden = await fetchStatus(403)
    expect(forbidden).toBeInstanceOf(HttpPermissionError)
    expect(isSourcePermissionError(forbidden)).toBe(true)
    expect(isSourcePermissionError(await fetchStatus(401))).toBe(true)
    const unavailable = await fetchStatus(503)
    expect(unavailable).toBeInstanceOf(HttpUnavailableError)
    expect(isSourceUnavailableError(unavailable)).toBe(true)
    expect(isSourceUnavailableError(await fetchStatus(429))).toBe(true)
    const failed = await fetchStatus(500)
    expect(failed).toBeInstanceOf(HttpStatusError)
    expect(isSourceNotFoundError(failed) || isSourceUnavailableError(failed)).toBe(false)
    for (const [error, status] of [
      [notFound, 404],
      [forbidden, 403],
      [unavailable, 503],
      [failed, 500],
    ] as const) {
      expect(isHttpStatusError(error)).toBe(true)
      expect(error).toMatchObject({ status, source: 'http', key: `${server.url}/status/${status}` })
      expect((error as Error).message).toBe(`http: GET ${server.url}/status/${status} answered ${status}`)
    }
  })

  it('never shows the token or a query string in a message', async () => {
    const source = httpSource({ baseUrl: server.url, bearerToken: TOKEN })
    const inPath = await source
      .fetch(request({ key: `/status/404/${TOKEN}` }), context())
      .catch((e: unknown) => e)
    expect((inPath as Error).message).toBe(`http: GET ${server.url}/status/404/*** answered 404`)
    const inQuery = await source
      .fetch(request({ key: `/status/500?api_key=${TOKEN}` }), context())
      .catch((e: unknown) => e)
    expect((inQuery as Error).message).toBe(`http: GET ${server.url}/status/500?… answered 500`)
    for (const error of [inPath, inQuery]) {
      expect(JSON.stringify(error)).not.toContain(TOKEN)
      expect(require('node:util').inspect(error, { depth: 10 })).not.toContain(TOKEN)
    }
  })

  it('a JSON answer that does not parse is an error without the body', async () => {
    const error = await httpSource({ baseUrl: server.url })
      .fetch(request({ key: '/bad-json' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(error)).toBe(true)
    expect((error as Error).message).toBe(
      `http: ${server.url}/bad-json answered application/json that is not valid JSON`,
    )
  })

  it('a key that is not a URL is a SourceError', async () => {
    const error = await httpSource()
      .fetch(request({ key: 'not a url' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(error)).toBe(true)
    expect((error as Error).message).toBe('http: "not a url" is not a valid URL')
  })

  it('a refused connection is a SourceUnavailableError', async () => {
    const url = server.url
    await server.close()
    const error = await httpSource()
      .fetch(request({ key: `${url}/json` }), context())
      .catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    expect((error as Error).message).toBe(`http: GET ${url}/json failed: ECONNREFUSED`)
    server = await startServer()
  })

  it('aborting the signal cancels the request on the wire and rejects with the reason', async () => {
    const controller = new AbortController()
    const pending = httpSource({ baseUrl: server.url })
      .fetch(request({ key: '/hang' }), context(controller.signal))
      .catch((e: unknown) => e)
    await hangingRequests(server, 1)
    const closed = closedByClient(server.hanging[0] as IncomingMessage)
    controller.abort(new Error('stop'))
    expect(await pending).toEqual(new Error('stop'))
    await closed
  })

  it('resolves a class: retries a 503, times out a hanging endpoint and cancels its request', async () => {
    class Remote {
      @Component({
        fetchFrom: 'http',
        key: '/flaky',
        retry: { attempts: 3, initialDelay: 5, jitter: 'none' },
      })
      answer!: number
      @Component({ fetchFrom: 'http', key: '/json', field: 'db.port' }) port!: number
      @Component({ fetchFrom: 'http', key: '/hang', timeout: 50 }) slow!: string
    }
    server.flakyFailures = 2
    const error = (await resolve(Remote, { sources: [httpSource({ baseUrl: server.url })] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(error.errors.map((e) => [e.property, e.key])).toEqual([['slow', '/hang']])
    expect(isAsyncTimeoutError(error.errors[0]?.cause)).toBe(true)
    expect(error.instance).toMatchObject({ answer: 42, port: 5432 })
    expect(explain(error.instance as object).answer).toMatchObject({ attempts: 3, origin: 'source' })
    // The timed-out attempt's request was aborted, not left open.
    const hung = server.hanging[0] as IncomingMessage
    await closedByClient(hung)
    expect(hung.destroyed).toBe(true)
  })
})
