import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import vault from 'node-vault'
import {
  isSourceError,
  isSourceNotFoundError,
  isSourcePermissionError,
  isSourceUnavailableError,
  vaultSource,
  type ComponentSource,
} from 'tributary'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'
import { context, request } from './request'
import { vaultSourceCases } from './vault-source-cases'

describe('Vault double: the wire format', () => {
  let double: VaultDouble
  beforeAll(async () => {
    double = await startVaultDouble()
    double.setSecret('secret/app', { apiKey: 'k' })
    double.setSecret('kv/app', { password: 'p' })
  })
  afterAll(() => double.close())
  const get = (path: string, token: string | null = double.token) =>
    fetch(`${double.url}/v1/${path}`, { headers: token === null ? {} : { 'X-Vault-Token': token } })

  it('answers KV v2 and v1 reads with the full envelope', async () => {
    const v2 = await get('secret/data/app')
    expect(v2.status).toBe(200)
    const body = (await v2.json()) as Record<string, unknown>
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining([
        'request_id',
        'lease_id',
        'renewable',
        'lease_duration',
        'data',
        'wrap_info',
        'warnings',
        'auth',
      ]),
    )
    expect(body.data).toMatchObject({
      data: { apiKey: 'k' },
      metadata: { version: 1, destroyed: false, deletion_time: '', custom_metadata: null },
    })
    expect(((await (await get('kv/app')).json()) as { data: unknown }).data).toEqual({ password: 'p' })
  })

  it('answers a missing secret 404 {"errors":[]}, a wrong token 403, a sealed Vault 503', async () => {
    const missing = await get('secret/data/nope')
    expect([missing.status, await missing.json()]).toEqual([404, { errors: [] }])
    for (const token of ['wrong', null]) {
      const denied = await get('secret/data/app', token)
      expect([denied.status, await denied.json()]).toEqual([403, { errors: ['permission denied'] }])
    }
    double.seal()
    try {
      const sealed = await get('secret/data/app')
      expect([sealed.status, await sealed.json()]).toEqual([503, { errors: ['Vault is sealed'] }])
    } finally {
      double.unseal()
    }
  })

  it('answers a soft-deleted v2 version 404 with the envelope and data.data null', async () => {
    double.setSecret('secret/old', { a: '1' })
    double.deleteSecret('secret/old')
    const res = await get('secret/data/old')
    expect(res.status).toBe(404)
    const body = (await res.json()) as { data: { data: unknown; metadata: { deletion_time: string } } }
    expect(body.data.data).toBeNull()
    expect(body.data.metadata.deletion_time).not.toBe('')
  })
})

describe('vaultSource through node-vault against the double', () => {
  let double: VaultDouble
  beforeAll(async () => {
    double = await startVaultDouble()
  })

  vaultSourceCases(() => ({
    endpoint: double.url,
    token: double.token,
    v2Mount: 'secret',
    v1Mount: 'kv',
    prefix: 'tributary-test',
  }))
  // Registered after the cases' hooks, so it runs after their cleanup.
  afterAll(() => double.close())
})

describe('vaultSource: failures only the double can stage', () => {
  let double: VaultDouble
  let source: ComponentSource
  beforeEach(async () => {
    double = await startVaultDouble()
    double.setSecret('secret/app', { apiKey: 'k-123' })
    source = vaultSource(vault({ endpoint: double.url, token: double.token }))
  })
  afterEach(() => double.close())

  it('a sealed Vault is a SourceUnavailableError, distinct from not found and permission', async () => {
    double.seal()
    const error = await source.fetch(request({ key: 'secret/data/app' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    expect(isSourceNotFoundError(error) || isSourcePermissionError(error)).toBe(false)
    expect((error as Error).message).toBe(
      'vault: unavailable while reading "secret/data/app" (503: Vault is sealed)',
    )
    double.unseal()
    expect(await source.fetch(request({ key: 'secret/data/app', field: 'apiKey' }), context())).toBe('k-123')
  })

  it('a refused connection is a SourceUnavailableError', async () => {
    const url = double.url
    await double.close()
    const offline = vaultSource({ endpoint: url, token: 'tributary-root' })
    const error = await offline.fetch(request({ key: 'secret/data/app' }), context()).catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    expect((error as Error).message).toBe(
      'vault: cannot reach Vault while reading "secret/data/app" (ECONNREFUSED)',
    )
    double = await startVaultDouble()
  })

  it('keeps the token out of every message, even when the server echoes it', async () => {
    const token = 'hvs.echoed-secret-token'
    const echo = createServer((req, res: ServerResponse) => {
      res.statusCode = 500
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({ errors: [`internal error for token ${String(req.headers['x-vault-token'])}`] }),
      )
    })
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    try {
      const leaky = vaultSource({
        endpoint: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
        token,
      })
      const error = await leaky.fetch(request({ key: 'secret/data/app' }), context()).catch((e: unknown) => e)
      expect(isSourceError(error)).toBe(true)
      expect((error as Error).message).toBe(
        'vault: reading "secret/data/app" failed (500: internal error for token ***)',
      )
      expect(JSON.stringify(error)).not.toContain(token)
      expect(require('node:util').inspect(error, { depth: 10 })).not.toContain(token)
    } finally {
      echo.closeAllConnections()
      await new Promise((resolve) => echo.close(resolve))
    }
  })

  it('rejects with the reason when the signal aborts, without waiting for the answer', async () => {
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const slow = vaultSource({
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        token: 't',
      })
      const controller = new AbortController()
      const pending = slow
        .fetch(request({ key: 'secret/data/app' }), context(controller.signal))
        .catch((e: unknown) => e)
      setTimeout(() => controller.abort(new Error('stop')), 20)
      expect(await pending).toEqual(new Error('stop'))
    } finally {
      silent.closeAllConnections()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})
