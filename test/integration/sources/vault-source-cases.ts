/**
 * The `vaultSource` cases that hold on any Vault: the protocol double (vault-source.test.ts)
 * and a real server (real-servers.test.ts). Secrets are written through the real `node-vault`
 * client, under a path prefix unique to the run.
 */
import { inspect } from 'node:util'
import vault from 'node-vault'
import {
  Component,
  explain,
  isSourceNotFoundError,
  isSourcePermissionError,
  isSourceUnavailableError,
  resolve,
  vaultSource,
  type ComponentResolutionError,
  type ComponentSource,
} from 'tributary'
import { context, request } from './request'

/** Where the cases run. */
export interface VaultBackend {
  readonly endpoint: string
  /** A token that may read, write and delete under both mounts. */
  readonly token: string
  /** A KV version 2 mount, e.g. `'secret'`. */
  readonly v2Mount: string
  /** A KV version 1 mount, e.g. `'kv'`. */
  readonly v1Mount: string
  /** A path prefix no other run uses. */
  readonly prefix: string
}

const WRONG_TOKEN = 'hvs.wrong-token-0123456789'

export function vaultSourceCases(backend: () => VaultBackend): void {
  let b: VaultBackend
  let client: vault.client
  let source: ComponentSource
  const v2 = (path: string): string => `${b.v2Mount}/data/${b.prefix}/${path}`
  const v1 = (path: string): string => `${b.v1Mount}/${b.prefix}/${path}`

  beforeAll(async () => {
    b = backend()
    client = vault({ endpoint: b.endpoint, token: b.token })
    source = vaultSource(client)
    await client.write(v2('app'), {
      data: { apiKey: 'k-123', port: '8443', db: { url: 'postgres://vault-user@db/app' } },
    })
    await client.write(v1('legacy'), { password: 'p-456', retries: '3' })
    await client.write(v2('gone'), { data: { a: '1' } })
    await client.delete(v2('gone'))
    await client.write(v2('burnt'), { data: { a: '1' } })
    await client.write(`${b.v2Mount}/destroy/${b.prefix}/burnt`, { versions: [1] })
  })
  afterAll(async () => {
    for (const name of ['app', 'gone', 'burnt'])
      await client.delete(`${b.v2Mount}/metadata/${b.prefix}/${name}`)
    await client.delete(v1('legacy'))
  })

  it('reads a KV v2 secret: the whole map, one field, a dotted path in a nested value', async () => {
    expect(await source.fetch(request({ key: v2('app') }), context())).toEqual({
      apiKey: 'k-123',
      port: '8443',
      db: { url: 'postgres://vault-user@db/app' },
    })
    expect(await source.fetch(request({ key: v2('app'), field: 'apiKey' }), context())).toBe('k-123')
    expect(await source.fetch(request({ key: v2('app'), field: 'db.url' }), context())).toBe(
      'postgres://vault-user@db/app',
    )
  })

  it('reads a KV v1 secret', async () => {
    expect(await source.fetch(request({ key: v1('legacy') }), context())).toEqual({
      password: 'p-456',
      retries: '3',
    })
    expect(await source.fetch(request({ key: v1('legacy'), field: 'password' }), context())).toBe('p-456')
  })

  it('accepts the API path with a leading /v1/', async () => {
    expect(await source.fetch(request({ key: `/v1/${v2('app')}`, field: 'port' }), context())).toBe('8443')
  })

  it('builds its own node-vault client from options, or takes { client, name }', async () => {
    const own = vaultSource({ endpoint: b.endpoint, token: b.token })
    try {
      expect(await own.fetch(request({ key: v2('app'), field: 'port' }), context())).toBe('8443')
    } finally {
      await own.close?.()
    }
    const named = vaultSource({ client, name: 'secrets' })
    expect(named.name).toBe('secrets')
    expect(await named.fetch(request({ key: v1('legacy'), field: 'retries' }), context())).toBe('3')
  })

  it('a missing secret or field is a SourceNotFoundError naming the path or field, never a value', async () => {
    const missing = await source.fetch(request({ key: v2('absent') }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    expect(missing).toMatchObject({ source: 'vault', key: v2('absent') })
    expect((missing as Error).message).toBe(`vault: secret ${JSON.stringify(v2('absent'))} not found`)
    const missingV1 = await source.fetch(request({ key: v1('absent') }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(missingV1)).toBe(true)
    const field = await source
      .fetch(request({ key: v2('app'), field: 'password' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(field)).toBe(true)
    expect((field as Error).message).toBe(`vault: field "password" not found in ${JSON.stringify(v2('app'))}`)
    expect(JSON.stringify(field)).not.toContain('k-123')
  })

  it('a soft-deleted or destroyed KV v2 version is a SourceNotFoundError saying so', async () => {
    const deleted = await source.fetch(request({ key: v2('gone') }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(deleted)).toBe(true)
    expect((deleted as Error).message).toBe(
      `vault: secret ${JSON.stringify(v2('gone'))} version 1 is deleted`,
    )
    const destroyed = await source.fetch(request({ key: v2('burnt') }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(destroyed)).toBe(true)
    expect((destroyed as Error).message).toBe(
      `vault: secret ${JSON.stringify(v2('burnt'))} version 1 is destroyed`,
    )
  })

  it('a KV v2 mount read without data/ is not found, with Vault’s hint', async () => {
    const path = `${b.v2Mount}/${b.prefix}/app`
    const error = await source.fetch(request({ key: path }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(error)).toBe(true)
    expect((error as Error).message).toMatch(
      new RegExp(`^vault: secret "${path}" not found \\(Invalid path for a versioned K/V secrets engine`),
    )
  })

  it('a wrong token is a SourcePermissionError, and the token appears nowhere in it', async () => {
    const wrong = vaultSource({ endpoint: b.endpoint, token: WRONG_TOKEN })
    const error = await wrong.fetch(request({ key: v2('app') }), context()).catch((e: unknown) => e)
    expect(isSourcePermissionError(error)).toBe(true)
    expect(isSourceNotFoundError(error) || isSourceUnavailableError(error)).toBe(false)
    expect((error as Error).message).toBe(
      `vault: permission denied reading ${JSON.stringify(v2('app'))} (403: permission denied)`,
    )
    for (const shown of [(error as Error).message, JSON.stringify(error), inspect(error, { depth: 10 })]) {
      expect(shown).not.toContain(WRONG_TOKEN)
      expect(shown).not.toContain(b.token)
    }
  })

  it('resolves a class: KV v1 and v2, coercion, and a secret masked in explain and errors', async () => {
    class Secrets {
      @Component({ fetchFrom: 'vault', key: v2('app'), field: 'apiKey', secret: true }) apiKey!: string
      @Component({ fetchFrom: 'vault', key: v2('app'), field: 'port' }) port!: number
      @Component({ fetchFrom: 'vault', key: v1('legacy'), field: 'retries' }) retries!: number
      @Component({ fetchFrom: 'vault', key: v1('legacy'), field: 'password', secret: true, type: Number })
      pin!: number
    }
    const error = (await resolve(Secrets, { sources: [source] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(error.errors.map((e) => e.message)).toEqual([
      `Secrets.pin (source "vault", key ${JSON.stringify(v1('legacy'))}): cannot convert *** to number`,
    ])
    const partial = error.instance as Secrets
    expect(partial).toMatchObject({ apiKey: 'k-123', port: 8443, retries: 3 })
    expect(explain(partial).apiKey).toMatchObject({ value: '***', secret: true, origin: 'source' })
    for (const shown of [
      JSON.stringify(partial),
      inspect(partial),
      JSON.stringify(explain(partial)),
      error.message,
    ]) {
      expect(shown).not.toContain('k-123')
      expect(shown).not.toContain('p-456')
    }
  })
}
