import { inspect } from 'node:util'
import { Component, isComponentError, vaultSource, watch } from 'tributary'
import { startVaultDouble, type VaultDouble } from '../../support/vault-double'
import { lastIs, logUpdates } from './live-log'

describe('watch() on Vault (the double, through node-vault)', () => {
  let vault: VaultDouble
  beforeEach(async () => {
    vault = await startVaultDouble()
  })
  afterEach(() => vault.close())

  it('a new KV v2 version, a sealed outage and recovery, a soft delete; secrets stay masked', async () => {
    vault.setSecret('secret/app', { apiKey: 'sk-live-0001', level: 'info' })
    const sources = [vaultSource({ endpoint: vault.url, token: vault.token })]
    class VaultConfig {
      @Component({
        fetchFrom: 'vault',
        key: 'secret/data/app',
        field: 'apiKey',
        secret: true,
        pollInterval: 25,
      })
      apiKey!: string
      @Component({
        fetchFrom: 'vault',
        key: 'secret/data/app',
        field: 'level',
        fallback: 'warn',
        pollInterval: 25,
      })
      level!: string
    }
    const live = await watch(VaultConfig, { sources, backoff: { initialDelay: 20, maxDelay: 100 } })
    const log = logUpdates(live)
    try {
      vault.setSecret('secret/app', { apiKey: 'sk-live-0002', level: 'info' })
      await log.until(lastIs('updated apiKey "***"→"***"'))
      expect(live.current.apiKey).toBe('sk-live-0002')

      vault.seal()
      await log.until((u) => u.filter((x) => x.kind === 'error').length >= 2)
      await new Promise((resolve) => setTimeout(resolve, 200))
      vault.setSecret('secret/app', { apiKey: 'sk-live-0003', level: 'debug' })
      vault.unseal()
      await log.until(() => live.current.apiKey === 'sk-live-0003' && live.current.level === 'debug')

      vault.deleteSecret('secret/app')
      await log.until(lastIs('removed level "debug"→"warn"'))
      await log.until((u) => u.filter((x) => x.kind === 'error').length >= 3)
    } finally {
      await live.stop()
    }
    expect(
      log
        .lines()
        .filter((l) => l.startsWith('error'))
        .sort(),
    ).toEqual([
      'error apiKey', // the soft delete: required, no fallback, the last key stays
      'error apiKey', // sealed, once
      'error level', // sealed, once
    ])
    expect(live.current.apiKey).toBe('sk-live-0003')
    for (const update of log.updates) {
      if (update.kind === 'error') expect(isComponentError(update.error)).toBe(true)
    }
    expect(inspect(log.updates, { depth: 6 }) + JSON.stringify(log.updates)).not.toMatch(
      /sk-live|tributary-root/,
    )
  })
})
