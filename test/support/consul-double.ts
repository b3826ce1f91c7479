/**
 * A protocol double of the Consul KV HTTP API on 127.0.0.1 (random port), faithful to the wire
 * format in DESIGN.md so the real `consul` client can talk to it:
 * - `GET /v1/kv/<key>` → 200 `[{LockIndex, Key, Flags, Value (base64 or null), CreateIndex, ModifyIndex}]`,
 *   missing → 404 with an empty body; `X-Consul-Index` on every answer, never 0;
 *   `?raw`, `?recurse`, `?keys` (with `separator`);
 * - blocking reads `?index=N&wait=5s` hold until the query's index passes N or the wait ends;
 * - ACL: with `tokens` set, a missing or wrong `X-Consul-Token` (or `?token=`) → 403 text/plain `Permission denied`;
 * - `PUT /v1/kv/<key>[?cas=N&flags=N]` → `true`/`false`; `DELETE [?recurse][?cas=N]` → `true`/`false`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

interface Entry {
  value: Buffer | null
  flags: number
  createIndex: number
  modifyIndex: number
  lockIndex: number
}

/** Options of {@link startConsulDouble}. */
export interface ConsulDoubleOptions {
  /** ACL tokens allowed to read and write; when empty, ACLs are off. Defaults to none. */
  readonly tokens?: readonly string[]
  /** The index the store starts at (Consul's raft index is never 0). Defaults to `10`. */
  readonly startIndex?: number
}

/** A running double. */
export interface ConsulDouble {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The current (highest) index. */
  readonly index: number
  /** Writes a key as `PUT` would; returns its new ModifyIndex. */
  set(key: string, value: string | Buffer | null, flags?: number): number
  /** Deletes a key (leaving a tombstone index, as Consul does). */
  delete(key: string): void
  /** Reads a key's value as a string (for assertions). */
  get(key: string): string | null | undefined
  /** Requests served so far, as `METHOD path?query` lines. */
  readonly requests: readonly string[]
  /** Answers every held blocking read, closes every connection and stops listening. */
  close(): Promise<void>
}

const MAX_WAIT_MS = 10 * 60_000
const DEFAULT_WAIT_MS = 5 * 60_000

