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
 * - refusals as Vault's HTTP layer and KV engine answer them: a POST/PUT/PATCH body that is not
 *   JSON → 400 `error parsing JSON`; a KV v2 write or patch without `data` → 400 `no data provided`;
 *   a KV v1 write without fields → 400 `missing data fields`; `cas` not the current version → 400;
 *   `PATCH data/<path>` (a JSON merge patch, `Content-Type: application/merge-patch+json` or 415)
 *   of an existing, live version only (404 otherwise);
 * - KV v2 keeps `max_versions` versions per key (the key's metadata, else `<mount>/config`, else
 *   10): older ones are permanently removed, `oldest_version` moves on; `delete_version_after`
 *   (the smaller of the config's and the key's, a negative config value disables it) gives each new
 *   version a future `deletion_time`, after which reads answer 404 as for a soft delete;
 *   `POST|GET <mount>/config`, `POST metadata/<path>` set them;
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
  /** Kept versions by number (older ones dropped past max_versions). */
  versions: Map<number, Version>
  current: number
  oldest: number
  created: string
  updated: string
  custom: Record<string, string> | null
  maxVersions: number
  casRequired: boolean
  /** ms; 0 = unset. */
  deleteAfter: number
}

interface V2Config {
  maxVersions: number
  casRequired: boolean
  /** ms; 0 = unset, negative = disabled. */
  deleteAfter: number
}

/** Options of {@link startVaultDouble}. */
export interface VaultDoubleOptions {
  /** The token that may read and write. Defaults to `'tributary-root'` (the docker-compose dev token). */
  readonly token?: string
  /** Mounts and their KV version. Defaults to `{ secret: 2, kv: 1 }` (as a dev server plus a v1 mount). */
  readonly mounts?: Readonly<Record<string, 1 | 2>>
  /** The double's clock (for `delete_version_after`), in ms since the epoch. Defaults to `Date.now`. */
  readonly now?: () => number
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
  const now = options.now ?? Date.now
  const timestamp = (at = now()): string => new Date(at).toISOString()
  const configs = new Map<string, V2Config>()
  const configOf = (mount: string): V2Config =>
    configs.get(mount) ?? { maxVersions: 0, casRequired: false, deleteAfter: 0 }
  /** Deleted (soft, or its delete_version_after passed) as Vault reads it: deletion_time not in the future. */
  const isDeleted = (version: Version): boolean =>
    version.deleted !== '' && Date.parse(version.deleted) <= now()

  const split = (path: string): { mount: string; version: 1 | 2; rest: string } | undefined => {
    const [mount = '', ...rest] = path.replace(/^\/+/, '').split('/')
    const version = mounts.get(mount)
    return version === undefined ? undefined : { mount, version, rest: rest.join('/') }
  }

  const emptyV2 = (): V2Secret => ({
    versions: new Map(),
    current: 0,
    oldest: 0,
    created: timestamp(),
    updated: timestamp(),
    custom: null,
    maxVersions: 0,
    casRequired: false,
    deleteAfter: 0,
  })

  // vault-plugin-secrets-kv pathDataWrite + KeyMetadata.AddVersion: a new version, its deletion
  // time from delete_version_after, and the sliding window of max_versions.
  const writeV2 = (id: string, data: SecretMap): V2Secret => {
    const mount = id.split('/')[0] ?? ''
    const config = configOf(mount)
    const at = now()
    const secret = v2.get(id) ?? emptyV2()
    const after = [config.deleteAfter, secret.deleteAfter].filter((d) => d > 0)
    const deleted = config.deleteAfter < 0 || after.length === 0 ? '' : timestamp(at + Math.min(...after))
    if (secret.versions.size === 0 && secret.current === 0) secret.created = timestamp(at)
    secret.current += 1
    secret.versions.set(secret.current, { data, created: timestamp(at), deleted, destroyed: false })
    secret.updated = timestamp(at)
    const max = secret.maxVersions > 0 ? secret.maxVersions : config.maxVersions > 0 ? config.maxVersions : 10
    if (secret.current - secret.oldest >= max) {
      const drop = secret.current - max
      for (let n = secret.oldest; n <= drop; n++) secret.versions.delete(n)
      secret.oldest = drop + 1
    }
    v2.set(id, secret)
    return secret
  }

