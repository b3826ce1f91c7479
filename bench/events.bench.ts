/**
 * AsyncEventBus against emittery 2 (`emit`) and EventEmitter2 (`emitAsync`), side by side in
 * one run: awaited emit throughput with 1 and with 10 async handlers, and fire-and-forget
 * throughput. Goals (issue 12): at least 5x emittery's awaited-emit throughput with one
 * handler and at least 3x with ten (a time ratio of <= 0.2x and <= 0.33x).
 *
 * Then the bus against itself: 40,000 pending limited invocations against 5,000 (goal: at
 * most 10x the time, i.e. linear), 10,000 emitAndForget x 50 handlers of which 5 are limited,
 * and `partitionBy` with 1,000 keys against plain `concurrency` (goal: within 1.5x).
 *
 * emittery 2 declares Node >= 22 for `Promise.withResolvers`; on Node 20 this bench supplies
 * that one function before loading it (the library itself needs no such shim).
 *
 * Run: `npm run bench -- events`
 */
import { EventEmitter2 } from 'eventemitter2'
import { AsyncEventBus } from '../src/events/event-bus'
import { AsyncMetrics } from '../src/core/metrics'
import { compare, report, type BenchCase, type ComparisonResult } from './support/harness'

class UserCreated {
  constructor(readonly id: number) {}
}

const EMITS = 20_000
const FORGETS = 50_000
let sink = 0

interface EmittingSubject {
  emit(event: UserCreated): Promise<unknown>
  forget(event: UserCreated): void
}

function tributary(handlers: number): EmittingSubject {
  const bus = new AsyncEventBus()
  for (let i = 0; i < handlers; i++) {
    bus.on(UserCreated, async (e) => {
      sink += e.id
    })
  }
  return { emit: (e) => bus.emit(e), forget: (e) => bus.emitAndForget(e) }
}

interface WithResolvers {
  withResolvers?: () => { promise: Promise<unknown>; resolve(v?: unknown): void; reject(e?: unknown): void }
}
;(Promise as unknown as WithResolvers).withResolvers ??= () => {
  let resolve: (v?: unknown) => void = () => undefined
  let reject: (e?: unknown) => void = () => undefined
  const promise = new Promise((a, b) => {
    resolve = a
    reject = b
  })
  return { promise, resolve, reject }
}

async function emitteryBus(handlers: number): Promise<EmittingSubject> {
  const { default: Emittery } = await import('emittery')
  const emitter = new Emittery<{ userCreated: UserCreated }>()
  for (let i = 0; i < handlers; i++) {
    // emittery 2 hands listeners { name, data }.
    emitter.on('userCreated', async ({ data }) => {
      sink += data.id
    })
  }
  return {
    emit: (e) => emitter.emit('userCreated', e),
    forget: (e) => void emitter.emit('userCreated', e).catch(() => undefined),
  }
}

function eventEmitter2(handlers: number): EmittingSubject {
  const emitter = new EventEmitter2()
  for (let i = 0; i < handlers; i++) {
    emitter.on('userCreated', async (e: UserCreated) => {
      sink += e.id
    })
  }
  return {
    emit: (e) => emitter.emitAsync('userCreated', e),
    forget: (e) => void emitter.emitAsync('userCreated', e).catch(() => undefined),
  }
}

function awaited(label: string, subject: EmittingSubject): BenchCase {
  const event = new UserCreated(1)
  return {
    label,
    async run() {
      for (let i = 0; i < EMITS; i++) await subject.emit(event)
    },
  }
}

function forgotten(label: string, subject: EmittingSubject): BenchCase {
  const event = new UserCreated(1)
  return {
    label,
    async run() {
      for (let i = 0; i < FORGETS; i++) subject.forget(event)
      await new Promise((resolve) => setImmediate(resolve))
    },
  }
}

