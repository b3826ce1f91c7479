/**
 * A protocol double of the Vault HTTP API (KV v1 and KV v2) on 127.0.0.1 (random port),
 * faithful to the wire format in DESIGN.md so the real `node-vault` client can talk to it:
 * - `X-Vault-Token` (or `Authorization: Bearer`) required: missing or wrong → 403 `{"errors":["permission denied"]}`;
 * - every answer is the full envelope `{request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings, auth}`;
 * - KV v1 `GET /v1/<mount>/<path>` → `data` is the secret map; missing → 404 `{"errors":[]}`;
 * - KV v2 `GET /v1/<mount>/data/<path>[?version=N]` → `data: { data, metadata: { created_time, custom_metadata,
 *   deletion_time, destroyed, version } }`; soft-deleted → 404 with the envelope and `data.data: null`;
 *   writes (`POST|PUT data/<path>` with `{ data, options: { cas } }`), `DELETE data/<path>`, `POST delete|undelete|destroy/<path>`,
 *   `GET|DELETE metadata/<path>`;
 * - `POST|DELETE sys/mounts/<path>` enables (type `kv` with `options.version`, or `kv-v2`) or disables a KV engine;
 * - sealed → 503 `{"errors":["Vault is sealed"]}` on everything but `sys/health` and `sys/seal-status`;
 * - `lease_duration`: KV v1 answers with the secret's `ttl` key (seconds or `30s`/`5m`/`1h`) or the
 *   mount default 2_764_800 (768h), with an empty `lease_id`, as Vault does; KV v2 with 0; a leased
 *   (dynamic) secret set with `setLeased` answers with a fresh `lease_id`, `renewable: true` and its
 *   lease, and new data at every read, as a database secrets engine does.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

type SecretMap = Record<string, unknown>

interface Version {
  data: SecretMap | null
  created: string
  deleted: string
  destroyed: boolean
}

interface V2Secret {
  versions: Version[]
  created: string
  updated: string
  custom: Record<string, string> | null
}

/** Options of {@link startVaultDouble}. */
export interface VaultDoubleOptions {
  /** The token that may read and write. Defaults to `'tributary-root'` (the docker-compose dev token). */
  readonly token?: string
  /** Mounts and their KV version. Defaults to `{ secret: 2, kv: 1 }` (as a dev server plus a v1 mount). */
  readonly mounts?: Readonly<Record<string, 1 | 2>>
}

/** A running double. */
export interface VaultDouble {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The accepted token. */
  readonly token: string
  /**
   * Writes a secret at `<mount>/<path>` (no `data/` segment for v2; a new version is added).
   * Returns the v2 version number (1 for v1 mounts).
   */
  setSecret(path: string, data: SecretMap): number
  /** v2: soft-deletes the latest version (`DELETE data/<path>`); v1: removes the secret. */
  deleteSecret(path: string): void
  /** v2: destroys every version's data. */
  destroySecret(path: string): void
  /**
   * Serves a dynamic secret at `path` (any path, no mount needed): every read answers
   * `generate(n)` for the n-th read (1 first) with a new `lease_id` and `leaseSeconds`.
   */
  setLeased(path: string, generate: (read: number) => SecretMap, leaseSeconds: number): void
  seal(): void
  unseal(): void
  readonly sealed: boolean
  /** Requests served so far, as `METHOD path?query` lines. */
  readonly requests: readonly string[]
  /** Closes every connection and stops listening. */
  close(): Promise<void>
}

