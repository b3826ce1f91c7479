/**
 * The `consulSource` cases that hold on any Consul agent: the protocol double
 * (consul-source.test.ts) and a real agent (real-servers.test.ts). Keys are written through
 * the real `consul` client, under a prefix unique to the run.
 */
import Consul from 'consul'
import {
  Component,
  consulSource,
  explain,
  isSourceError,
  isSourceNotFoundError,
  resolve,
  type ComponentSource,
} from 'tributary'
import { context, request } from './request'

/** Where the cases run. */
export interface ConsulBackend {
  /** `http://host:port` */
  readonly url: string
  /** An ACL token that may read and write the prefix, when ACLs are on. */
  readonly token?: string
  /** A key prefix no other run uses, without a trailing slash. */
  readonly prefix: string
}

export function consulSourceCases(backend: () => ConsulBackend): void {
  let b: ConsulBackend
  let client: Consul
  let source: ComponentSource
  const key = (name: string): string => `${b.prefix}/${name}`

  beforeAll(async () => {
    b = backend()
    const { hostname, port } = new URL(b.url)
    client = new Consul({ host: hostname, port: Number(port), defaults: b.token ? { token: b.token } : {} })
    source = consulSource({ url: b.url, ...(b.token ? { token: b.token } : {}) })
    await client.kv.set(key('port'), '8080')
    await client.kv.set(key('empty'), '')
    await client.kv.set(key('db'), JSON.stringify({ primary: { host: 'db1', port: 5432 } }))
    await client.kv.set(key('plain'), 'hello')
    await client.kv.set(key('flags'), 'search,billing')
  })
  afterAll(async () => {
    await client.kv.del({ key: `${b.prefix}/`, recurse: true })
    await source.close?.()
    client.destroy()
  })

  it('is named consul (or as told) and applies fields itself', () => {
    expect(source.name).toBe('consul')
    expect(consulSource({ client, name: 'kv' }).name).toBe('kv')
    expect(source.appliesField).toBe(true)
  })

  it('reads a string value, with a client of its own or one it is given', async () => {
    expect(await source.fetch(request({ key: key('port') }), context())).toBe('8080')
    expect(await consulSource(client).fetch(request({ key: key('port') }), context())).toBe('8080')
  })

  it('reads an empty value as an empty string', async () => {
    expect(await source.fetch(request({ key: key('empty') }), context())).toBe('')
  })

  it('parses JSON for a field, dotted paths included; a missing field is not found', async () => {
    expect(await source.fetch(request({ key: key('db'), field: 'primary.port' }), context())).toBe(5432)
    const missing = await source
      .fetch(request({ key: key('db'), field: 'replica' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    expect((missing as Error).message).toContain('replica')
  })

  it('rejects a field on a value that is not JSON', async () => {
    const error = await source
      .fetch(request({ key: key('plain'), field: 'x' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(error)).toBe(true)
    expect((error as Error).message).toMatch(/not valid JSON/)
  })

  it('maps a missing key (the client returns undefined for 404) to SourceNotFoundError', async () => {
    const error = await source.fetch(request({ key: key('missing') }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(error)).toBe(true)
    expect(error).toMatchObject({ source: 'consul', key: key('missing') })
    expect((error as Error).message).toBe(`consul: key ${JSON.stringify(key('missing'))} not found`)
  })

  it('resolves a class: coercion, a fallback for a missing key, explain', async () => {
    class FromConsul {
      @Component({ fetchFrom: 'consul', key: key('port') }) port!: number
      @Component({ fetchFrom: 'consul', key: key('db'), field: 'primary.host' }) host!: string
      @Component({ fetchFrom: 'consul', key: key('flags') }) flags!: string[]
      @Component({ fetchFrom: 'consul', key: key('timeout'), fallback: 30 }) timeout!: number
    }
    const config = await resolve(FromConsul, { sources: [source] })
    expect(config).toMatchObject({ port: 8080, host: 'db1', flags: ['search', 'billing'], timeout: 30 })
    expect(explain(config).timeout).toMatchObject({ origin: 'fallback', source: 'consul' })
  })
}
