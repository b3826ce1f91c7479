import { createAsyncStore, QueryStore } from '../../../src'
import { deferred, settle } from './helpers'

describe('createAsyncStore', () => {
  beforeEach(() => {
    jest.useFakeTimers()
  })
  afterEach(() => {
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  it('exposes data / loading / error readables', async () => {
    const answer = deferred<string>()
    const user = createAsyncStore(
      (id: number) => (id === 1 ? answer.promise : Promise.reject(new Error('404'))),
      1,
    )
    const values: unknown[] = []
    const loading: boolean[] = []
    user.data.subscribe((v) => values.push(v))
    user.loading.subscribe((v) => loading.push(v))
    expect(user.loading.get()).toBe(true)
    answer.resolve('Ada')
    await settle()
    expect(values).toEqual([undefined, 'Ada'])
    expect(loading).toEqual([true, false])
    await user.updateParams(2).catch(() => undefined)
    await settle()
    expect(user.error.get()).toEqual(new Error('404'))
    expect(user.params).toBe(2)
    user.close()
  })

  it('aborts the superseded request and discards its late answer', async () => {
    const answers = new Map<number, ReturnType<typeof deferred<string>>>()
    const signals = new Map<number, AbortSignal>()
    const search = createAsyncStore((page: number, { signal }) => {
      signals.set(page, signal)
      const answer = deferred<string>()
      answers.set(page, answer)
      return answer.promise // ignores the signal on purpose: its answer must still be discarded
    }, 1)
    const second = search.updateParams((p) => p + 1)
    expect(signals.get(1)?.aborted).toBe(true)
    expect(signals.get(2)?.aborted).toBe(false)
    answers.get(2)?.resolve('page 2')
    await expect(second).resolves.toBe('page 2')
    answers.get(1)?.resolve('page 1 (late)')
    await settle()
    expect(search.data.get()).toBe('page 2')
    search.close()
  })

  it('mutate sets data locally, and can revalidate; a shared store and key cache across stores', async () => {
    const shared = new QueryStore({ staleTime: 60_000 })
    let n = 0
    const config = { store: shared, key: (id: number) => ['user', id] as const }
    const a = createAsyncStore(async (id: number) => `user ${id} #${++n}`, 1, config)
    await settle()
    const b = createAsyncStore(async (id: number) => `user ${id} #${++n}`, 1, config)
    await settle()
    expect(b.data.get()).toBe('user 1 #1')
    expect(n).toBe(1)
    await a.mutate('edited')
    expect(a.data.get()).toBe('edited')
    await settle()
    expect(b.data.get()).toBe('edited')
    await a.mutate((old) => `${old}!`, { revalidate: true })
    expect(b.data.get()).toBe('user 1 #2')
    a.close()
    b.close()
    shared.close()
  })
})
