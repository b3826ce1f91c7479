// Issue 16, defect 11: after close({ timeout }) gives up, an emit whose handler ignores its
// signal must settle, failed with the close's reason (an AsyncTimeoutError), in every emit form.
import { AsyncEventBus } from '../../../src/events/event-bus'
import { isEmitError, isHandlerError, type EmitError, type HandlerError } from '../../../src/events/errors'
import { isAsyncTimeoutError } from '../../../src/core/errors'
import { AsyncMetrics } from '../../../src/core/metrics'

class Ping {
  constructor(readonly n: number) {}
}

/** A handler that never settles and never looks at its signal. */
const hang = (): Promise<void> => new Promise<void>(() => undefined)

/** Resolves with what `promise` settled with, or 'pending' when it has not settled yet. */
async function state(promise: Promise<unknown>): Promise<unknown> {
  const pending = Symbol('pending')
  const outcome = await Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise((resolve) => setImmediate(() => resolve(pending))),
  ])
  return outcome === pending ? 'pending' : outcome
}

const closeReason = (error: unknown): boolean =>
  isAsyncTimeoutError(error) && error.message === 'AsyncEventBus.close timed out after 100 ms'

describe('close({ timeout }) that gives up settles the emits it abandons (issue 16, defect 11)', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }))
  afterEach(() => jest.useRealTimers())
  const newBus = (): AsyncEventBus => new AsyncEventBus({ metrics: new AsyncMetrics() })

  it('emit to one handler that ignores its signal rejects with the close reason', async () => {
    const bus = newBus()
    bus.on(Ping, function stuck() {
      return hang()
    })
    const emitted = bus.emit(new Ping(1)).catch((error: unknown) => error)
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(100)
    expect(await closing).toEqual({ timedOut: true, abandoned: 1 })
    const error = (await emitted) as EmitError
    expect(isEmitError(error)).toBe(true)
    expect(error.errors).toHaveLength(1)
    expect(error.errors[0]?.handlerName).toBe('stuck')
    expect(closeReason(error.errors[0]?.cause)).toBe(true)
  })

  it('is still pending before the timeout (the test can fail)', async () => {
    const bus = newBus()
    bus.on(Ping, hang)
    const emitted = bus.emit(new Ping(1))
    emitted.catch(() => undefined)
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(99)
    expect(await state(emitted)).toBe('pending')
    await jest.advanceTimersByTimeAsync(1)
    await closing
    expect(await state(emitted)).not.toBe('pending')
  })

  it('emit to several handlers: the finished ones count, only the stuck one fails', async () => {
    const bus = newBus()
    bus.on(Ping, async function quick() {
      await new Promise((resolve) => setTimeout(resolve, 10))
    })
    bus.on(Ping, function stuck() {
      return hang()
    })
    bus.on(Ping, function polite(_ping, { signal }) {
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
    })
    const emitted = bus.emit(new Ping(1)).catch((error: unknown) => error)
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(100)
    expect(await closing).toEqual({ timedOut: true, abandoned: 1 })
    const error = (await emitted) as EmitError
    expect(error.errors.map((e) => e.handlerName)).toEqual(['stuck'])
    // The handler that stopped when its signal aborted counts as handled, as before.
    expect(error.result.handled).toBe(2)
    expect(closeReason(error.errors[0]?.cause)).toBe(true)
  })

  it('onFallible: the emit resolves with the close reason among its errors', async () => {
    const bus = newBus()
    bus.onFallible(Ping, hang)
    const emitted = bus.emit(new Ping(1))
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(100)
    await closing
    const result = await emitted
    expect(result.handled).toBe(0)
    expect(result.errors).toHaveLength(1)
    expect(closeReason(result.errors[0]?.cause)).toBe(true)
  })

  it('emitSerial: the stuck handler and those after it fail with the close reason, never started', async () => {
    const bus = newBus()
    const started: string[] = []
    bus.on(Ping, function stuck() {
      started.push('stuck')
      return hang()
    })
    bus.on(Ping, function after() {
      started.push('after')
    })
    const emitted = bus.emitSerial(new Ping(1)).catch((error: unknown) => error)
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(100)
    expect(await closing).toEqual({ timedOut: true, abandoned: 1 })
    const error = (await emitted) as EmitError
    expect(error.errors.map((e) => e.handlerName)).toEqual(['stuck', 'after'])
    expect(error.errors.every((e) => closeReason(e.cause))).toBe(true)
    expect(started).toEqual(['stuck'])
  })

  it('emitAndForget: the failure reaches onError once; a late settle changes nothing', async () => {
    const bus = newBus()
    let finish: () => void = () => undefined
    bus.on(Ping, function late() {
      return new Promise<void>((resolve) => (finish = resolve))
    })
    const reported: unknown[] = []
    bus.onError((error) => reported.push(error))
    bus.emitAndForget(new Ping(1))
    const closing = bus.close({ timeout: 100 })
    await jest.advanceTimersByTimeAsync(100)
    await closing
    expect(reported).toHaveLength(1)
    expect(isHandlerError(reported[0])).toBe(true)
    expect(closeReason((reported[0] as HandlerError).cause)).toBe(true)
    finish()
    await new Promise((resolve) => setImmediate(resolve))
    expect(reported).toHaveLength(1)
    expect(await bus.close()).toEqual({ timedOut: false, abandoned: 0 })
  })
})
