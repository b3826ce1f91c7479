import { inspect } from 'node:util'
import vault from 'node-vault'
import { vaultSource, type VaultClientLike } from '../../../src/sources/vault/vault-source'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'
import { isValue, recorder, request, sleep, type Reported } from './recorder'
import { startToggleProxy, type ToggleProxy } from './toggle-proxy'

const lastKind =
  (kind: Reported['kind']) =>
  (events: readonly Reported[]): boolean =>
    events.at(-1)?.kind === kind

describe('vault watcher (Vault double, real node-vault client)', () => {
  let double: VaultDouble
  let proxy: ToggleProxy
  beforeEach(async () => {
    double = await startVaultDouble()
    proxy = await startToggleProxy(Number(new URL(double.url).port))
  })
  afterEach(async () => {
    await proxy.close()
    await double.close()
  })

  const client = (token = double.token): VaultClientLike =>
    vault({ apiVersion: 'v1', endpoint: proxy.url, token }) as unknown as VaultClientLike
  const reads = (path: string) => double.requests.filter((r) => r === `GET /v1/${path}`).length

  it('KV v2: a new version, a same-data version, a soft delete and a new write', async () => {
    double.setSecret('secret/app', { apiKey: 'k1', region: 'eu' })
    const rec = recorder({ pollInterval: 20 })
    const source = vaultSource({ client: client() })
    const watcher = source.watch(request('secret/data/app', { field: 'apiKey', secret: true }), rec.options)
    await rec.until(isValue('k1'))
    double.setSecret('secret/app', { apiKey: 'k2', region: 'eu' })
    await rec.until(isValue('k2'))
    // A version whose field did not change is no change.
    double.setSecret('secret/app', { apiKey: 'k2', region: 'us' })
    const before = reads('secret/data/app')
    while (reads('secret/data/app') < before + 3) await sleep(10)
    double.deleteSecret('secret/app')
    await rec.until(lastKind('removed'))
    double.setSecret('secret/app', { apiKey: 'k3' })
    await rec.until(isValue('k3'))
    await watcher.stop()
    expect(rec.events.map((e) => (e.kind === 'value' ? e.value : e.kind))).toEqual([
      'k1',
      'k2',
      'removed',
      'k3',
    ])
  })

  it('KV v2 without a field reports the whole map of each version', async () => {
    double.setSecret('secret/map', { a: '1' })
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client()).watch(request('secret/data/map'), rec.options)
    await rec.until(isValue({ a: '1' }))
    double.setSecret('secret/map', { a: '1', b: '2' })
    await rec.until(isValue({ a: '1', b: '2' }))
    double.destroySecret('secret/map')
    await rec.until(lastKind('removed'))
    await watcher.stop()
  })

  it('KV v1: a ttl shorter than pollInterval makes the watcher read at 90% of the lease', async () => {
    double.setSecret('kv/app', { level: 'info', ttl: '1s' })
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = vaultSource(client()).watch(request('kv/app', { field: 'level' }), rec.options)
    await rec.until(isValue('info'))
    double.setSecret('kv/app', { level: 'debug', ttl: '1s' })
    // Only the lease can bring the change before the 60 s poll interval.
    await rec.until(isValue('debug'), 10_000)
    await watcher.stop()
  })

  it('a leased (dynamic) secret is read again at 90% of its lease, not at pollInterval', async () => {
    double.setLeased('database/creds/app', (n) => ({ username: `u${n}`, password: `p${n}` }), 1)
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client()).watch(
      request('database/creds/app', { field: 'username', secret: true }),
      rec.options,
    )
    await rec.until(isValue('u1'))
    const started = Date.now()
    await rec.until(isValue('u2'), 10_000)
    await watcher.stop()
    // Every read issues new credentials: at a 20 ms poll there would be dozens by now.
    const elapsed = Date.now() - started
    expect(reads('database/creds/app')).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 900))
    expect(elapsed).toBeGreaterThanOrEqual(800)
  })

  it('sealed, then unreachable: one error, capped backoff, then the current value', async () => {
    double.setSecret('secret/svc', { url: 'a' })
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client()).watch(request('secret/data/svc', { field: 'url' }), rec.options)
    await rec.until(isValue('a'))
    double.seal()
    await rec.until(lastKind('error'))
    const sealedAt = reads('secret/data/svc')
    await sleep(500)
    // 20, 40, 80, 160, 200 ms…: a handful of retries, not one every 20 ms.
    expect(reads('secret/data/svc') - sealedAt).toBeLessThanOrEqual(6)
    await proxy.down()
    await sleep(200)
    double.unseal()
    double.setSecret('secret/svc', { url: 'b' })
    await proxy.up()
    await rec.until(isValue('b'))
    const errors = rec.events.filter((e) => e.kind === 'error')
    expect(errors).toHaveLength(1)
    expect((errors[0] as { error: Error }).error.name).toBe('SourceUnavailableError')
    expect((errors[0] as { error: Error }).error.message).toMatch(/secret\/data\/svc.*503/)
    await watcher.stop()
  })

  it('a refused connection and a wrong token never put the token in an error', async () => {
    const token = 'hvs.do-not-print-this-token'
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client(token)).watch(request('secret/data/app'), rec.options)
    await rec.until(lastKind('error'))
    const denied = (rec.events[0] as { error: Error }).error
    expect(denied.name).toBe('SourcePermissionError')
    await proxy.down()
    const refused = recorder({ pollInterval: 20 })
    const second = vaultSource(client(token)).watch(request('secret/data/app'), refused.options)
    await refused.until(lastKind('error'))
    await Promise.all([watcher.stop(), second.stop()])
    const unreachable = (refused.events[0] as { error: Error }).error
    expect(unreachable.name).toBe('SourceUnavailableError')
    for (const error of [denied, unreachable]) {
      expect(error.message).not.toContain(token)
      expect(inspect(error, { depth: 8 })).not.toContain(token)
    }
  })

  it('stop() mid-wait ends the wait and makes no further request', async () => {
    double.setSecret('secret/held', { v: '1' })
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = vaultSource(client()).watch(request('secret/data/held', { field: 'v' }), rec.options)
    await rec.until(isValue('1'))
    await sleep(50)
    const count = double.requests.length
    await watcher.stop()
    double.setSecret('secret/held', { v: '2' })
    await sleep(100)
    expect(double.requests.length).toBe(count)
    expect(rec.values()).toEqual(['1'])
  })

  it('stop() while a read is in flight waits for it and reports nothing after', async () => {
    double.setSecret('secret/slow', { v: '1' })
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = vaultSource(client()).watch(request('secret/data/slow', { field: 'v' }), rec.options)
    // Stop before the first answer arrives.
    await watcher.stop()
    await sleep(100)
    expect(rec.events).toEqual([])
  })
})

