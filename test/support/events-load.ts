/**
 * Run by test/unit/events/load.test.ts in a child process with --expose-gc: drives the bus
 * under load and prints one JSON line of heap figures (bytes, after a full GC) and counts.
 */
import { AsyncEventBus } from '../../src/events/event-bus'
import { AsyncMetrics } from '../../src/core/metrics'

class Ping {
  constructor(readonly n: number) {}
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await settle()
    gc?.()
  }
  return process.memoryUsage().heapUsed
}

async function forgetWithFailures(total: number): Promise<{ failures: number; failed: number }> {
  const metrics = new AsyncMetrics()
  const bus = new AsyncEventBus({ metrics })
  let failures = 0
  bus.onError(() => failures++)
  bus.on(Ping, async (p) => {
    if (p.n % 2 === 0) throw new Error(`async ${p.n}`)
  })
  bus.on(Ping, (p) => {
    if (p.n % 3 === 0) throw new Error(`sync ${p.n}`)
  })
  bus.on(
    Ping,
    async (p) => {
      if (p.n % 5 === 0) throw new Error(`limited ${p.n}`)
    },
    { concurrency: 5, timeout: 60_000 },
  )
  bus.onFallible(
    Ping,
    async (p) => {
      if (p.n % 7 === 0) throw new Error(`fallible ${p.n}`)
    },
    { retry: { attempts: 1, initialDelay: 0, jitter: 'none' } },
  )
  for (let n = 1; n <= total; n++) bus.emitAndForget(new Ping(n))
  await bus.close({ timeout: 60_000 })
  return { failures, failed: metrics.snapshot().operations['emit(Ping)']?.failed ?? -1 }
}

async function dynamicClasses(count: number): Promise<void> {
  const bus = new AsyncEventBus({ metrics: new AsyncMetrics() })
  for (let i = 0; i < 50; i++) bus.onAny(() => undefined)
  const make = (): new () => object => class Dynamic {}
  for (let i = 0; i < count; i++) {
    const Dynamic = make()
    await bus.emit(new Dynamic())
  }
  // The bus stays open and referenced: only the routes of the emitted classes may go.
  ;(globalThis as { keep?: unknown }).keep = bus
}

async function main(): Promise<void> {
  let unhandled = 0
  process.on('unhandledRejection', () => unhandled++)
  await forgetWithFailures(2_000) // warm up the code paths before the baseline
  const baseline = await heap()
  const forgotten = await forgetWithFailures(100_000)
  const afterForget = await heap()
  await dynamicClasses(10_000)
  const afterDynamic = await heap()
  console.log(
    JSON.stringify({
      unhandled,
      ...forgotten,
      forgetGrowth: afterForget - baseline,
      dynamicGrowth: afterDynamic - afterForget,
    }),
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