  const metadataOf = (secret: V2Secret, n: number): Record<string, unknown> => {
    const version = secret.versions.get(n)
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
    // Vault's HTTP layer parses a POST/PUT/PATCH body before anything else (http/logical.go).
    const parsed = await readJson(req)
    if (parsed.invalid && ['POST', 'PUT', 'PATCH'].includes(req.method ?? '')) {
      return sendJson(res, 400, { errors: ['error parsing JSON'] })
    }
    if (req.method === 'PATCH') {
      const type = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
      if (type !== 'application/merge-patch+json') {
        return sendJson(res, 415, {
          errors: [`PATCH requires Content-Type of application/merge-patch+json, provided ${type}`],
        })
      }
    }
    const body = parsed.value
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
          // The KV v1 (passthrough) backend: handleWrite refuses an empty request.
          if (!isMap(body) || Object.keys(body).length === 0) {
            return sendJson(res, 400, { errors: ['missing data fields'] })
          }
          v1.set(id, body)
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
    if (kind === 'config' && segments.length === 0) return configRoute(method, target.mount, body, res)
    switch (`${method} ${kind}`) {
      case 'GET data': {
        const n =
          url.searchParams.has('version') && url.searchParams.get('version') !== '0'
            ? Number(url.searchParams.get('version'))
            : (secret?.current ?? 0)
        const version = secret?.versions.get(n)
        if (!secret || !version) return sendJson(res, 404, { errors: [] })
        const gone = isDeleted(version) || version.destroyed
        return sendJson(
          res,
          gone ? 404 : 200,
          envelope({ data: gone ? null : version.data, metadata: metadataOf(secret, n) }, 0),
        )
      }
      case 'POST data':
      case 'PUT data':
      case 'PATCH data': {
        const request = isMap(body) ? body : {}
        if (!('data' in request) || request.data === null) {
          return sendJson(res, 400, { errors: ['no data provided'] })
        }
        if (!isMap(request.data)) {
          return sendJson(res, 400, {
            errors: [
              `error converting input for field "data": '' expected a map, got '${goKind(request.data)}'`,
            ],
          })
        }
        const patch = method === 'PATCH'
        const latest = secret?.versions.get(secret.current)
        if (patch && (!secret || !latest)) return sendJson(res, 404, { errors: [] })
        if (patch && secret && latest && (isDeleted(latest) || latest.destroyed)) {
          return sendJson(res, 404, envelope(metadataOf(secret, secret.current), 0))
        }
        const options = isMap(request.options) ? request.options : {}
        const current = secret?.current ?? 0
        if ('cas' in options) {
          const cas = Number(options.cas)
          if (!Number.isInteger(cas)) {
            return sendJson(res, 400, { errors: ['error parsing check-and-set parameter'] })
          }
          if (cas !== current) {
            return sendJson(res, 400, {
              errors: ['check-and-set parameter did not match the current version'],
            })
          }
        } else if (configOf(target.mount).casRequired || secret?.casRequired) {
          return sendJson(res, 400, { errors: ['check-and-set parameter required for this call'] })
        }
        const data = patch ? mergePatch(latest?.data ?? {}, request.data) : request.data
        const written = writeV2(secretId, data as SecretMap)
        return sendJson(res, 200, envelope(metadataOf(written, written.current), 0))
      }
      case 'DELETE data': {
        const latest = secret?.versions.get(secret.current)
        if (latest && !latest.destroyed && !isDeleted(latest)) latest.deleted = timestamp()
        return sendEmpty(res)
      }
      case 'POST delete':
      case 'POST undelete':
      case 'POST destroy': {
        const versions = isMap(body) && Array.isArray(body.versions) ? (body.versions as unknown[]) : []
        if (versions.length === 0) return sendJson(res, 400, { errors: ['no version number provided'] })
        for (const n of versions) {
          const version = typeof n === 'number' ? secret?.versions.get(n) : undefined
          if (!version) continue
          if (kind === 'delete' && !isDeleted(version)) version.deleted = timestamp()
          if (kind === 'undelete' && !version.destroyed) version.deleted = ''
          if (kind === 'destroy') {
            version.destroyed = true
            version.data = null
          }
        }
        return sendEmpty(res)
      }
      case 'POST metadata':
      case 'PUT metadata': {
        const request = isMap(body) ? body : {}
        const target2 = secret ?? emptyV2()
        if ('max_versions' in request) target2.maxVersions = Math.max(0, Number(request.max_versions) || 0)
        if ('cas_required' in request) target2.casRequired = request.cas_required === true
        if ('custom_metadata' in request) {
          target2.custom = isMap(request.custom_metadata)
            ? (request.custom_metadata as Record<string, string>)
            : null
        }
        if ('delete_version_after' in request) {
          const after = durationMs(request.delete_version_after)
          if (after === undefined) return sendJson(res, 400, { errors: ['invalid delete_version_after'] })
          target2.deleteAfter = Math.max(0, after)
        }
        v2.set(secretId, target2)
        return sendEmpty(res)
      }
      case 'GET metadata': {
        if (!secret) return sendJson(res, 404, { errors: [] })
        const versions: Record<string, unknown> = {}
        for (const [n, v] of [...secret.versions].sort(([a], [b]) => a - b)) {
          versions[String(n)] = {
            created_time: v.created,
            deletion_time: v.deleted,
            destroyed: v.destroyed,
          }
        }
        return sendJson(
          res,
          200,
          envelope(
            {
              cas_required: secret.casRequired,
              created_time: secret.created,
              current_version: secret.current,
              custom_metadata: secret.custom,
              delete_version_after: goDuration(secret.deleteAfter),
              max_versions: secret.maxVersions,
              oldest_version: secret.oldest,
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

  // `POST|GET <mount>/config`: the engine's max_versions, cas_required and delete_version_after.
  const configRoute = (
    method: string | undefined,
    mount: string,
    body: unknown,
    res: ServerResponse,
  ): void => {
    const config = configOf(mount)
    if (method === 'GET') {
      return sendJson(
        res,
        200,
        envelope(
          {
            cas_required: config.casRequired,
            delete_version_after: goDuration(config.deleteAfter),
            max_versions: config.maxVersions,
          },
          0,
        ),
      )
    }
    if (method !== 'POST' && method !== 'PUT')
      return sendJson(res, 405, { errors: ['unsupported operation'] })
    const request = isMap(body) ? body : {}
    const next = { ...config }
    if ('max_versions' in request) next.maxVersions = Math.max(0, Number(request.max_versions) || 0)
    if ('cas_required' in request) next.casRequired = request.cas_required === true
    if ('delete_version_after' in request) {
      const after = durationMs(request.delete_version_after)
      if (after === undefined) return sendJson(res, 400, { errors: ['invalid delete_version_after'] })
      next.deleteAfter = after
    }
    configs.set(mount, next)
    return sendEmpty(res)
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
      return writeV2(id, data).current
    },
    deleteSecret(path) {
      const target = split(path)
      if (!target) return
      const id = `${target.mount}/${target.rest}`
      if (target.version === 1) v1.delete(id)
      else {
        const secret = v2.get(id)
        const latest = secret?.versions.get(secret.current)
        if (latest && !isDeleted(latest)) latest.deleted = timestamp()
      }
    },
    destroySecret(path) {
      const target = split(path)
      for (const version of v2.get(`${target?.mount}/${target?.rest}`)?.versions.values() ?? []) {
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

/** RFC 7386 JSON merge patch (Vault's PATCH): null removes a key, objects merge, the rest replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch
  const out: Record<string, unknown> = isMap(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** Vault's duration fields: seconds as a number, or a Go duration string (`30s`, `1h30m`). */
function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1_000
  if (typeof value !== 'string') return undefined
  if (/^-?\d+$/.test(value)) return Number(value) * 1_000
  const match = /^(-)?((?:\d+(?:\.\d+)?(?:ms|s|m|h))+)$/.exec(value)
  if (!match) return undefined
  let total = 0
  for (const [, n, unit] of (match[2] ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * ({ ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as string] ?? 0)
  }
  return match[1] ? -total : total
}

/** Go's Duration.String() for whole milliseconds: `0s`, `500ms`, `1m0s`, `3h25m19s`. */
function goDuration(ms: number): string {
  if (ms === 0) return '0s'
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  if (rest < 1_000) return `${sign}${rest}ms`
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const sec = `${rest / 1_000}s`
  return `${sign}${h ? `${h}h${m}m` : m ? `${m}m` : ''}${sec}`
}

/** The Go kind mapstructure names for a JSON value that is not a map. */
function goKind(value: unknown): string {
  if (typeof value === 'string') return 'string'
  if (typeof value === 'number') return 'float64'
  if (typeof value === 'boolean') return 'bool'
  return Array.isArray(value) ? 'slice' : 'invalid'
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

/** The request body parsed as JSON; `invalid` when it is neither empty nor JSON. */
function readJson(req: IncomingMessage): Promise<{ value: unknown; invalid: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() === '') return resolve({ value: undefined, invalid: false })
      try {
        resolve({ value: JSON.parse(text), invalid: false })
      } catch {
        resolve({ value: undefined, invalid: true })
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
