/**
 * The async core against plain promises:
 * 1. an AsyncResult around an already-resolved promise, awaited (10,000 per run) vs awaiting
 *    the promise itself;
 * 2. an AsyncCoordinator over 10,000 results vs Promise.all;
 * 3. AsyncResult with metrics on vs off (metrics stay on by default, so they must be cheap).
 */
import { AsyncCoordinator, AsyncMetrics, AsyncResult } from '../src'
import { compare, report } from './support/harness'

const N = 10_000

async function main(): Promise<void> {
  const results = []
  results.push(
    await compare(
      'await AsyncResult.of(resolved) x10k',
      {
        label: 'AsyncResult',
        async run() {
          for (let i = 0; i < N; i++) await AsyncResult.of(Promise.resolve(i))
        },
      },
      {
        label: 'await promise',
        async run() {
          for (let i = 0; i < N; i++) await Promise.resolve(i)
        },
      },
      { operationsPerRun: N, runs: 15 },
    ),
  )
  results.push(
    await compare(
      'AsyncResult.from x10k + Promise.all',
      {
        label: 'AsyncResult.from',
        async run() {
          const all: Array<AsyncResult<number>> = []
          for (let i = 0; i < N; i++) all.push(AsyncResult.from(async () => i))
          await Promise.all(all)
        },
      },
      {
        label: 'async fn + Promise.all',
        async run() {
          const all: Array<Promise<number>> = []
          for (let i = 0; i < N; i++) all.push((async () => i)())
          await Promise.all(all)
        },
      },
      { operationsPerRun: N, runs: 15 },
    ),
  )
  results.push(
    await compare(
      'coordinator over 10k results',
      {
        label: 'AsyncCoordinator.waitAll',
        async run() {
          const coordinator = new AsyncCoordinator()
          for (let i = 0; i < N; i++) coordinator.add(AsyncResult.of(Promise.resolve(i)))
          await coordinator.waitAll()
        },
      },
      {
        label: 'Promise.all',
        async run() {
          const all: Array<Promise<number>> = []
          for (let i = 0; i < N; i++) all.push(Promise.resolve(i))
          await Promise.all(all)
        },
      },
      { operationsPerRun: N, runs: 15 },
    ),
  )
  const off = new AsyncMetrics({ enabled: false })
  results.push(
    await compare(
      'metrics on vs off (AsyncResult.from x10k)',
      {
        label: 'metrics on',
        async run() {
          const all: Array<AsyncResult<number>> = []
          for (let i = 0; i < N; i++) all.push(AsyncResult.from(async () => i, { operation: 'bench' }))
          await Promise.all(all)
        },
      },
      {
        label: 'metrics off',
        async run() {
          const all: Array<AsyncResult<number>> = []
          for (let i = 0; i < N; i++)
            all.push(AsyncResult.from(async () => i, { operation: 'bench', metrics: off }))
          await Promise.all(all)
        },
      },
      { operationsPerRun: N, runs: 15 },
    ),
  )
  report('core', results)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
