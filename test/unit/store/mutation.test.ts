import { QueryStore } from '../../../src'
import { deferred, settle } from './helpers'

interface Todo {
  readonly items: readonly string[]
}

describe('QueryStore mutations', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers()
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  it('applies an optimistic update at once and rolls back exactly the failed one among interleaved updates', async () => {
    store = new QueryStore({ staleTime: Infinity })
    store.setData<Todo>(['todos'], { items: ['base'] })
    const answers = new Map<string, ReturnType<typeof deferred<string>>>()
    const add = store.mutation(
      (item: string) => {
        const answer = deferred<string>()
        answers.set(item, answer)
        return answer.promise
      },
      {
        optimistic: {
          key: ['todos'],
          update: (old: Todo | undefined, item) => ({ items: [...(old?.items ?? []), item] }),
        },
      },
    )
    const a = add.mutate('a')
    const b = add.mutate('b')
    const c = add.mutate('c')
    expect(store.getData<Todo>(['todos'])?.items).toEqual(['base', 'a', 'b', 'c'])
    expect([a.status, b.status, c.status]).toEqual(['pending', 'pending', 'pending'])
    expect(add.state.pending).toBe(3)

    answers.get('a')?.resolve('a')
    await a.wait()
    answers.get('b')?.reject(new Error('b failed'))
    await expect(b.wait()).rejects.toThrow('b failed')
    expect(b.status).toBe('error')
    // exactly b is gone; a (committed) and c (still pending) stay, in order
    expect(store.getData<Todo>(['todos'])?.items).toEqual(['base', 'a', 'c'])

    answers.get('c')?.reject(new Error('c failed'))
    await expect(c.wait()).rejects.toThrow('c failed')
    expect(store.getData<Todo>(['todos'])?.items).toEqual(['base', 'a'])
    expect(add.state).toMatchObject({ status: 'error', pending: 0, variables: 'c' })
  })

  it('replays pending optimistic updates over data fetched meanwhile', async () => {
    store = new QueryStore()
    const server = deferred<Todo>()
    const query = store.query<Todo>(['todos'], () => server.promise)
    const loading = query.fetch()
    const answer = deferred<void>()
    const add = store.mutation(() => answer.promise, {
      optimistic: {
        key: ['todos'],
        update: (old: Todo | undefined, item: string) => ({ items: [...(old?.items ?? []), item] }),
      },
    })
    const handle = add.mutate('mine')
    expect(query.state.data?.items).toEqual(['mine'])
    server.resolve({ items: ['server'] })
    await loading
    expect(query.state.data?.items).toEqual(['server', 'mine'])
    answer.reject(new Error('no'))
    await expect(handle.wait()).rejects.toThrow('no')
    expect(query.state.data?.items).toEqual(['server'])
  })

  it('refetches invalidated keys after success, before wait() resolves', async () => {
    store = new QueryStore({ staleTime: Infinity })
    let version = 1
    const list = store.query(['users', 'list'], async () => `list v${version}`)
    list.subscribe(() => undefined)
    await settle()
    await store.fetch(['users', 7], async () => `user v${version}`)
    const save = store.mutation(
      async (name: string) => {
        version++
        return name.toUpperCase()
      },
      { invalidates: [['users']] },
    )
    const listener = jest.fn()
    save.subscribe(listener)
    expect(await save.mutate('ada').wait()).toBe('ADA')
    expect(list.state.data).toBe('list v2') // observed: refetched
    expect(store.getQuery(['users', 7])?.state).toMatchObject({ data: 'user v1', isStale: true })
    expect(save.state).toMatchObject({ status: 'success', data: 'ADA', pending: 0 })
    await settle()
    expect(listener).toHaveBeenLastCalledWith(expect.objectContaining({ status: 'success' }))
  })

  it('retries the write with backoff and cancel() aborts it and rolls back', async () => {
    store = new QueryStore()
    store.setData(['n'], 1)
    let calls = 0
    const bump = store.mutation(
      async () => {
        calls++
        throw new Error('busy')
      },
      { retry: 2, optimistic: { key: ['n'], update: (old: number | undefined) => (old ?? 0) + 1 } },
    )
    const handle = bump.mutate(undefined)
    expect(store.getData(['n'])).toBe(2)
    await jest.advanceTimersByTimeAsync(1_000)
    expect(calls).toBe(2)
    handle.cancel()
    await expect(handle.wait()).rejects.toBeDefined()
    expect(store.getData(['n'])).toBe(1)
    expect(calls).toBe(2)
  })

  it('onMutate runs first and its result is the context of onSuccess and onSettled', async () => {
    store = new QueryStore()
    const order: string[] = []
    const save = store.mutation(
      async (name: string) => {
        order.push(`write ${name}`)
        return name.length
      },
      {
        onMutate: async (name) => {
          order.push(`onMutate ${name}`)
          return { started: name }
        },
        onSuccess: (data, name, context) => void order.push(`onSuccess ${data} ${name} ${context?.started}`),
        onError: () => void order.push('onError'),
        onSettled: (data, error, name, context) =>
          void order.push(`onSettled ${data} ${String(error)} ${context?.started}`),
      },
    )
    await save.mutate('ada').wait()
    expect(order).toEqual(['onMutate ada', 'write ada', 'onSuccess 3 ada ada', 'onSettled 3 null ada'])
  })

  it('onError and onSettled get the error and the context; a callback throwing fails the call', async () => {
    store = new QueryStore()
    const seen: unknown[] = []
    const fail = store.mutation(async () => Promise.reject(new Error('write failed')), {
      onMutate: () => 'ctx',
      onError: (error, _vars, context) => void seen.push(['onError', (error as Error).message, context]),
      onSettled: (data, error, _vars, context) =>
        void seen.push(['onSettled', data, (error as Error).message, context]),
    })
    await expect(fail.mutate(undefined).wait()).rejects.toThrow('write failed')
    expect(seen).toEqual([
      ['onError', 'write failed', 'ctx'],
      ['onSettled', undefined, 'write failed', 'ctx'],
    ])
    const strict = store.mutation(async () => 1, {
      onSuccess: () => {
        throw new Error('onSuccess failed')
      },
    })
    const caught = jest.fn()
    const strictWithOnError = store.mutation(async () => 1, {
      onSuccess: () => {
        throw new Error('onSuccess failed')
      },
      onError: caught,
    })
    await expect(strict.mutate(undefined).wait()).rejects.toThrow('onSuccess failed')
    await expect(strictWithOnError.mutate(undefined).wait()).rejects.toThrow('onSuccess failed')
    expect(caught).toHaveBeenCalledWith(new Error('onSuccess failed'), undefined, undefined) // as TanStack
  })

  it('runs calls of one scope one after another, and other calls alongside', async () => {
    store = new QueryStore()
    const running: string[] = []
    const answers = new Map<string, ReturnType<typeof deferred<void>>>()
    const write = (name: string): Promise<string> => {
      running.push(name)
      const answer = deferred<void>()
      answers.set(name, answer)
      return answer.promise.then(() => name)
    }
    const scoped = store.mutation(write, { scope: { id: 'user-1' } })
    const free = store.mutation(write)
    const a = scoped.mutate('a')
    const b = scoped.mutate('b')
    const c = free.mutate('c')
    await settle()
    expect([...running].sort()).toEqual(['a', 'c'])
    answers.get('a')?.resolve()
    await a.wait()
    await settle()
    expect(running.slice(2)).toEqual(['b'])
    answers.get('b')?.resolve()
    answers.get('c')?.resolve()
    expect(await Promise.all([b.wait(), c.wait()])).toEqual(['b', 'c'])
  })

  it('a failed call in a scope does not stop the next', async () => {
    store = new QueryStore()
    const save = store.mutation(
      async (n: number) => {
        if (n === 1) throw new Error('one')
        return n
      },
      { scope: { id: 's' } },
    )
    const one = save.mutate(1)
    const two = save.mutate(2)
    await expect(one.wait()).rejects.toThrow('one')
    await expect(two.wait()).resolves.toBe(2)
  })

  it('counts failures in failureCount and failureReason while retrying', async () => {
    store = new QueryStore()
    let calls = 0
    const save = store.mutation(
      async () => {
        if (++calls < 3) throw new Error(`fail ${calls}`)
        return 'ok'
      },
      { retry: 2, retryDelay: 100 },
    )
    const handle = save.mutate(undefined)
    await settle()
    expect(save.state).toMatchObject({
      status: 'pending',
      failureCount: 1,
      failureReason: new Error('fail 1'),
    })
    await jest.advanceTimersByTimeAsync(100)
    expect(save.state).toMatchObject({ failureCount: 2, failureReason: new Error('fail 2') })
    await jest.advanceTimersByTimeAsync(100)
    await handle.wait()
    expect(save.state).toMatchObject({ status: 'success', failureCount: 0, failureReason: null })
    const never = store.mutation(async () => Promise.reject(new Error('no')))
    await never
      .mutate(undefined)
      .wait()
      .catch(() => undefined)
    expect(never.state).toMatchObject({ status: 'error', failureCount: 1, failureReason: new Error('no') })
  })

  it('runs different scopes in parallel, each one in order; accepts null variables', async () => {
    store = new QueryStore()
    const log: string[] = []
    const gates = new Map<string, ReturnType<typeof deferred<void>>>()
    const save = (scope: string) =>
      store.mutation(
        async (value: string | null) => {
          const name = `${scope}:${String(value)}`
          log.push(`start ${name}`)
          const gate = deferred<void>()
          gates.set(name, gate)
          await gate.promise
          log.push(`end ${name}`)
          return value
        },
        { scope: { id: scope } },
      )
    const a = save('a')
    const b = save('b')
    const calls = [a.mutate('1'), a.mutate(null), b.mutate('1')]
    await settle()
    expect(log.sort()).toEqual(['start a:1', 'start b:1'])
    gates.get('b:1')?.resolve()
    gates.get('a:1')?.resolve()
    await settle()
    expect(log).toContain('start a:null')
    gates.get('a:null')?.resolve()
    expect(await Promise.all(calls.map((c) => c.wait()))).toEqual(['1', null, '1'])
  })
})
