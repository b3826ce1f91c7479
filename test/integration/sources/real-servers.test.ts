/**
 * The Consul and Vault source cases against real servers, when they are given:
 * `CONSUL_HTTP_ADDR` (and `CONSUL_HTTP_TOKEN` when ACLs are on); `VAULT_ADDR` and `VAULT_TOKEN`
 * (a token that may mount a KV v1 engine, such as the docker-compose root token). Each suite is
 * skipped otherwise, with one printed line saying why. `docker compose up -d consul vault` starts
 * both (see docker-compose.yml).
 */
import vault from 'node-vault'
import { uniqueName } from '../../support/database'
import { consulSourceCases } from './consul-source-cases'
import { vaultSourceCases } from './vault-source-cases'

function httpUrl(address: string): string {
  return /^https?:\/\//.test(address) ? address.replace(/\/+$/, '') : `http://${address}`
}

const consulAddress = process.env.CONSUL_HTTP_ADDR
const vaultAddress = process.env.VAULT_ADDR
const vaultToken = process.env.VAULT_TOKEN

if (!consulAddress) {
  console.log(
    '[tributary] skipping consulSource against a real Consul: CONSUL_HTTP_ADDR is not set ' +
      '(`docker compose up -d consul`, then CONSUL_HTTP_ADDR=http://127.0.0.1:8500)',
  )
}
if (!vaultAddress || !vaultToken) {
  console.log(
    `[tributary] skipping vaultSource against a real Vault: ${vaultAddress ? 'VAULT_TOKEN' : 'VAULT_ADDR'} is not set ` +
      '(`docker compose up -d vault`, then VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=tributary-root)',
  )
}

;(consulAddress ? describe : describe.skip)('consulSource against a real Consul', () => {
  const prefix = uniqueName('tributary-real')
  consulSourceCases(() => ({
    url: httpUrl(consulAddress as string),
    prefix,
    ...(process.env.CONSUL_HTTP_TOKEN ? { token: process.env.CONSUL_HTTP_TOKEN } : {}),
  }))
})

;(vaultAddress && vaultToken ? describe : describe.skip)('vaultSource against a real Vault', () => {
  const endpoint = httpUrl(vaultAddress as string)
  const v1Mount = uniqueName('tributary-kv1')
  const admin = vault({ endpoint, token: vaultToken })

  // A dev server mounts KV v2 at secret/ only; a KV v1 engine is mounted for this run.
  beforeAll(() => admin.mount({ mount_point: v1Mount, type: 'kv', options: { version: '1' } }))

  vaultSourceCases(() => ({
    endpoint,
    token: vaultToken as string,
    v2Mount: 'secret',
    v1Mount,
    prefix: uniqueName('tributary-real'),
  }))
  // Registered after the cases' own hooks, so it runs after their cleanup.
  afterAll(() => admin.unmount({ mount_point: v1Mount }))
})
