/**
 * The Vault double refuses what Vault refuses and keeps what Vault keeps (the KV v2 API docs;
 * Vault's http/logical.go and vault-plugin-secrets-kv's path_data.go): through the real
 * `node-vault` client where it can send the request, raw HTTP where it cannot.
 */
import vault from 'node-vault'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'

/** A node-vault rejection: `response.statusCode` and the body (its error classes are not exported). */
interface Rejection {
  response?: { statusCode?: number; body?: { errors?: string[]; data?: unknown } }
}

describe('Vault double: refusals, max_versions, PATCH and delete_version_after', () => {
  let double: VaultDouble
  let client: vault.client
  let clock: number
  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    double = await startVaultDouble({ now: () => clock })
    client = vault({ endpoint: double.url, token: double.token })
  })
  afterEach(() => double.close())

  const refused = async (pending: Promise<unknown>): Promise<[number | undefined, unknown]> => {
    const error = (await pending.then(
      () => ({}),
      (e: unknown) => e,
    )) as Rejection
    return [error.response?.statusCode, error.response?.body?.errors]
  }
  const raw = (path: string, init: RequestInit = {}) =>
    fetch(`${double.url}/v1/${path}`, {
      ...init,
      headers: { 'X-Vault-Token': double.token, ...(init.headers as Record<string, string>) },
    })

  it('a write without data is 400 "no data provided" (KV v2) or "missing data fields" (KV v1)', async () => {
    expect(await refused(client.write('secret/data/app', {}))).toEqual([400, ['no data provided']])
    expect(await refused(client.write('secret/data/app', { apiKey: 'k' }))).toEqual([
      400,
      ['no data provided'],
    ])
    expect(await refused(client.write('kv/app', {}))).toEqual([400, ['missing data fields']])
    const notMap = await refused(client.write('secret/data/app', { data: 'k' }))
    expect(notMap[0]).toBe(400)
    expect(await refused(client.read('secret/data/app'))).toEqual([404, []])
  })

  it('a body that is not JSON is 400 "error parsing JSON", before the token is looked at', async () => {
    for (const headers of [{}, { 'X-Vault-Token': 'wrong' }] as Record<string, string>[]) {
      const res = await raw('secret/data/app', { method: 'POST', body: '{"data": ', headers })
      expect([res.status, await res.json()]).toEqual([400, { errors: ['error parsing JSON'] }])
    }
    const v1 = await raw('kv/app', { method: 'PUT', body: 'a=b' })
    expect(v1.status).toBe(400)
  })

  it('cas: a mismatch is 400; cas_required without cas is 400', async () => {
    await client.write('secret/data/app', { data: { a: '1' } })
    expect(await refused(client.write('secret/data/app', { options: { cas: 0 }, data: { a: '2' } }))).toEqual(
      [400, ['check-and-set parameter did not match the current version']],
    )
    await client.write('secret/metadata/app', { cas_required: true })
    expect(await refused(client.write('secret/data/app', { data: { a: '2' } }))).toEqual([
      400,
      ['check-and-set parameter required for this call'],
    ])
    await client.write('secret/data/app', { options: { cas: 1 }, data: { a: '2' } })
    expect(((await client.read('secret/data/app')) as { data: { data: unknown } }).data.data).toEqual({
      a: '2',
    })
  })

  it('keeps 10 versions by default: the oldest are removed and oldest_version moves on', async () => {
    for (let n = 1; n <= 12; n++) await client.write('secret/data/app', { data: { n } })
    const metadata = ((await client.read('secret/metadata/app')) as { data: Record<string, unknown> }).data
    expect(metadata).toMatchObject({ current_version: 12, oldest_version: 3, max_versions: 0 })
    expect(Object.keys(metadata.versions as object)).toEqual([
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '11',
      '12',
    ])
    expect(await refused(client.read('secret/data/app?version=2'))).toEqual([404, []])
    const third = (await client.read('secret/data/app?version=3')) as { data: { data: unknown } }
    expect(third.data.data).toEqual({ n: 3 })
  })

  it('max_versions from the key metadata, else the engine config', async () => {
    await client.write('secret/config', { max_versions: 3 })
    expect(((await client.read('secret/config')) as { data: unknown }).data).toMatchObject({
      max_versions: 3,
    })
    for (let n = 1; n <= 5; n++) await client.write('secret/data/cfg', { data: { n } })
    const cfg = ((await client.read('secret/metadata/cfg')) as { data: { versions: object } }).data
    expect(Object.keys(cfg.versions)).toEqual(['3', '4', '5'])
    await client.write('secret/metadata/own', { max_versions: 2 })
    for (let n = 1; n <= 4; n++) double.setSecret('secret/own', { n })
    const own = ((await client.read('secret/metadata/own')) as { data: Record<string, unknown> }).data
    expect(own).toMatchObject({ max_versions: 2, current_version: 4, oldest_version: 3 })
  })

  it('PATCH is a JSON merge patch making a new version, of a live secret only', async () => {
    await client.write('secret/data/app', { data: { a: '1', b: { c: '2', d: '3' }, e: '4' } })
    // node-vault's update() sends PATCH with application/merge-patch+json.
    const written = (await client.update('secret/data/app', {
      data: { a: 'x', b: { c: null }, e: null },
    })) as {
      data: { version: number }
    }
    expect(written.data.version).toBe(2)
    const read = (await client.read('secret/data/app')) as { data: { data: unknown } }
    expect(read.data.data).toEqual({ a: 'x', b: { d: '3' } })
    expect(await refused(client.update('secret/data/app', {}))).toEqual([400, ['no data provided']])
    expect(await refused(client.update('secret/data/none', { data: { a: '1' } }))).toEqual([404, []])
    expect(
      await refused(client.update('secret/data/app', { options: { cas: 1 }, data: { a: 'y' } })),
    ).toEqual([400, ['check-and-set parameter did not match the current version']])
    await client.delete('secret/data/app')
    const deleted = await refused(client.update('secret/data/app', { data: { a: 'y' } }))
    expect(deleted[0]).toBe(404)
    const wrongType = await raw('secret/data/app', { method: 'PATCH', body: '{"data":{"a":"z"}}' })
    expect(wrongType.status).toBe(415)
    expect(((await wrongType.json()) as { errors: string[] }).errors[0]).toMatch(
      /^PATCH requires Content-Type of application\/merge-patch\+json/,
    )
  })

  it('delete_version_after: a new version gets a deletion_time; past it, reads are 404 as for a soft delete', async () => {
    await client.write('secret/metadata/app', { delete_version_after: '1h' })
    await client.write('secret/data/app', { data: { a: '1' } })
    const live = (await client.read('secret/data/app')) as {
      data: { data: unknown; metadata: { deletion_time: string } }
    }
    expect(live.data.data).toEqual({ a: '1' })
    expect(live.data.metadata.deletion_time).toBe('2026-01-01T01:00:00.000Z')
    clock += 3_600_000
    const error = (await client.read('secret/data/app').catch((e: unknown) => e)) as Rejection
    expect(error.response?.statusCode).toBe(404)
    expect(error.response?.body?.data).toMatchObject({ data: null, metadata: { version: 1 } })
    // The smaller of the engine's and the key's; a negative engine value disables it.
    await client.write('secret/config', { delete_version_after: '10m' })
    await client.write('secret/data/app', { data: { a: '2' } })
    const second = (await client.read('secret/data/app')) as { data: { metadata: { deletion_time: string } } }
    expect(second.data.metadata.deletion_time).toBe('2026-01-01T01:10:00.000Z')
    expect(((await client.read('secret/metadata/app')) as { data: unknown }).data).toMatchObject({
      delete_version_after: '1h0m0s',
    })
    await client.write('secret/config', { delete_version_after: '-1s' })
    await client.write('secret/data/app', { data: { a: '3' } })
    const third = (await client.read('secret/data/app')) as { data: { metadata: { deletion_time: string } } }
    expect(third.data.metadata.deletion_time).toBe('')
  })
})
