import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Consul from 'consul'
import { consulSource, isSourcePermissionError, isSourceUnavailableError } from 'tributary'
import { startConsulDouble, type ConsulDouble } from '../../support/consul-double'
import { consulSourceCases } from './consul-source-cases'
import { context, request } from './request'

describe('Consul double through the real consul client', () => {
  let double: ConsulDouble
  let consul: Consul

  beforeEach(async () => {
    double = await startConsulDouble()
    consul = new Consul({ host: '127.0.0.1', port: double.port })
  })
  afterEach(async () => {
    consul.destroy()
    await double.close()
  })

  it('stores and reads values with the KV wire format and X-Consul-Index', async () => {
    expect(await consul.kv.set('app/port', '8080')).toBe(true)
    const item = (await consul.kv.get('app/port')) as {
      Key: string
      Value: string
      ModifyIndex: number
      CreateIndex: number
    }
    expect(item).toMatchObject({ Key: 'app/port', Value: '8080', LockIndex: 0, Flags: 0 })
    expect(item.ModifyIndex).toBe(double.index)
    const raw = await fetch(`${double.url}/v1/kv/app/port`)
    expect(raw.headers.get('x-consul-index')).toBe(String(item.ModifyIndex))
    expect(raw.headers.get('content-type')).toBe('application/json')
    expect(await raw.json()).toEqual([
      {
        LockIndex: 0,
        Key: 'app/port',
        Flags: 0,
        Value: Buffer.from('8080').toString('base64'),
        CreateIndex: item.CreateIndex,
        ModifyIndex: item.ModifyIndex,
      },
    ])
  })

  it('answers a missing key with 404, an empty body and a non-zero index; the client returns undefined', async () => {
    const raw = await fetch(`${double.url}/v1/kv/nope`)
    expect(raw.status).toBe(404)
    expect(await raw.text()).toBe('')
    expect(Number(raw.headers.get('x-consul-index'))).toBeGreaterThan(0)
    expect(await consul.kv.get('nope')).toBeUndefined()
  })

  it('supports ?raw, ?recurse and ?keys with a separator', async () => {
    double.set('app/a', '1')
    double.set('app/b/c', '2')
    double.set('other', '3')
    expect(String(await consul.kv.get({ key: 'app/a', raw: true }))).toBe('1')
    const all = (await consul.kv.get({ key: 'app/', recurse: true })) as Array<{ Key: string; Value: string }>
    expect(all.map((e) => [e.Key, e.Value])).toEqual([
      ['app/a', '1'],
      ['app/b/c', '2'],
    ])
    expect(await consul.kv.keys('app/')).toEqual(['app/a', 'app/b/c'])
    expect(await consul.kv.keys({ key: 'app/', separator: '/' })).toEqual(['app/a', 'app/b/'])
  })

  it('does check-and-set: cas=0 only creates, cas=N only matches the ModifyIndex', async () => {
    expect(await consul.kv.set({ key: 'k', value: 'a', cas: 0 })).toBe(true)
    // On the wire a failed CAS is the JSON body `false`; the consul 2.x client (papi) turns a falsy
    // body into undefined.
    const wire = await fetch(`${double.url}/v1/kv/k?cas=0`, { method: 'PUT', body: 'b' })
    expect(await wire.text()).toBe('false')
    expect(await consul.kv.set({ key: 'k', value: 'b', cas: 0 })).toBeFalsy()
    expect(double.get('k')).toBe('a')
    const item = (await consul.kv.get('k')) as { ModifyIndex: number }
    expect(await consul.kv.set({ key: 'k', value: 'c', cas: item.ModifyIndex + 100 })).toBeFalsy()
    expect(double.get('k')).toBe('a')
    expect(await consul.kv.set({ key: 'k', value: 'c', cas: item.ModifyIndex })).toBe(true)
    expect(double.get('k')).toBe('c')
    expect(await consul.kv.del('k')).toBe(true)
    expect(double.get('k')).toBeUndefined()
  })

  it('holds a blocking read until the index passes N', async () => {
    const at = double.set('watched', 'v1')
    const started = Date.now()
    const pending = fetch(`${double.url}/v1/kv/watched?index=${at}&wait=5s`)
    setTimeout(() => double.set('watched', 'v2'), 100)
    const res = await pending
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    expect(Number(res.headers.get('x-consul-index'))).toBeGreaterThan(at)
    const [entry] = (await res.json()) as Array<{ Value: string }>
    expect(Buffer.from(entry?.Value ?? '', 'base64').toString()).toBe('v2')
  })

  it('ends a blocking read when the wait passes, with the same index', async () => {
    const at = double.set('quiet', 'v1')
    const started = Date.now()
    const res = await fetch(`${double.url}/v1/kv/quiet?index=${at}&wait=200ms`)
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-consul-index')).toBe(String(at))
  })

  it('a write to another key does not end a blocking read on this key', async () => {
    const at = double.set('mine', 'v1')
    const pending = fetch(`${double.url}/v1/kv/mine?index=${at}&wait=300ms`)
    setTimeout(() => double.set('theirs', 'x'), 50)
    const res = await pending
    expect(res.headers.get('x-consul-index')).toBe(String(at))
  })

  it('close() ends held blocking reads', async () => {
    const at = double.set('held', 'v1')
    const pending = fetch(`${double.url}/v1/kv/held?index=${at}&wait=5m`).then(
      (r) => r.status,
      () => 'closed',
    )
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    await double.close()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect([200, 'closed']).toContain(await pending)
  })
})

