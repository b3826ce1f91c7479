import { isUpdatesOverflowError, type ComponentUpdate } from 'tributary'
import { createUpdateHub } from '../../../src/live/update-hub'

const update = (n: number): ComponentUpdate => ({
  kind: 'updated',
  property: 'p',
  source: 's',
  key: 'k',
  at: 0,
  secret: false,
  oldValue: n - 1,
  newValue: n,
})

describe('update hub', () => {
  it('gives every update to every consumer and listener', async () => {
    const hub = createUpdateHub()
    const a = hub.updates()
    const b = hub.updates()
    const heard: unknown[] = []
    const off = hub.onUpdate((u) => heard.push(u.kind === 'updated' ? u.newValue : u.kind))
    hub.publish(update(1))
    off()
    hub.publish(update(2))
    hub.close()
    const read = async (it: AsyncIterable<ComponentUpdate>): Promise<unknown[]> => {
      const out: unknown[] = []
      for await (const u of it) out.push(u.kind === 'updated' ? u.newValue : u.kind)
      return out
    }
    expect(await read(a)).toEqual([1, 2])
    expect(await read(b)).toEqual([1, 2])
    expect(heard).toEqual([1])
  })

  it('drops the oldest for a slow consumer and says how many', async () => {
    const hub = createUpdateHub()
    const it = hub.updates({ bufferSize: 3 })
    for (let i = 1; i <= 10; i++) hub.publish(update(i))
    const first = await it.next()
    expect(first.value?.kind).toBe('error')
    const error = first.value?.kind === 'error' ? first.value.error : undefined
    expect(isUpdatesOverflowError(error)).toBe(true)
    expect((error as { dropped: number }).dropped).toBe(7)
    const rest: unknown[] = []
    hub.close()
    for await (const u of it) rest.push(u.kind === 'updated' ? u.newValue : u.kind)
    expect(rest).toEqual([8, 9, 10])
  })

  it('a waiting consumer ends on close, on return() and on abort', async () => {
    const hub = createUpdateHub()
    const controller = new AbortController()
    const waiting = hub.updates().next()
    const aborted = hub.updates({ signal: controller.signal }).next()
    controller.abort()
    expect(await aborted).toEqual({ value: undefined, done: true })
    const it = hub.updates()
    const pending = it.next()
    await it.return?.()
    expect(await pending).toEqual({ value: undefined, done: true })
    hub.close()
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect((await hub.updates().next()).done).toBe(true)
  })

  it('a throwing listener does not stop others', () => {
    const hub = createUpdateHub()
    const heard: number[] = []
    hub.onUpdate(() => {
      throw new Error('boom')
    })
    hub.onUpdate(() => heard.push(1))
    hub.publish(update(1))
    expect(heard).toEqual([1])
  })
})
