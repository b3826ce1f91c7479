/**
 * Live components: a config class kept current from environment variables, a YAML file and
 * Consul (the Consul KV protocol double from the tests stands in for a server), with typed
 * updates, an invalid value that is refused, a deletion that falls back, and a clean stop.
 * Run: npx ts-node --transpile-only examples/live-config.ts
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AsyncEventBus,
  Component,
  ComponentUpdated,
  consulSource,
  envSource,
  explain,
  fileSource,
  watch,
  type ComponentUpdate,
  type LiveComponents,
} from '../src'
import { startConsulDouble } from '../test/support/consul-double'

class AppConfig {
  @Component({ fetchFrom: 'env', key: 'LOG_LEVEL', fallback: 'info', pollInterval: 100 }) logLevel!: string
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'server.port', debounce: 50 }) port!: number
  @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'features', fallback: [] }) features!: string[]
  @Component({
    fetchFrom: 'consul',
    key: 'app/limits',
    pollInterval: 5_000,
    validate: (limits: { rps: number }) => typeof limits.rps === 'number' || 'needs a numeric rps',
  })
  limits!: { rps: number }
  @Component({ fetchFrom: 'consul', key: 'app/api-key', secret: true, pollInterval: 5_000 }) apiKey!: string
}

function show(u: ComponentUpdate): string {
  const value = (v: unknown): string => JSON.stringify(v) ?? 'undefined'
  switch (u.kind) {
    case 'updated':
      return `updated ${u.property}: ${value(u.oldValue)} → ${value(u.newValue)}`
    case 'added':
      return `added   ${u.property}: ${value(u.newValue)}`
    case 'removed':
      return `removed ${u.property}: ${value(u.oldValue)} → ${value(u.newValue)} (fallback)`
    case 'error':
      return `error   ${u.property}: ${(u.error as Error).message}`
  }
}

/** Resolves after the next update for `property` (a real app would not wait like this). */
function nextUpdate(live: LiveComponents<AppConfig>, property: string): Promise<ComponentUpdate> {
  return new Promise((resolve) => {
    const off = live.onUpdate((u) => {
      if (u.property !== property) return
      off()
      setImmediate(() => resolve(u)) // after the updates() loop below has printed it
    })
  })
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-live-example-'))
  const yaml = (port: number, features: string[]): void => {
    // An atomic replace, as editors and config managers do: write a temp file, rename it over.
    writeFileSync(
      join(dir, '.app.yaml.tmp'),
      `server:\n  port: ${port}\nfeatures: [${features.join(', ')}]\n`,
    )
    renameSync(join(dir, '.app.yaml.tmp'), join(dir, 'app.yaml'))
  }
  yaml(8080, ['search'])
  const env: Record<string, string | undefined> = { LOG_LEVEL: 'debug' }
  const consulDouble = await startConsulDouble()
  consulDouble.set('app/limits', '{"rps":100}')
  consulDouble.set('app/api-key', 'sk-live-0001')
  const consul = consulSource({ host: '127.0.0.1', port: consulDouble.port })

  const bus = new AsyncEventBus()
  let published = 0
  bus.on(ComponentUpdated, () => {
    published += 1
  })

  const live = await watch(AppConfig, {
    sources: [envSource({ env }), fileSource({ baseDir: dir }), consul],
    bus,
  })
  console.log('resolved:', JSON.stringify(live.current))
  console.log('watching:', live.watching.join(', '))

  // Several consumers each get every update; this one prints them until stop() ends it.
  const printing = (async () => {
    for await (const u of live.updates()) console.log(' ', show(u))
  })()

  await new Promise((resolve) => setTimeout(resolve, 100)) // let the file watcher settle

  env.LOG_LEVEL = 'warn'
  await nextUpdate(live, 'logLevel')

  yaml(9090, ['search', 'beta'])
  await Promise.all([nextUpdate(live, 'port'), nextUpdate(live, 'features')])

  consulDouble.set('app/limits', '{"rps":250}')
  await nextUpdate(live, 'limits')

  consulDouble.set('app/api-key', 'sk-live-0002') // printed as '***'
  await nextUpdate(live, 'apiKey')

  consulDouble.set('app/limits', '{"rps":"lots"}') // refused: an error update, the last good value stays
  await nextUpdate(live, 'limits')
  console.log('limits still', JSON.stringify(live.current.limits))

  delete env.LOG_LEVEL // deleted: falls back to 'info'
  await nextUpdate(live, 'logLevel')

  const snapshot = live.snapshot()
  await live.stop() // ends the watchers, their timers and requests, and the updates() loop
  await printing
  console.log('snapshot:', JSON.stringify(snapshot), '| frozen:', Object.isFrozen(snapshot))
  console.table(explain(snapshot))
  console.log('ComponentUpdated events on the bus:', published)

  await bus.close()
  await consul.close?.()
  await consulDouble.close()
  rmSync(dir, { recursive: true, force: true })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
