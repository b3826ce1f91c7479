/**
 * The async core: AsyncResult handles, a coordinator that loses no failure, resilience
 * policies, and the metrics every result records. Run: npx ts-node --transpile-only examples/core.ts
 */
import { AsyncCoordinator, AsyncMetrics, AsyncResult, createPolicy, delay, isAsyncTimeoutError } from '../src'

async function main(): Promise<void> {
  // Work starts at once; the handle is awaited later.
  const slow = AsyncResult.from((signal) => delay(50, signal).then(() => 'slow answer'), {
    operation: 'demo.slow',
  })
  const quick = AsyncResult.from(async () => 42, { operation: 'demo.quick' })
  console.log('quick:', await quick, '| slow:', await slow)

  // waitWithTimeout names the operation; cancel() aborts the work's signal.
  const stuck = AsyncResult.from((signal) => delay(10_000, signal), { operation: 'demo.stuck' })
  try {
    await stuck.waitWithTimeout(20)
  } catch (error) {
    if (isAsyncTimeoutError(error)) console.log('timed out:', error.message)
  }
  stuck.cancel()
  await stuck.catch(() => undefined)

  // The coordinator waits for all and reports every failure, not only the first.
  const coordinator = new AsyncCoordinator()
  coordinator.add(AsyncResult.from(async () => 'ok', { operation: 'demo.ok' }))
  coordinator.add(AsyncResult.reject(new Error('disk full'), { operation: 'demo.write' }))
  coordinator.add(AsyncResult.reject(new Error('no route'), { operation: 'demo.call' }))
  try {
    await coordinator.waitAll()
  } catch (error) {
    const aggregate = error as AggregateError
    console.log(
      aggregate.message,
      '->',
      aggregate.errors.map((e: Error) => e.message),
    )
  }

  // Policies from plain options: retry with backoff, a per-attempt timeout, a fallback.
  let attempts = 0
  const policy = createPolicy(
    { retry: { attempts: 3, initialDelay: 10 }, timeout: 100, fallback: 'cached' },
    'demo.remote',
  )
  const value = await policy.execute(async () => {
    attempts++
    if (attempts < 3) throw new Error('flaky')
    return 'fresh'
  })
  console.log(`policy answered ${JSON.stringify(value)} after ${attempts} attempts`)

  const { operations } = AsyncMetrics.snapshot()
  for (const [name, stats] of Object.entries(operations)) {
    console.log(
      `${name.padEnd(12)} total=${stats.total} failed=${stats.failed} p50=${stats.latency.p50.toFixed(1)}ms`,
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
