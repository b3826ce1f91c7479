/**
 * Live components from etcd: one key and one prefix watched with etcd's revisioned watch. A
 * put arrives as one update, a transaction that writes two keys of the prefix as ONE update of
 * the whole object, a write of the same value as none. Two classes watching the same key share
 * one upstream watch.
 * Needs an etcd member: TRIBUTARY_ETCD_URL, default http://127.0.0.1:2379 (`docker compose up -d
 * etcd`, or `etcd` itself); the example writes under its own prefix and deletes it at the end.
 * It starts nothing: without a member it says so and exits with 0.
 * Run: npx ts-node --transpile-only examples/live-etcd.ts
 * (Inside this repository the package is imported from '../src'; an application imports 'tributary'.)
 */
import { Etcd3 } from 'etcd3'
import { Component, etcdSource, sharedWatchStats, watch, type ComponentUpdate } from '../src'

class ServerConfig {
  @Component({ fetchFrom: 'etcd', key: 'port' }) port!: number
  @Component({ fetchFrom: 'etcd', key: 'features/' }) features!: Record<string, string>
}

class HealthCheck {
  @Component({ fetchFrom: 'etcd', key: 'port' }) checkedPort!: number
}

async function main(): Promise<void> {
  const url = process.env.TRIBUTARY_ETCD_URL ?? 'http://127.0.0.1:2379'
  try {
    const response = await fetch(`${url}/version`, { signal: AbortSignal.timeout(2_000) })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
  } catch (error) {
    console.log(`etcd is not reachable at ${url} (${(error as Error).message}); nothing to show.`)
    return
  }
  const prefix = `tributary-example/${process.pid}/`
  const writer = new Etcd3({ hosts: url }) // another client, as another process would be
  const source = etcdSource({ hosts: [url], prefix })
  try {
    await writer.put(`${prefix}port`).value('8080')
    await writer.put(`${prefix}features/search`).value('on')

    const server = await watch(ServerConfig, { sources: [source] })
    const health = await watch(HealthCheck, { sources: [source] })
    console.log('start:', { ...server.current }, { ...health.current })
    console.log('shared watchers:', sharedWatchStats(source)) // { upstreams: 2, subscribers: 3 }

    const seen: string[] = []
    let waiting: (() => void) | undefined
    server.onUpdate((u: ComponentUpdate) => {
      if (u.kind !== 'updated') return
      seen.push(`${u.property}: ${JSON.stringify(u.oldValue)} → ${JSON.stringify(u.newValue)}`)
      waiting?.()
    })
    const next = (): Promise<void> => new Promise((resolve) => (waiting = resolve))

    let arrived = next()
    await writer.put(`${prefix}port`).value('8080') // the same value: no update
    await writer.put(`${prefix}port`).value('9090')
    await arrived
    arrived = next()
    // Two keys in one transaction: one revision, one update of the whole prefix.
    await writer
      .if(`${prefix}features/search`, 'Value', '==', 'on')
      .then(
        writer.put(`${prefix}features/search`).value('off'),
        writer.put(`${prefix}features/beta`).value('on'),
      )
      .commit()
    await arrived
    for (const line of seen) console.log('updated', line)
    console.log('now:', { ...server.current }, { ...health.current })

    await Promise.all([server.stop(), health.stop()])
    console.log('stopped; shared watchers:', sharedWatchStats(source))
  } finally {
    await writer.delete().prefix(prefix)
    await source.close?.()
    writer.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
