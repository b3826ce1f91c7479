/**
 * Writing a source with the kit: an in-memory key-value source whose `fetch` throws the
 * typed errors, made watchable with `pollingWatcher`, then resolved and watched like any
 * built-in source. Run: npx ts-node --transpile-only examples/custom-source.ts
 */
import {
  Component,
  SourceNotFoundError,
  pollingWatcher,
  resolve,
  watch,
  type ComponentSource,
  type WatchableSource,
} from '../src'

const values = new Map<string, string>([['rate', '10']])

const memory: ComponentSource = {
  name: 'memory',
  async fetch(request) {
    const key = request.key ?? request.property
    const value = values.get(key)
    // A missing key is a SourceNotFoundError: fallbacks apply, it is not retried.
    if (value === undefined) throw new SourceNotFoundError({ source: 'memory', key }, `memory: no key ${key}`)
    return value
  },
}
// Watchable: re-read every pollInterval ms, an outage reported once, removals noticed.
const source: WatchableSource = { ...memory, watch: pollingWatcher(memory, { pollInterval: 20 }) }

class Limits {
  @Component({ fetchFrom: 'memory', key: 'rate' }) rate!: number
  @Component({ fetchFrom: 'memory', key: 'burst', fallback: 5 }) burst!: number
}

async function main(): Promise<void> {
  const once = await resolve(Limits, { sources: [source] })
  console.log('resolved', { rate: once.rate, burst: once.burst })

  const live = await watch(Limits, { sources: [source] })
  const changed = new Promise<void>((done) => {
    const off = live.onUpdate((update) => {
      console.log(`${update.kind} ${update.property}`, update.kind === 'error' ? '' : update.newValue)
      if (update.property === 'rate') {
        off()
        done()
      }
    })
  })
  values.set('rate', '25')
  await changed
  console.log('current', { rate: live.current.rate, burst: live.current.burst })
  await live.stop()
}

void main()