describe('vault watcher against the strict double (delete_version_after, PATCH, max_versions)', () => {
  let double: VaultDouble
  let clock: number
  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    double = await startVaultDouble({ now: () => clock })
  })
  afterEach(() => double.close())
  const client = (): VaultClientLike =>
    vault({ apiVersion: 'v1', endpoint: double.url, token: double.token }) as unknown as VaultClientLike
  const reads = (path: string) => double.requests.filter((r) => r === `GET /v1/${path}`).length

  it('a version with a future deletion_time is live; once it passes, a removal; a new version returns', async () => {
    const admin = vault({ endpoint: double.url, token: double.token })
    await admin.write('secret/metadata/exp', { delete_version_after: '1h' })
    await admin.write('secret/data/exp', { data: { v: '1' } })
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client()).watch(request('secret/data/exp', { field: 'v' }), rec.options)
    await rec.until(isValue('1'))
    const before = reads('secret/data/exp')
    while (reads('secret/data/exp') < before + 3) await sleep(10)
    clock += 3_600_000
    await rec.until(lastKind('removed'))
    await admin.write('secret/data/exp', { data: { v: '2' } })
    await rec.until(isValue('2'))
    await watcher.stop()
    expect(rec.events.map((e) => (e.kind === 'value' ? e.value : e.kind))).toEqual(['1', 'removed', '2'])
  })

  it('a PATCH is a change; versions past max_versions dropping off change nothing', async () => {
    const admin = vault({ endpoint: double.url, token: double.token })
    await admin.write('secret/metadata/many', { max_versions: 2 })
    await admin.write('secret/data/many', { data: { a: '1', b: 'x' } })
    const rec = recorder({ pollInterval: 20 })
    const watcher = vaultSource(client()).watch(request('secret/data/many'), rec.options)
    await rec.until(isValue({ a: '1', b: 'x' }))
    await admin.update('secret/data/many', { data: { a: '2' } })
    await rec.until(isValue({ a: '2', b: 'x' }))
    for (let n = 0; n < 3; n++) await admin.update('secret/data/many', { data: { b: null } })
    await rec.until(isValue({ a: '2' }))
    const before = reads('secret/data/many')
    while (reads('secret/data/many') < before + 3) await sleep(10)
    await watcher.stop()
    expect(rec.values()).toEqual([{ a: '1', b: 'x' }, { a: '2', b: 'x' }, { a: '2' }])
    expect(rec.events.filter((e) => e.kind !== 'value')).toEqual([])
  })
})
