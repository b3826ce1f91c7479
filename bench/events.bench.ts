/**
 * AsyncEventBus against emittery 1.x (`emit`) and EventEmitter2 (`emitAsync`), side by side in
 * one run: awaited emit throughput with 1 and with 10 async handlers, and fire-and-forget
 * throughput. Goal (issue 7): at least 3x emittery's awaited-emit throughput with one handler
 * and at least 2x with ten (a time ratio of <= 0.33x and <= 0.5x).
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

async function emitteryBus(handlers: number): Promise<EmittingSubject> {
  const { default: Emittery } = await import('emittery')
  const emitter = new Emittery<{ userCreated: UserCreated }>()
  for (let i = 0; i < handlers; i++) {
    emitter.on('userCreated', async (e) => {
      sink += e.id
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

async function main(): Promise<void> {
  // Metrics stay on (the default), as a user would run it.
  AsyncMetrics.reset()
  const results: ComparisonResult[] = []
  for (const handlers of [1, 10]) {
    const goal = handlers === 1 ? '<= 0.33x (3x emittery)' : '<= 0.5x (2x emittery)'
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
