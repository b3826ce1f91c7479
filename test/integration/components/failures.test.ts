/**
 * One resolution over real sources where three fail at once — Consul refuses the token,
 * Vault is sealed, the HTTP endpoint answers 500 — while env, a YAML file and SQLite resolve:
 * all three failures are reported together, after everything settled, and the rest is kept.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { sql } from 'kysely'
import vault from 'node-vault'
import {
  Component,
  consulSource,
  databaseSource,
  envSource,
  explain,
  fileSource,
  httpSource,
  isComponentResolutionError,
  isHttpStatusError,
  isSourcePermissionError,
  isSourceUnavailableError,
  resolve,
  vaultSource,
  type ComponentResolutionError,
  type ComponentSource,
} from 'tributary'
import { startConsulDouble, type ConsulDouble } from '../../support/consul-double'
import { createSqliteDatabase, type TestDatabase } from '../../support/database'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'

const CONSUL_TOKEN = 'consul-token-not-allowed'

class AppConfig {
  @Component({ fetchFrom: 'env', key: 'HOST' }) host!: string
  @Component({ fetchFrom: 'consul', key: 'app/port' }) port!: number
  @Component({ fetchFrom: 'vault', key: 'secret/data/app', field: 'apiKey', secret: true }) apiKey!: string
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'features' }) features!: string[]
  @Component({ fetchFrom: 'http', key: '/flags' }) flags!: object
  @Component({ fetchFrom: 'database', key: 'region' }) region!: string
}

let consul: ConsulDouble
let vaultDouble: VaultDouble
let http: Server
let database: TestDatabase
let dir: string
let httpHealthy = false
const owned: ComponentSource[] = []

/** The six sources; Consul with the given token. */
function sourcesWith(consulToken: string): ComponentSource[] {
  const sources = [
    envSource({ env: { HOST: 'app.internal' } }),
    consulSource({ host: '127.0.0.1', port: consul.port, token: consulToken }),
    vaultSource(vault({ endpoint: vaultDouble.url, token: vaultDouble.token })),
    fileSource({ baseDir: dir }),
    httpSource({ baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }),
    databaseSource(database.db),
  ]
  owned.push(...sources)
  return sources
}

beforeAll(async () => {
  consul = await startConsulDouble({ tokens: ['the-right-token'] })
  consul.set('app/port', '8080')
  vaultDouble = await startVaultDouble()
  vaultDouble.setSecret('secret/app', { apiKey: 'k-secret-123' })
  vaultDouble.seal()
  http = createServer((_req, res) => {
    if (!httpHealthy) {
      res.statusCode = 500
      return res.end('boom')
    }
    res.setHeader('content-type', 'application/json')
    res.end('{"beta":true}')
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  database = createSqliteDatabase('tributary-failures')
  await sql`CREATE TABLE config (key varchar(100) PRIMARY KEY, value text)`.execute(database.db)
  await sql`INSERT INTO config (key, value) VALUES ('region', 'eu-west')`.execute(database.db)
  dir = mkdtempSync(join(tmpdir(), 'tributary-failures-'))
  writeFileSync(join(dir, 'app.yaml'), 'features:\n  - search\n  - billing\n')
})

afterAll(async () => {
  for (const source of owned) await source.close?.()
  await consul.close()
  await vaultDouble.close()
  http.closeAllConnections()
  await new Promise((resolve) => http.close(resolve))
  await database.drop()
  rmSync(dir, { recursive: true, force: true })
})

it('reports all three failures in one error and keeps the three components that resolved', async () => {
  const error = (await resolve(AppConfig, { sources: sourcesWith(CONSUL_TOKEN) }).catch(
    (e: unknown) => e,
  )) as ComponentResolutionError
  expect(isComponentResolutionError(error)).toBe(true)
  expect(error).toBeInstanceOf(AggregateError)
  expect(error.errors.map((e) => [e.property, e.source, e.key, e.attempts])).toEqual([
    ['port', 'consul', 'app/port', 1],
    ['apiKey', 'vault', 'secret/data/app', 1],
    ['flags', 'http', '/flags', 1],
  ])
  expect(isSourcePermissionError(error.errors[0]?.cause)).toBe(true)
  expect(isSourceUnavailableError(error.errors[1]?.cause)).toBe(true)
  expect(isHttpStatusError(error.errors[2]?.cause)).toBe(true)
  expect(error.message.split('\n')[0]).toBe('AppConfig: 3 component(s) failed to resolve:')
  expect(error.resolved).toEqual(['host', 'features', 'region'])
  expect(error.instance).toMatchObject({
    host: 'app.internal',
    features: ['search', 'billing'],
    region: 'eu-west',
  })
  expect(Object.keys(explain(error.instance as object))).toEqual(['host', 'features', 'region'])
  for (const shown of [error.message, JSON.stringify(error.errors), inspect(error, { depth: 10 })]) {
    expect(shown).not.toContain(CONSUL_TOKEN)
    expect(shown).not.toContain(vaultDouble.token)
  }
})

it('resolves completely once the three sources recover', async () => {
  vaultDouble.unseal()
  httpHealthy = true
  try {
    const config = await resolve(AppConfig, { sources: sourcesWith('the-right-token') })
    expect(config).toMatchObject({ port: 8080, apiKey: 'k-secret-123', flags: { beta: true } })
  } finally {
    vaultDouble.seal()
    httpHealthy = false
  }
})