/** Starts a Consul KV double on 127.0.0.1 with a random port. */
export async function startConsulDouble(options: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
  const store = new Map<string, Entry>()
  const tombstones = new Map<string, number>()
  const tokens = new Set(options.tokens ?? [])
  const waiters = new Set<() => void>()
  const requests: string[] = []
  let index = Math.max(1, options.startIndex ?? 10)
  let closing = false

  const wake = (): void => {
    for (const waiter of [...waiters]) waiter()
  }

  const write = (key: string, value: Buffer | null, flags = 0): number => {
    index += 1
    const existing = store.get(key)
    store.set(key, {
      value,
      flags,
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
      lockIndex: existing?.lockIndex ?? 0,
    })
    tombstones.delete(key)
    wake()
    return index
  }

  const remove = (keys: string[]): void => {
    if (keys.length === 0) return
    index += 1
    for (const key of keys) {
      store.delete(key)
      tombstones.set(key, index)
    }
    wake()
  }

  /** The index a query reports: Consul's rules for a single key and for a prefix. */
  const queryIndex = (key: string, prefix: boolean): number => {
    if (!prefix) {
      const entry = store.get(key)
      return entry ? entry.modifyIndex : Math.max(1, index)
    }
    let max = 0
    for (const [k, e] of store) if (k.startsWith(key)) max = Math.max(max, e.modifyIndex)
    for (const [k, i] of tombstones) if (k.startsWith(key)) max = Math.max(max, i)
    return max === 0 ? Math.max(1, index) : max
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    // Recorded decoded: the `consul` client sends `app%2Fport` for `app/port`, as Consul accepts.
    requests.push(`${req.method} ${decodeURIComponent(url.pathname)}${url.search}`)
    const q = url.searchParams
    if (!url.pathname.startsWith('/v1/kv/') && url.pathname !== '/v1/kv') {
      return send(
        res,
        404,
        `Invalid URL path: not a recognized HTTP API endpoint\n`,
        'text/plain; charset=utf-8',
      )
    }
    if (tokens.size > 0) {
      const token = header(req, 'x-consul-token') ?? bearer(req) ?? q.get('token') ?? ''
      if (!tokens.has(token)) {
        await drain(req)
        return send(res, 403, 'Permission denied', 'text/plain; charset=utf-8')
      }
    }
    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length))
    switch (req.method) {
      case 'GET':
        return read(req, res, key, q)
      case 'PUT': {
        const body = await readBody(req)
        const flags = q.has('flags') ? Number(q.get('flags')) : 0
        if (q.has('cas')) {
          const cas = Number(q.get('cas'))
          const entry = store.get(key)
          const ok = cas === 0 ? entry === undefined : entry?.modifyIndex === cas
          if (!ok) return sendJson(res, 200, false)
        }
        write(key, body.length === 0 ? null : body, flags)
        return sendJson(res, 200, true)
      }
      case 'DELETE': {
        await drain(req)
        if (q.has('cas')) {
          const entry = store.get(key)
          if (entry === undefined || entry.modifyIndex !== Number(q.get('cas')))
            return sendJson(res, 200, false)
        }
        remove(
          q.has('recurse') ? [...store.keys()].filter((k) => k.startsWith(key)) : store.has(key) ? [key] : [],
        )
        return sendJson(res, 200, true)
      }
      default:
        await drain(req)
        return send(res, 405, `method ${req.method} not allowed`, 'text/plain; charset=utf-8')
    }
  }

  const read = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    q: URLSearchParams,
  ): Promise<void> => {
    const prefix = q.has('recurse') || q.has('keys')
    if (q.has('index')) {
      const after = Number(q.get('index'))
      const waitMs = Math.min(parseWait(q.get('wait')) ?? DEFAULT_WAIT_MS, MAX_WAIT_MS)
      if (after > 0 && queryIndex(key, prefix) <= after && !closing) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer)
            waiters.delete(check)
            res.off('close', onClose)
            resolve()
          }
          const check = (): void => {
            if (closing || queryIndex(key, prefix) > after) done()
          }
          const onClose = (): void => done()
          const timer = setTimeout(done, waitMs)
          waiters.add(check)
          res.on('close', onClose)
        })
        if (res.destroyed) return
      }
    }
    const at = queryIndex(key, prefix)
    const headers = {
      'X-Consul-Index': String(at),
      'X-Consul-KnownLeader': 'true',
      'X-Consul-LastContact': '0',
    }
    if (q.has('keys')) {
      const separator = q.get('separator') ?? ''
      const keys = new Set<string>()
      for (const k of [...store.keys()].sort()) {
        if (!k.startsWith(key)) continue
        const cut = separator ? k.indexOf(separator, key.length) : -1
        keys.add(cut === -1 ? k : k.slice(0, cut + separator.length))
      }
      if (keys.size === 0) return send(res, 404, '', undefined, headers)
      return sendJson(res, 200, [...keys], headers)
    }
    const entries = [...store.entries()]
      .filter(([k]) => (q.has('recurse') ? k.startsWith(key) : k === key))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    if (entries.length === 0) return send(res, 404, '', undefined, headers)
    if (q.has('raw')) {
      const value = entries[0]?.[1].value ?? Buffer.alloc(0)
      return send(res, 200, value, 'text/plain; charset=utf-8', headers)
    }
    return sendJson(
      res,
      200,
      entries.map(([k, e]) => ({
        LockIndex: e.lockIndex,
        Key: k,
        Flags: e.flags,
        Value: e.value === null ? null : e.value.toString('base64'),
        CreateIndex: e.createIndex,
        ModifyIndex: e.modifyIndex,
      })),
      headers,
    )
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, String(error), 'text/plain; charset=utf-8')
      else res.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    get index() {
      return index
    },
    set: (key, value, flags) => write(key, value === null ? null : Buffer.from(value), flags),
    delete: (key) => remove(store.has(key) ? [key] : []),
    get: (key) => {
      const entry = store.get(key)
      return entry === undefined ? undefined : (entry.value?.toString('utf8') ?? null)
    },
    requests,
    async close() {
      closing = true
      wake()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
        // Answers to held reads were just written; give them a moment to flush, then cut the rest.
        setTimeout(() => server.closeAllConnections(), 50)
      })
    },
  }
}

/** Parses Consul durations: `5s`, `100ms`, `1m`, `1h`, bare numbers as seconds. */
function parseWait(text: string | null): number | undefined {
  if (!text) return undefined
  const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$/.exec(text)
  if (!match) return undefined
  const unit =
    { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000
  return Number(match[1]) * unit
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function bearer(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization')
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

async function drain(req: IncomingMessage): Promise<void> {
  await readBody(req)
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType?: string,
  headers: Record<string, string> = {},
): void {
  res.statusCode = status
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  if (contentType) res.setHeader('Content-Type', contentType)
  res.setHeader('Vary', 'Accept-Encoding')
  res.end(body)
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, JSON.stringify(body), 'application/json', headers)
}
