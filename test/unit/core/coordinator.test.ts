import { AsyncCoordinator, AsyncResult } from '../../../src'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('AsyncCoordinator', () => {
  it('waits for every result and returns values in the order added', async () => {
    const coordinator = new AsyncCoordinator()
    coordinator.add(AsyncResult.from(() => new Promise((r) => setTimeout(() => r('slow'), 20))))
    coordinator.add(Promise.resolve('promise'))
    coordinator.add(AsyncResult.resolve(3))
    expect(coordinator.size).toBe(3)
    await expect(coordinator.waitAll()).resolves.toEqual(['slow', 'promise', 3])
  })

  it('rejects only after all settle, with every failure in the order added', async () => {
    const coordinator = new AsyncCoordinator()
    let slowDone = false
    coordinator.add(AsyncResult.reject(new Error('first'), { operation: 'a' }))
    coordinator.add(
      AsyncResult.from(async () => {
        await new Promise((r) => setTimeout(r, 30))
        slowDone = true
        return 1
      }),
    )
    coordinator.add(Promise.reject(new Error('second')))
    const error = await coordinator.waitAll().catch((e: unknown) => e)
    expect(slowDone).toBe(true)
    expect(error).toBeInstanceOf(AggregateError)
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual(['first', 'second'])
    expect((error as AggregateError).message).toMatch(/^2 of 3 operations failed: a, anonymous$/)
  })

  it('holds failures so they are never unhandled rejections', async () => {
    const unhandled: unknown[] = []
    const listener = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', listener)
    try {
      const coordinator = new AsyncCoordinator()
      coordinator.add(Promise.reject(new Error('held')))
      coordinator.add(AsyncResult.reject(new Error('held too')))
      await tick()
      await tick()
      expect(unhandled).toEqual([])
      const outcomes = await coordinator.settleAll()
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected'])
    } finally {
      process.off('unhandledRejection', listener)
    }
  })

  it('settleAll reports each outcome with its operation', async () => {
    const coordinator = new AsyncCoordinator()
    coordinator.add(AsyncResult.resolve(1, { operation: 'one' }))
    coordinator.add(AsyncResult.reject(new Error('two'), { operation: 'two' }))
    const outcomes = await coordinator.settleAll()
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 1, operation: 'one' })
    expect(outcomes[1]).toMatchObject({ status: 'rejected', operation: 'two' })
  })

  it('cancelAll cancels what is still running', async () => {
    const coordinator = new AsyncCoordinator()
    const running = coordinator.add(
      AsyncResult.from(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      ),
    )
    coordinator.cancelAll(new Error('stop'))
    await expect(running).rejects.toThrow('stop')
  })
})