/** Starts a Vault double on 127.0.0.1 with a random port. */
export async function startVaultDouble(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  const token = options.token ?? 'tributary-root'
  const mounts = new Map<string, 1 | 2>(Object.entries(options.mounts ?? { secret: 2, kv: 1 }))
  const v1 = new Map<string, SecretMap>()
  const v2 = new Map<string, V2Secret>()
  const leased = new Map<string, { generate: (read: number) => SecretMap; lease: number; reads: number }>()
  const requests: string[] = []
  let sealed = false

  const split = (path: string): { mount: string; version: 1 | 2; rest: string } | undefined => {
    const [mount = '', ...rest] = path.replace(/^\/+/, '').split('/')
    const version = mounts.get(mount)
    return version === undefined ? undefined : { mount, version, rest: rest.join('/') }
  }

  const writeV2 = (id: string, data: SecretMap): Version => {
    const now = timestamp()
    const secret = v2.get(id) ?? { versions: [], created: now, updated: now, custom: null }
    const version: Version = { data, created: now, deleted: '', destroyed: false }
    secret.versions.push(version)
    secret.updated = now
    v2.set(id, secret)
    return version
  }

  const metadataOf = (secret: V2Secret, n: number): Record<string, unknown> => {
    const version = secret.versions[n - 1]
    return {
      created_time: version?.created ?? '',
      custom_metadata: secret.custom,
      deletion_time: version?.deleted ?? '',
      destroyed: version?.destroyed ?? false,
      version: n,
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    requests.push(`${req.method} ${url.pathname}${url.search}`)
    const body = await readJson(req)
    const method = req.method === 'LIST' || url.searchParams.get('list') === 'true' ? 'LIST' : req.method
    if (!url.pathname.startsWith('/v1/')) return sendJson(res, 404, { errors: [] })
    const path = decodeURIComponent(url.pathname.slice('/v1/'.length))

    if (path === 'sys/health') {
      return sendJson(res, sealed ? 503 : 200, {
        initialized: true,
        sealed,
        standby: false,
        version: '1.17.0-double',
      })
    }
    if (path === 'sys/seal-status') {
      return sendJson(res, 200, { type: 'shamir', initialized: true, sealed, t: 1, n: 1, progress: 0 })
    }
    if (sealed) return sendJson(res, 503, { errors: ['Vault is sealed'] })
    const given = header(req, 'x-vault-token') ?? bearer(req)
    if (given !== token) return sendJson(res, 403, { errors: ['permission denied'] })

    const dynamic = leased.get(path)
    if (dynamic && method === 'GET') {
      dynamic.reads += 1
      return sendJson(res, 200, {
        ...envelope(dynamic.generate(dynamic.reads), dynamic.lease),
        lease_id: `${path}/${randomUUID()}`,
        renewable: true,
      })
    }
    if (path.startsWith('sys/mounts/')) return mountRoute(method, path.slice('sys/mounts/'.length), body, res)

    const target = split(path)
    if (!target || target.rest === '') {
      return sendJson(res, 404, { errors: [`no handler for route "${path}". route entry not found.`] })
    }
    const id = `${target.mount}/${target.rest}`

    if (target.version === 1) {
      switch (method) {
        case 'GET': {
          const secret = v1.get(id)
          return secret
            ? sendJson(res, 200, envelope(secret, v1Lease(secret)))
            : sendJson(res, 404, { errors: [] })
        }
        case 'POST':
        case 'PUT':
          v1.set(id, isMap(body) ? body : {})
          return sendEmpty(res)
        case 'DELETE':
          v1.delete(id)
          return sendEmpty(res)
        case 'LIST': {
          const keys = listKeys([...v1.keys()], `${id.replace(/\/$/, '')}/`)
          return keys.length ? sendJson(res, 200, envelope({ keys }, 0)) : sendJson(res, 404, { errors: [] })
        }
      }
      return sendJson(res, 405, { errors: ['unsupported operation'] })
    }

    const [kind = '', ...segments] = target.rest.split('/')
    const secretId = `${target.mount}/${segments.join('/')}`
    const secret = v2.get(secretId)
    switch (`${method} ${kind}`) {
      case 'GET data': {
        const latest = secret?.versions.length ?? 0
        const n =
          url.searchParams.has('version') && url.searchParams.get('version') !== '0'
            ? Number(url.searchParams.get('version'))
            : latest
        const version = secret?.versions[n - 1]
        if (!secret || !version) return sendJson(res, 404, { errors: [] })
        const gone = version.deleted !== '' || version.destroyed
        return sendJson(
          res,
          gone ? 404 : 200,
          envelope({ data: gone ? null : version.data, metadata: metadataOf(secret, n) }, 0),
        )
      }
      case 'POST data':
      case 'PUT data': {
        const request = isMap(body) ? body : {}
        const cas = isMap(request.options) ? request.options.cas : undefined
        if (typeof cas === 'number' && cas !== (secret?.versions.length ?? 0)) {
          return sendJson(res, 400, { errors: ['check-and-set parameter did not match the current version'] })
        }
        writeV2(secretId, isMap(request.data) ? request.data : {})
        const written = v2.get(secretId) as V2Secret
        return sendJson(res, 200, envelope(metadataOf(written, written.versions.length), 0))
      }
      case 'DELETE data': {
        const latest = secret?.versions.at(-1)
        if (latest && latest.deleted === '') latest.deleted = timestamp()
        return sendEmpty(res)
      }
      case 'POST delete':
      case 'POST undelete':
      case 'POST destroy': {
        const versions = isMap(body) && Array.isArray(body.versions) ? (body.versions as unknown[]) : []
        for (const n of versions) {
          const version = typeof n === 'number' ? secret?.versions[n - 1] : undefined
          if (!version) continue
          if (kind === 'delete') version.deleted ||= timestamp()
          if (kind === 'undelete' && !version.destroyed) version.deleted = ''
          if (kind === 'destroy') {
            version.destroyed = true
            version.data = null
          }
        }
        return sendEmpty(res)
      }
      case 'GET metadata': {
        if (!secret) return sendJson(res, 404, { errors: [] })
        const versions: Record<string, unknown> = {}
        secret.versions.forEach((v, i) => {
          versions[String(i + 1)] = {
            created_time: v.created,
            deletion_time: v.deleted,
            destroyed: v.destroyed,
          }
        })
        return sendJson(
          res,
          200,
          envelope(
            {
              cas_required: false,
              created_time: secret.created,
              current_version: secret.versions.length,
              custom_metadata: secret.custom,
              delete_version_after: '0s',
              max_versions: 0,
              oldest_version: 0,
              updated_time: secret.updated,
              versions,
            },
            0,
          ),
        )
      }
      case 'DELETE metadata':
        v2.delete(secretId)
        return sendEmpty(res)
      case 'LIST metadata': {
        const keys = listKeys([...v2.keys()], `${secretId.replace(/\/$/, '')}/`)
        return keys.length ? sendJson(res, 200, envelope({ keys }, 0)) : sendJson(res, 404, { errors: [] })
      }
    }
    // A v2 mount read without data/: Vault answers 404 with a warning.
    return sendJson(res, 404, {
      ...envelope(null, 0),
      warnings: [
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
      ],
    })
  }

  // `POST sys/mounts/<path>` with `{ type: 'kv', options: { version } }` (or type `kv-v2`) enables a
  // KV engine; `DELETE` disables it and drops its secrets. Other engine types are refused.
  const mountRoute = (method: string | undefined, name: string, body: unknown, res: ServerResponse): void => {
    const mount = name.replace(/\/+$/, '')
    if (method === 'DELETE') {
      mounts.delete(mount)
      for (const id of [...v1.keys()]) if (id.startsWith(`${mount}/`)) v1.delete(id)
      for (const id of [...v2.keys()]) if (id.startsWith(`${mount}/`)) v2.delete(id)
      return sendEmpty(res)
    }
    if (method !== 'POST' && method !== 'PUT')
      return sendJson(res, 405, { errors: ['unsupported operation'] })
    if (mounts.has(mount)) return sendJson(res, 400, { errors: [`path is already in use at ${mount}/`] })
    const request = isMap(body) ? body : {}
    const options = isMap(request.options) ? request.options : {}
    if (request.type !== 'kv' && request.type !== 'kv-v2') {
      return sendJson(res, 400, { errors: [`plugin not found in the catalog: ${String(request.type)}`] })
    }
    mounts.set(mount, request.type === 'kv-v2' || String(options.version) === '2' ? 2 : 1)
    return sendEmpty(res)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [String(error)] })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    setSecret(path, data) {
      const target = split(path)
      if (!target) throw new Error(`vault double: no mount for ${path}`)
      const id = `${target.mount}/${target.rest}`
      if (target.version === 1) {
        v1.set(id, data)
        return 1
      }
      writeV2(id, data)
      return v2.get(id)?.versions.length ?? 1
    },
    deleteSecret(path) {
      const target = split(path)
      if (!target) return
      const id = `${target.mount}/${target.rest}`
      if (target.version === 1) v1.delete(id)
      else {
        const latest = v2.get(id)?.versions.at(-1)
        if (latest && latest.deleted === '') latest.deleted = timestamp()
      }
    },
    destroySecret(path) {
      const target = split(path)
      for (const version of v2.get(`${target?.mount}/${target?.rest}`)?.versions ?? []) {
        version.destroyed = true
        version.data = null
      }
    },
    setLeased(path, generate, leaseSeconds) {
      leased.set(path.replace(/^\/+/, ''), { generate, lease: leaseSeconds, reads: 0 })
    },
    seal: () => {
      sealed = true
    },
    unseal: () => {
      sealed = false
    },
    get sealed() {
      return sealed
    },
    requests,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

function envelope(data: unknown, leaseDuration: number): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: leaseDuration,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'kv',
  }
}

