/**
 * A protocol double of the Consul KV HTTP API on 127.0.0.1 (random port), faithful to the wire
 * format in DESIGN.md so the real `consul` client can talk to it:
 * - `GET /v1/kv/<key>` → 200 `[{LockIndex, Key, Flags, Value (base64 or null), CreateIndex, ModifyIndex}]`,
 *   missing → 404 with an empty body; `X-Consul-Index` on every answer, never 0;
 *   `?raw`, `?recurse`, `?keys` (with `separator`);
 * - blocking reads `?index=N&wait=5s` hold until the query's index passes N or the wait ends (a
 *   missing key's read goes on holding while the key stays missing, as Consul's does), plus
 *   Consul's jitter (a random part of up to wait/16); `wait` is a Go duration (`5` without a unit →
 *   400 `Invalid wait time`), capped at 10 minutes, 5 minutes when absent or 0; `index` an unsigned
 *   integer (else 400 `Invalid index`);
 * - ACL: with `tokens` set, a token Consul does not know → 403 text/plain `ACL not found`; no token
 *   (the anonymous token) or one of `deniedTokens` → 403 `Permission denied: … lacks permission 'key:read' …`;
 * - on demand: `rewind(to)` (a snapshot restored: the index goes backwards, or to 0 as older Consul
 *   versions reported it; held reads are answered at once, as Consul does when its state store is
 *   abandoned) and `fail(status, message)` until `recover()` (5xx answers such as `No cluster leader`);
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
  /** Tokens Consul knows that lack `key:read`/`key:write` (403 `Permission denied: …`). Defaults to none. */
  readonly deniedTokens?: readonly string[]
  /**
   * The extra wait of a blocking read, given its largest value (wait/16). Defaults to a random
   * amount in [0, max), as Consul adds.
   */
  readonly jitter?: (maxMs: number) => number
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
  /**
   * The index goes back to `to` (a raft snapshot restored, a new cluster at the same address):
   * every entry's CreateIndex/ModifyIndex above `to` becomes `to`; with `to` 0 the index is
   * reported as 0 (older Consul versions did) until the next write. Held blocking reads are answered
   * at once with the lower index.
   */
  rewind(to: number): void
  /** Answers every request with `status` and a text/plain `message` until {@link recover}. */
  fail(status?: number, message?: string): void
  recover(): void
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
  const deniedTokens = new Set(options.deniedTokens ?? [])
  const jitter = options.jitter ?? ((max: number) => Math.random() * max)
  let failure: { status: number; message: string } | undefined
  // 1 normally (Consul never reports 0); 0 after rewind(0) until the next write.
  let floor = 1
  const waiters = new Set<() => void>()
  const requests: string[] = []
  let index = Math.max(1, options.startIndex ?? 10)
  let closing = false

  const wake = (): void => {
    for (const waiter of [...waiters]) waiter()
  }

  const write = (key: string, value: Buffer | null, flags = 0): number => {
    // Index 1 is never a user write in Consul (the first raft entry is its own configuration).
    index = Math.max(index + 1, 2)
    floor = 1
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
    index = Math.max(index + 1, 2)
    floor = 1
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
      return entry ? Math.max(floor, entry.modifyIndex) : Math.max(floor, index)
    }
    let max = 0
    for (const [k, e] of store) if (k.startsWith(key)) max = Math.max(max, e.modifyIndex)
    for (const [k, i] of tombstones) if (k.startsWith(key)) max = Math.max(max, i)
    return max === 0 ? Math.max(floor, index) : Math.max(floor, max)
  }

  const rewind = (to: number): void => {
    index = Math.max(0, Math.floor(to))
    floor = index === 0 ? 0 : 1
    for (const entry of store.values()) {
      entry.createIndex = Math.min(entry.createIndex, index)
      entry.modifyIndex = Math.min(entry.modifyIndex, index)
    }
    for (const [key, at] of tombstones) tombstones.set(key, Math.min(at, index))
    abandon()
  }

  // Consul answers held blocking reads at once when its state store is abandoned (a restore).
  const abandoners = new Set<() => void>()
  const abandon = (): void => {
    for (const done of [...abandoners]) done()
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
    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length))
    if (failure) {
      await drain(req)
      return send(res, failure.status, failure.message, 'text/plain; charset=utf-8')
    }
    // Consul reads ?wait and ?index before the ACL check (agent/http.go parseWait).
    if (req.method === 'GET') {
      const wait = q.get('wait')
      if (wait && parseGoDuration(wait) === undefined) {
        return send(res, 400, 'Invalid wait time', 'text/plain; charset=utf-8')
      }
      const at = q.get('index')
      if (at && !/^\d+$/.test(at)) return send(res, 400, 'Invalid index', 'text/plain; charset=utf-8')
    }
    if (tokens.size > 0) {
      // `?token=` wins over the header, as in Consul's parseToken.
      const token = q.get('token') || header(req, 'x-consul-token') || bearer(req) || ''
      if (!tokens.has(token)) {
        await drain(req)
        const access = req.method === 'GET' ? 'read' : 'write'
        if (token !== '' && !deniedTokens.has(token)) {
          return send(res, 403, 'ACL not found', 'text/plain; charset=utf-8')
        }
        const who = token === '' ? 'anonymous token' : `token with AccessorID '${accessorOf(token)}'`
        const hint =
          token === ''
            ? '. The anonymous token is used implicitly when a request does not specify a token.'
            : ''
        return send(
          res,
          403,
          `Permission denied: ${who} lacks permission 'key:${access}' on ${JSON.stringify(key)}${hint}`,
          'text/plain; charset=utf-8',
        )
      }
    }
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
      // Consul's rpcQueryTimeout: at most 10 minutes, 5 when absent or not positive, plus jitter.
      const asked = parseGoDuration(q.get('wait') ?? '') ?? 0
      const base = asked <= 0 ? DEFAULT_WAIT_MS : Math.min(asked, MAX_WAIT_MS)
      const waitMs = base + Math.max(0, Math.min(jitter(base / 16), base / 16))
      // Consul's blockingquery.Query: a single key that stays missing keeps the read blocked
      // (its ErrNotFound sentinel raises the minimum index), so writes to other keys do not end it.
      let min = after
      let notFound = false
      const settled = (): boolean => {
        if (!prefix && !store.has(key)) {
          if (notFound) min = queryIndex(key, prefix)
          notFound = true
        }
        return queryIndex(key, prefix) > min
      }
      if (after > 0 && !settled() && !closing) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer)
            waiters.delete(check)
            abandoners.delete(done)
            res.off('close', onClose)
            resolve()
          }
          const check = (): void => {
            if (closing || settled()) done()
          }
          const onClose = (): void => done()
          const timer = setTimeout(done, waitMs)
          waiters.add(check)
          abandoners.add(done)
          res.on('close', onClose)
        })
        if (res.destroyed) return
        if (failure) return send(res, failure.status, failure.message, 'text/plain; charset=utf-8')
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
    rewind,
    fail(status = 500, message = 'No cluster leader') {
      failure = { status, message }
      // Held reads end with the failure too (the server lost its leader).
      abandon()
    },
    recover() {
      failure = undefined
    },
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

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/**
 * Go's `time.ParseDuration` (Consul parses `wait` with it), in ms: `5s`, `1m30s`, `1.5h`, `-2s`,
 * a bare `0`; anything else, a bare `5` included (Go: "missing unit in duration"), is undefined.
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text
  let sign = 1
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1
    rest = rest.slice(1)
  }
  if (rest === '0') return 0
  if (rest === '') return undefined
  let total = 0
  while (rest !== '') {
    const match = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest)
    if (!match) return undefined
    total += Number(match[1]) * (GO_UNITS[match[2] as string] ?? 0)
    rest = rest.slice(match[0].length)
  }
  return sign * total
}

function accessorOf(token: string): string {
  let hash = 0
  for (const char of token) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  const hex = hash.toString(16).padStart(8, '0')
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`
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