describe('Consul double with ACLs', () => {
  let double: ConsulDouble
  beforeEach(async () => {
    double = await startConsulDouble({ tokens: ['good-token'] })
    double.set('app/port', '8080')
  })
  afterEach(() => double.close())

  it('answers an unknown token 403 "ACL not found", no token 403 "Permission denied: anonymous token …"', async () => {
    // Consul's acl/errors.go: an unknown secret is ErrNotFound, a known one without rights (the
    // anonymous token included) a PermissionDeniedError; agent/http.go answers both 403 text/plain.
    const unknown = await fetch(`${double.url}/v1/kv/app/port`, { headers: { 'X-Consul-Token': 'wrong' } })
    expect([unknown.status, await unknown.text()]).toEqual([403, 'ACL not found'])
    expect(unknown.headers.get('content-type')).toMatch(/^text\/plain/)
    const anonymous = await fetch(`${double.url}/v1/kv/app/port`)
    expect(anonymous.status).toBe(403)
    expect(await anonymous.text()).toBe(
      `Permission denied: anonymous token lacks permission 'key:read' on "app/port". ` +
        'The anonymous token is used implicitly when a request does not specify a token.',
    )
    const ok = await fetch(`${double.url}/v1/kv/app/port`, { headers: { 'X-Consul-Token': 'good-token' } })
    expect(ok.status).toBe(200)
    // ?token= wins over the header.
    const query = await fetch(`${double.url}/v1/kv/app/port?token=wrong`, {
      headers: { 'X-Consul-Token': 'good-token' },
    })
    expect(query.status).toBe(403)
  })

  it('a known token without key:read is "Permission denied" naming its accessor; the client rejects 403', async () => {
    const strict = await startConsulDouble({ tokens: ['good-token'], deniedTokens: ['read-nothing'] })
    const client = new Consul({ host: '127.0.0.1', port: strict.port, defaults: { token: 'read-nothing' } })
    try {
      strict.set('app/port', '8080')
      const error = (await client.kv.get('app/port').catch((e: unknown) => e)) as {
        statusCode?: number
        response?: { body?: unknown }
      }
      expect(error.statusCode).toBe(403)
      expect(String(error.response?.body)).toMatch(
        /^Permission denied: token with AccessorID '[0-9a-f-]+' lacks permission 'key:read' on "app\/port"$/,
      )
      const unknown = new Consul({ host: '127.0.0.1', port: strict.port, defaults: { token: 'nobody' } })
      const notFound = (await unknown.kv.get('app/port').catch((e: unknown) => e)) as {
        response?: { body?: unknown }
      }
      unknown.destroy()
      expect(String(notFound.response?.body)).toBe('ACL not found')
    } finally {
      client.destroy()
      await strict.close()
    }
  })

  it('consulSource reads with a token and maps a wrong token to a permission error without printing it', async () => {
    const good = consulSource({ host: '127.0.0.1', port: double.port, token: 'good-token' })
    const bad = consulSource({ host: '127.0.0.1', port: double.port, token: 'wrong-secret-token' })
    try {
      expect(await good.fetch(request({ key: 'app/port' }), context())).toBe('8080')
      const error = await bad.fetch(request({ key: 'app/port' }), context()).catch((e: unknown) => e)
      expect(isSourcePermissionError(error)).toBe(true)
      expect((error as Error).message).toBe(
        'consul: permission denied reading "app/port" (ACL, 403: ACL not found)',
      )
      expect((error as Error).message).not.toContain('wrong-secret-token')
      expect(JSON.stringify(error)).not.toContain('wrong-secret-token')
      expect(require('node:util').inspect(error, { depth: 10 })).not.toContain('wrong-secret-token')
    } finally {
      await good.close?.()
      await bad.close?.()
    }
  })

  it('a token given with a client overrides the client default', async () => {
    const client = new Consul({ host: '127.0.0.1', port: double.port })
    const source = consulSource({ client, token: 'good-token' })
    try {
      expect(await source.fetch(request({ key: 'app/port' }), context())).toBe('8080')
    } finally {
      client.destroy()
    }
  })
})

describe('consulSource through the consul client against the double', () => {
  let double: ConsulDouble
  beforeAll(async () => {
    double = await startConsulDouble()
  })

  consulSourceCases(() => ({ url: double.url, prefix: 'tributary-test' }))
  // Registered after the cases' hooks, so it runs after their cleanup.
  afterAll(() => double.close())
})

describe('consulSource: failures only a stand-in server can stage', () => {
  let double: ConsulDouble

  beforeEach(async () => {
    double = await startConsulDouble()
  })
  afterEach(async () => {
    await double.close()
  })

  it('maps a refused connection to SourceUnavailableError', async () => {
    const port = double.port
    await double.close()
    const offline = consulSource({ host: '127.0.0.1', port })
    try {
      const error = await offline.fetch(request({ key: 'app/port' }), context()).catch((e: unknown) => e)
      expect((error as Error).message).toMatch(/ECONNREFUSED/)
      expect(isSourceUnavailableError(error)).toBe(true)
    } finally {
      await offline.close?.()
    }
  })

  it('aborts the HTTP request when the signal aborts', async () => {
    const held = new Set<import('node:http').ServerResponse>()
    const silent = createServer((_req, res) => held.add(res))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const slow = consulSource({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port })
    const controller = new AbortController()
    const started = Date.now()
    const pending = slow.fetch(request({ key: 'slow' }), context(controller.signal)).catch((e: unknown) => e)
    setTimeout(() => controller.abort(new Error('stop')), 50)
    const error = await pending
    expect((error as Error).message).toBe('stop')
    expect(Date.now() - started).toBeLessThan(2_000)
    await slow.close?.()
    silent.closeAllConnections()
    await new Promise((resolve) => silent.close(resolve))
  })
})
