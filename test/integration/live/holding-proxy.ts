import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * An HTTP proxy on 127.0.0.1 in front of a local server that counts the requests in flight
 * (forwarded and not answered yet) per path, and can hold new requests unanswered: while
 * held, a poller has at most one request open at a time, so the number held is the number of
 * pollers — what the shared-watch tests count.
 */
export interface HoldingProxy {
  readonly url: string
  readonly port: number
  /** Requests whose (decoded) path starts with `prefix` that are open now (held or forwarded). */
  inFlight(prefix: string): number
  /** Every request's `METHOD path?query`, in arrival order. */
  readonly requests: readonly string[]
  /** Requests arriving from now on wait, unanswered, until `release()`. */
  hold(): void
  /** Forwards every held request and stops holding. */
  release(): void
  close(): Promise<void>
}

export async function startHoldingProxy(targetPort: number): Promise<HoldingProxy> {
  const open: string[] = []
  const requests: string[] = []
  const waiting: Array<() => void> = []
  const sockets = new Set<Socket>()
  let holding = false
  const forward = (req: IncomingMessage, res: import('node:http').ServerResponse, body: Buffer): void => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    upstream.end(body)
  }
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '/')
    requests.push(`${req.method} ${path}`)
    open.push(path)
    res.on('close', () => open.splice(open.indexOf(path), 1))
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const go = (): void => forward(req, res, Buffer.concat(chunks))
      if (holding) waiting.push(go)
      else go()
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    inFlight: (prefix) => open.filter((p) => p.startsWith(prefix)).length,
    hold() {
      holding = true
    },
    release() {
      holding = false
      for (const go of waiting.splice(0)) go()
    },
    close() {
      holding = false
      waiting.length = 0
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