/** A full collection between runs (the bench runs with --expose-gc), so each starts from the same heap. */
function fullGc(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

/** `count` invocations pending at once behind `concurrency: 1`, each with a timer; drained. */
function pending(count: number): BenchCase {
  return {
    label: `${count} pending`,
    before: fullGc,
    async run() {
      const bus = new AsyncEventBus()
      bus.on(UserCreated, async (e) => void (sink += e.id), { concurrency: 1, timeout: 60_000 })
      const emits: Array<Promise<unknown>> = []
      for (let i = 0; i < count; i++) emits.push(bus.emit(new UserCreated(i)))
      await Promise.all(emits)
    },
  }
}

const LIMITED_EVENTS = 10_000

/** 10,000 events over 1,000 keys into one handler with `concurrency: 10`, with or without `partitionBy`. */
function limited(label: string, partitioned: boolean): BenchCase {
  class Keyed {
    constructor(
      readonly key: number,
      readonly id: number,
    ) {}
  }
  return {
    label,
    before: fullGc,
    async run() {
      const bus = new AsyncEventBus()
      bus.on(Keyed, async (e) => void (sink += e.id), {
        concurrency: 10,
        ...(partitioned ? { partitionBy: (e: Keyed) => e.key } : {}),
      })
      const emits: Array<Promise<unknown>> = []
      for (let i = 0; i < LIMITED_EVENTS; i++) emits.push(bus.emit(new Keyed(i % 1_000, i)))
      await Promise.all(emits)
    },
  }
}

/** 10,000 emitAndForget to 50 handlers, 5 of them with `concurrency: 2`, then close (drain). */
function fanOut(label: string, withLimits: boolean): BenchCase {
  return {
    label,
    async run() {
      const bus = new AsyncEventBus()
      for (let h = 0; h < 50; h++) {
        const options = withLimits && h < 5 ? { concurrency: 2, timeout: 60_000 } : undefined
        bus.on(UserCreated, async (e) => void (sink += e.id), options)
      }
      for (let i = 0; i < 10_000; i++) bus.emitAndForget(new UserCreated(i))
      await bus.close({ timeout: 600_000 })
    },
  }
}

async function main(): Promise<void> {
  // Metrics stay on (the default), as a user would run it.
  AsyncMetrics.reset()
  const results: ComparisonResult[] = []
  for (const handlers of [1, 10]) {
    const goal = handlers === 1 ? '<= 0.2x (5x emittery)' : '<= 0.33x (3x emittery)'
    const ours = tributary(handlers)
    const emittery = await emitteryBus(handlers)
    const ee2 = eventEmitter2(handlers)
    const name = `await emit, ${handlers} handler${handlers > 1 ? 's' : ''}`
    results.push(
      await compare(`${name} vs emittery`, awaited('tributary', ours), awaited('emittery', emittery), {
        operationsPerRun: EMITS,
        goal,
      }),
      await compare(`${name} vs EventEmitter2`, awaited('tributary', ours), awaited('EventEmitter2', ee2), {
        operationsPerRun: EMITS,
      }),
    )
  }
  const ours = tributary(1)
  results.push(
    await compare(
      'emitAndForget, 1 handler vs emittery',
      forgotten('tributary', ours),
      forgotten('emittery', await emitteryBus(1)),
      {
        operationsPerRun: FORGETS,
      },
    ),
    await compare(
      'emitAndForget, 1 handler vs EventEmitter2',
      forgotten('tributary', ours),
      forgotten('EventEmitter2', eventEmitter2(1)),
      {
        operationsPerRun: FORGETS,
      },
    ),
  )
  results.push(
    await compare('40,000 vs 5,000 pending (concurrency 1 + timeout)', pending(40_000), pending(5_000), {
      operationsPerRun: 1,
      runs: 5,
      warmup: 1,
      goal: '<= 10x (linear is 8x)',
    }),
    await compare(
      'partitionBy 1,000 keys vs plain concurrency (10,000 events, concurrency 10)',
      limited('partitionBy', true),
      limited('concurrency', false),
      { operationsPerRun: LIMITED_EVENTS, runs: 15, goal: '<= 1.5x' },
    ),
    await compare(
      '10,000 emitAndForget x 50 handlers (5 limited) vs 50 plain handlers',
      fanOut('5 limited', true),
      fanOut('plain', false),
      { operationsPerRun: 10_000, runs: 5, warmup: 1 },
    ),
  )
  report('events', results, {
    throughputVsEmittery1: 1 / (results[0]?.ratio ?? 1),
    throughputVsEmittery10: 1 / (results[2]?.ratio ?? 1),
    sink,
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