/** KV v1's lease: the secret's `ttl` key when it has one, else the mount default (768h). */
function v1Lease(secret: SecretMap): number {
  const ttl = secret.ttl
  if (typeof ttl === 'number' && ttl > 0) return Math.floor(ttl)
  const match = typeof ttl === 'string' ? /^(\d+)(s|m|h)?$/.exec(ttl) : null
  if (match) return Number(match[1]) * ({ s: 1, m: 60, h: 3_600 }[match[2] ?? 's'] ?? 1)
  return 2_764_800
}

function listKeys(all: string[], prefix: string): string[] {
  const keys = new Set<string>()
  for (const key of all) {
    if (!key.startsWith(prefix)) continue
    const rest = key.slice(prefix.length)
    const slash = rest.indexOf('/')
    keys.add(slash === -1 ? rest : rest.slice(0, slash + 1))
  }
  return [...keys].sort()
}

function timestamp(): string {
  return new Date().toISOString()
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function bearer(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization')
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      if (text === '') return resolve(undefined)
      try {
        resolve(JSON.parse(text))
      } catch {
        resolve(undefined)
      }
    })
    req.on('error', reject)
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('Cache-Control', 'no-store')
  res.setHeader('Content-Type', 'application/json')
  res.end(JSON.stringify(body))
}

function sendEmpty(res: ServerResponse): void {
  res.statusCode = 204
  res.setHeader('Cache-Control', 'no-store')
  res.end()
}
