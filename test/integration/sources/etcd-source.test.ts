import { Etcd3 } from 'etcd3'
import {
  Component,
  etcdSource,
  isEtcdOptionsError,
  isSourceError,
  isSourceNotFoundError,
  isSourceUnavailableError,
  resolve,
  type EtcdClientLike,
  type WatchableSource,
} from 'tributary'
import { startEtcd, type EtcdCluster } from '../../support/etcd'
import { freePort } from '../../support/own-redis'
import { describeWithEtcd } from '../../support/services'
import { context, request } from './request'

describeWithEtcd('etcdSource', () => {
  let etcd: EtcdCluster
  let client: Etcd3
  let source: WatchableSource

  beforeAll(async () => {
    etcd = await startEtcd(1)
    client = new Etcd3({ hosts: [...etcd.hosts] })
    await client.put('app/port').value('8080')
    await client.put('app/doc').value(JSON.stringify({ db: { host: 'db.internal' }, tags: ['a', 'b'] }))
    await client.put('app/plain').value('not json')
    await client.put('app/features/beta').value('on')
    await client.put('app/features/theme').value('dark')
    await client.put('app/features/db/url').value('postgres://db')
    await client.put('ns/inner').value('namespaced')
    source = etcdSource({ hosts: etcd.hosts })
  })
  afterAll(async () => {
    await source?.close?.()
    client?.close()
    await etcd?.destroy()
  })

  it('is named etcd (or as told), applies fields itself, and fits an Etcd3 client', () => {
    const typed: EtcdClientLike = client
    expect(source.name).toBe('etcd')
    expect(source.appliesField).toBe(true)
    expect(etcdSource({ client: typed, name: 'config' }).name).toBe('config')
  })

  it('reads a key by key or by property name', async () => {
    expect(await source.fetch(request({ key: 'app/port' }), context())).toBe('8080')
    expect(await source.fetch(request({ property: 'app/port' }), context())).toBe('8080')
  })

  it('reads a prefix (a key ending in /) as an object of the rest of each key to its value', async () => {
    expect(await source.fetch(request({ key: 'app/features/' }), context())).toEqual({
      beta: 'on',
      'db/url': 'postgres://db',
      theme: 'dark',
    })
    expect(await source.fetch(request({ key: 'app/features/', field: 'theme' }), context())).toBe('dark')
  })

  it('picks a JSON field; a value that is not JSON is a SourceError naming the key, not the value', async () => {
    expect(await source.fetch(request({ key: 'app/doc', field: 'db.host' }), context())).toBe('db.internal')
    expect(await source.fetch(request({ key: 'app/doc', field: 'tags.1' }), context())).toBe('b')
    const error = (await source
      .fetch(request({ key: 'app/plain', field: 'x' }), context())
      .catch((e: unknown) => e)) as Error
    expect(isSourceError(error)).toBe(true)
    expect(isSourceNotFoundError(error)).toBe(false)
    expect(error.message).toContain('"app/plain"')
    expect(error.message).not.toContain('not json')
    const missing = await source
      .fetch(request({ key: 'app/doc', field: 'db.port' }), context())
      .catch((e) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
  })

  it('a missing key, and a prefix with no key, are SourceNotFoundErrors naming the key', async () => {
    const key = await source.fetch(request({ key: 'app/nope' }), context()).catch((e) => e)
    expect(isSourceNotFoundError(key)).toBe(true)
    expect(key).toMatchObject({ source: 'etcd', key: 'app/nope' })
    const prefix = await source.fetch(request({ key: 'nothing/' }), context()).catch((e) => e)
    expect(isSourceNotFoundError(prefix)).toBe(true)
  })

  it('prepends the source prefix, with its own client or a given one (never closed by the source)', async () => {
    const own = etcdSource({ hosts: etcd.hosts[0], prefix: 'ns/' })
    const given = etcdSource({ client, prefix: 'ns/' })
    expect(await own.fetch(request({ key: 'inner' }), context())).toBe('namespaced')
    expect(await given.fetch(request({ key: 'inner' }), context())).toBe('namespaced')
    await own.close?.()
    await given.close?.()
    expect(await client.get('ns/inner').string()).toBe('namespaced')
  })

  it('resolves a component class with fetchFrom: etcd', async () => {
    class AppConfig {
      @Component({ fetchFrom: 'etcd', key: 'app/port' }) port!: number
      @Component({ fetchFrom: 'etcd', key: 'app/doc', field: 'db.host' }) dbHost!: string
      @Component({ fetchFrom: 'etcd', key: 'app/features/' }) features!: Record<string, string>
    }
    const config = await resolve(AppConfig, { sources: [source] })
    expect(config.port).toBe(8080)
    expect(config.dbHost).toBe('db.internal')
    expect(config.features.beta).toBe('on')
  })

  it('bad options are EtcdOptionsErrors naming the option, never the password', () => {
    const cases: Array<[unknown, string]> = [
      [{ host: 'http://127.0.0.1:2379' }, 'host'],
      [{ hosts: [] }, 'hosts'],
      [{ hosts: ['not a url'] }, 'hosts'],
      [{ hosts: 2379 }, 'hosts'],
      [{ auth: { username: '', password: 's3cret-pw' } }, 'auth'],
      [{ dialTimeout: -1 }, 'dialTimeout'],
      [{ prefix: 3 }, 'prefix'],
      [{ client, prefx: 'a/' }, 'prefx'],
    ]
    for (const [options, option] of cases) {
      let error: unknown
      try {
        etcdSource(options as never)
      } catch (e) {
        error = e
      }
      expect(isEtcdOptionsError(error)).toBe(true)
      expect(error).toMatchObject({ option })
      expect((error as Error).message).not.toContain('s3cret-pw')
    }
    expect(() => etcdSource({ host: 'x' } as never)).toThrow(/did you mean "hosts"/)
  })

  it('a member that is not there is a SourceUnavailableError', async () => {
    const nobody = etcdSource({ hosts: `http://127.0.0.1:${await freePort()}`, dialTimeout: 500 })
    const error = (await nobody
      .fetch(request({ key: 'app/port' }), context())
      .catch((e: unknown) => e)) as Error & { key?: string }
    await nobody.close?.()
    expect(isSourceUnavailableError(error)).toBe(true)
    expect(error.key).toBe('app/port')
  })

  it('an aborted signal rejects the read', async () => {
    const controller = new AbortController()
    controller.abort(new Error('gone'))
    await expect(source.fetch(request({ key: 'app/port' }), context(controller.signal))).rejects.toThrow(
      'gone',
    )
  })
})
