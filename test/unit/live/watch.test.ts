import { inspect } from 'node:util'
import {
  AsyncEventBus,
  Component,
  ComponentUpdated,
  SourceUnavailableError,
  explain,
  isComponentError,
  isComponentOptionsError,
  isComponentResolutionError,
  isUpdatesOverflowError,
  watch,
  type ComponentUpdate,
} from 'tributary'
import { describeUpdate, watchableMemory } from './watchable-memory'

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

describe('watch(): the handle', () => {
  it('resolves once, then applies changes in place and reports them as typed updates', async () => {
    class AppConfig {
      @Component({ fetchFrom: 'mem', key: 'app/port' }) port!: number
      @Component({ fetchFrom: 'mem', key: 'app/host' }) host!: string
    }
    const mem = watchableMemory('mem', { 'app/port': '8080', 'app/host': 'a' })
    const live = await watch(AppConfig, { sources: [mem] })
    const current = live.current
    expect(current).toBeInstanceOf(AppConfig)
    expect(current).toMatchObject({ port: 8080, host: 'a' })
    expect(live.watching).toEqual(['port', 'host'])
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))

    mem.set('app/port', '9090')
    await settle()
    expect(live.current).toBe(current)
    expect(current.port).toBe(9090)
    expect(heard).toEqual([
      expect.objectContaining({
        kind: 'updated',
        property: 'port',
        oldValue: 8080,
        newValue: 9090,
        source: 'mem',
        key: 'app/port',
        secret: false,
      }),
    ])
    expect(Object.isFrozen(heard[0])).toBe(true)
    expect(explain(current)['port']).toMatchObject({ value: 9090, origin: 'source' })
    await live.stop()
  })

  it('emits only when the coerced value really changes (deep equality for objects)', async () => {
    class Limits {
      @Component({ fetchFrom: 'mem', key: 'port' }) port!: number
      @Component({ fetchFrom: 'mem', key: 'limits' }) limits!: Record<string, unknown>
    }
    const mem = watchableMemory('mem', { port: '8080', limits: '{"rps":10,"burst":[1,2]}' })
    const live = await watch(Limits, { sources: [mem] })
    const heard: string[] = []
    live.onUpdate((u) => heard.push(describeUpdate(u)))
    mem.set('port', '08080')
    mem.set('port', ' 8080')
    mem.set('limits', '{ "burst": [1, 2], "rps": 10 }')
    await settle()
    expect(heard).toEqual([])
    mem.set('limits', '{"rps":10,"burst":[1,3]}')
    await settle()
    expect(heard).toEqual(['updated limits {"rps":10,"burst":[1,2]}→{"rps":10,"burst":[1,3]}'])
    await live.stop()
  })

  it('a value failing coercion or validate is an error update and is not applied', async () => {
    class Checked {
      @Component({ fetchFrom: 'mem', key: 'port', validate: (p: number) => p < 65_536 || 'out of range' })
      port!: number
      @Component({
        fetchFrom: 'mem',
        key: 'name',
        validate: async (n: string) => {
          await Promise.resolve()
          return n !== 'bad'
        },
      })
      name!: string
    }
    const mem = watchableMemory('mem', { port: '8080', name: 'ok' })
    const live = await watch(Checked, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('port', 'eighty')
    mem.set('port', '70000')
    mem.set('name', 'bad')
    await settle()
    expect(live.current.port).toBe(8080)
    expect(live.current.name).toBe('ok')
    expect(heard.map((u) => `${u.kind} ${u.property}`)).toEqual(['error port', 'error port', 'error name'])
    const errors = heard.map((u) => (u.kind === 'error' ? u.error : undefined))
    for (const error of errors) {
      expect(isComponentError(error)).toBe(true)
      expect(error).toMatchObject({ className: 'Checked', source: 'mem' })
    }
    expect((errors[0] as Error).message).toMatch(
      /Checked\.port \(source "mem", key "port"\).*"eighty".*number/,
    )
    expect((errors[1] as Error).message).toMatch(/out of range/)
    mem.set('port', '8081')
    mem.set('name', 'fine')
    await settle()
    expect(live.current).toMatchObject({ port: 8081, name: 'fine' })
    await live.stop()
  })

  it('a deletion falls back, or leaves undefined when not required, and a return is reported', async () => {
    class Deletions {
      @Component({ fetchFrom: 'mem', key: 'level', fallback: 'info' }) level!: string
      @Component({ fetchFrom: 'mem', key: 'banner', required: false }) banner?: string
      @Component({ fetchFrom: 'mem', key: 'port' }) port!: number
    }
    const mem = watchableMemory('mem', { level: 'debug', banner: 'hi', port: '1' })
    const live = await watch(Deletions, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.delete('level')
    mem.delete('banner')
    mem.delete('port')
    await settle()
    expect(heard.map(describeUpdate)).toEqual([
      'removed level "debug"→"info"',
      'removed banner "hi"→undefined',
      'error port',
    ])
    expect((heard[2] as { error: Error }).error.message).toMatch(
      /Deletions\.port .*deleted.*required and has no fallback, so it keeps its last value/,
    )
    expect(live.current).toMatchObject({ level: 'info', banner: undefined, port: 1 })
    expect(explain(live.current)['level']).toMatchObject({ origin: 'fallback', value: 'info' })
    expect(explain(live.current)['banner']).toMatchObject({ origin: 'missing' })

    heard.length = 0
    mem.set('level', 'warn')
    mem.set('banner', 'back')
    mem.set('port', '1')
    await settle()
    expect(heard.map(describeUpdate)).toEqual(['updated level "info"→"warn"', 'added banner "back"'])
    await live.stop()
  })

  it('a source error is one error update; the last good value stays', async () => {
    class Remote {
      @Component({ fetchFrom: 'mem', key: 'k' }) value!: string
    }
    const mem = watchableMemory('mem', { k: 'v1' })
    const live = await watch(Remote, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.fail('k', new SourceUnavailableError({ source: 'mem', key: 'k' }))
    await settle()
    expect(live.current.value).toBe('v1')
    expect(heard).toHaveLength(1)
    const update = heard[0]
    expect(update).toMatchObject({ kind: 'error', property: 'value', source: 'mem', key: 'k' })
    const error = update?.kind === 'error' ? update.error : undefined
    expect(isComponentError(error)).toBe(true)
    expect((error as Error).message).toMatch(/^Remote\.value \(source "mem", key "k"\): mem: unavailable/)
    expect((error as Error).cause).toBeInstanceOf(SourceUnavailableError)
    mem.set('k', 'v2')
    await settle()
    expect(heard.map(describeUpdate)).toEqual(['error value', 'updated value "v1"→"v2"'])
    await live.stop()
  })

  it('masks secrets in updates, errors, snapshots and JSON, while current holds the real value', async () => {
    class Secrets {
      @Component({ fetchFrom: 'mem', key: 'api', secret: true }) apiKey!: string
      @Component({ fetchFrom: 'mem', key: 'pin', secret: true }) pin!: number
    }
    const mem = watchableMemory('mem', { api: 'sk-old-1234', pin: '4321' })
    const live = await watch(Secrets, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('api', 'sk-new-5678')
    mem.set('pin', 'not-a-pin-9999')
    await settle()
    expect(live.current.apiKey).toBe('sk-new-5678')
    expect(heard[0]).toMatchObject({ kind: 'updated', oldValue: '***', newValue: '***', secret: true })
    const printed =
      inspect(heard, { depth: 5 }) + JSON.stringify(heard) + (heard[1] as { error: Error }).error.message
    expect(printed).not.toMatch(/sk-|4321|9999/)
    const snap = live.snapshot()
    expect(JSON.stringify(snap)).not.toMatch(/sk-/)
    expect(inspect(snap)).not.toMatch(/sk-/)
    expect(explain(snap)['apiKey']?.value).toBe('***')
    expect(snap.apiKey).toBe('sk-new-5678')
    await live.stop()
  })

  it('picks `field` from a watched document unless the source applies it itself', async () => {
    class Fields {
      @Component({ fetchFrom: 'doc', key: 'app', field: 'db.url' }) url!: string
      @Component({ fetchFrom: 'own', key: 'app', field: 'note' }) note!: string
    }
    const doc = watchableMemory('doc', { app: { db: { url: 'pg://a' } } })
    const own = Object.assign(watchableMemory('own', { app: '{"note":"inner"}' }), { appliesField: true })
    const live = await watch(Fields, { sources: [doc, own] })
    doc.set('app', { db: { url: 'pg://b' } })
    own.set('app', '{"note":"still the whole value"}')
    await settle()
    expect(live.current.url).toBe('pg://b')
    expect(live.current.note).toBe('{"note":"still the whole value"}')
    await live.stop()
  })

  it('snapshot() is a frozen copy that later updates do not touch', async () => {
    class Snap {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '1' })
    const live = await watch(Snap, { sources: [mem] })
    const first = live.snapshot()
    expect(Object.isFrozen(first)).toBe(true)
    expect(first).toBeInstanceOf(Snap)
    expect(first).not.toBe(live.current)
    expect(live.snapshot()).toBe(first)
    expect(() => {
      ;(first as { n: number }).n = 5
    }).toThrow(TypeError)
    mem.set('n', '2')
    await settle()
    expect(first.n).toBe(1)
    const second = live.snapshot()
    expect(second.n).toBe(2)
    expect(second).not.toBe(first)
    await live.stop()
  })

  it('several updates() consumers each get every update; a slow one overflows oldest-first', async () => {
    class Many {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Many, { sources: [mem] })
    const a = live.updates()
    const b = live.updates()
    const slow = live.updates({ bufferSize: 2 })
    for (let i = 1; i <= 5; i++) mem.set('n', String(i))
    await settle()
    await live.stop()
    const read = async (it: AsyncIterable<ComponentUpdate>): Promise<string[]> => {
      const out: string[] = []
      for await (const u of it)
        out.push(
          u.kind === 'error'
            ? `overflow:${String(isUpdatesOverflowError(u.error) && u.error.dropped)}`
            : describeUpdate(u),
        )
      return out
    }
    const all = [1, 2, 3, 4, 5].map((i) => `updated n ${i - 1}→${i}`)
    expect(await read(a)).toEqual(all)
    expect(await read(b)).toEqual(all)
    expect(await read(slow)).toEqual(['overflow:3', 'updated n 3→4', 'updated n 4→5'])
  })

  it('onUpdate returns an unsubscribe, and a throwing listener does not stop the others', async () => {
    class Listen {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
    }
    const mem = watchableMemory('mem', { n: '0' })
    const live = await watch(Listen, { sources: [mem] })
    const heard: number[] = []
    live.onUpdate(() => {
      throw new Error('listener bug')
    })
    const off = live.onUpdate((u) => heard.push(u.kind === 'updated' ? (u.newValue as number) : -1))
    mem.set('n', '1')
    off()
    mem.set('n', '2')
    await settle()
    expect(heard).toEqual([1])
    expect(live.current.n).toBe(2)
    await live.stop()
  })

  it('rejects with the same errors as resolve, and starts no watcher then', async () => {
    class Broken {
      @Component({ fetchFrom: 'mem', key: 'missing' }) a!: string
      @Component({ fetchFrom: 'mem', key: 'there' }) b!: string
    }
    const mem = watchableMemory('mem', { there: 'x' })
    const error = await watch(Broken, { sources: [mem] }).catch((e: unknown) => e)
    expect(isComponentResolutionError(error)).toBe(true)
    expect((error as AggregateError).errors).toHaveLength(1)
    expect(mem.calls).toHaveLength(0)

    class Typo {
      @Component({ fetchFrom: 'memm', key: 'there' }) b!: string
    }
    expect(isComponentOptionsError(await watch(Typo, { sources: [mem] }).catch((e: unknown) => e))).toBe(true)
  })

  it('a source whose watch() throws makes watch() reject naming the component, and stops the others', async () => {
    class Mixed {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
      @Component({ fetchFrom: 'bad', key: 'b' }) b!: string
    }
    const mem = watchableMemory('mem', { a: '1' })
    const bad = watchableMemory('bad', { b: '2' })
    bad.watch = () => {
      throw new Error('no watch for you')
    }
    const error = await watch(Mixed, { sources: [mem, bad] }).catch((e: unknown) => e)
    expect(isComponentError(error)).toBe(true)
    expect((error as Error).message).toMatch(
      /Mixed\.b \(source "bad", key "b"\): cannot start watching: no watch for you/,
    )
    expect(mem.running).toBe(0)
  })

  it('components whose source cannot watch keep their value; watch: false opts out', async () => {
    class Partial {
      @Component({ fetchFrom: 'plain', key: 'a' }) a!: string
      @Component({ fetchFrom: 'mem', key: 'b', watch: false }) b!: string
      @Component({ fetchFrom: 'mem', key: 'c' }) c!: string
    }
    const mem = watchableMemory('mem', { b: 'B', c: 'C' })
    const plain = { name: 'plain', fetch: async () => 'A' }
    const live = await watch(Partial, { sources: [plain, mem] })
    expect(live.watching).toEqual(['c'])
    expect(mem.calls.map((c) => c.key)).toEqual(['c'])
    await live.stop()
  })

  it('publishes every update as a ComponentUpdated event on a bus it does not close', async () => {
    class Bussed {
      @Component({ fetchFrom: 'mem', key: 'n' }) n!: number
      @Component({ fetchFrom: 'mem', key: 's', secret: true }) s!: string
    }
    const bus = new AsyncEventBus()
    const events: ComponentUpdated[] = []
    bus.on(ComponentUpdated, (e) => {
      events.push(e)
    })
    const mem = watchableMemory('mem', { n: '1', s: 'secret-1' })
    const live = await watch(Bussed, { sources: [mem], bus })
    mem.set('n', '2')
    mem.set('s', 'secret-2')
    mem.fail('n', new SourceUnavailableError({ source: 'mem', key: 'n' }))
    await settle()
    expect(events.map((e) => [e.className, e.kind, e.property])).toEqual([
      ['Bussed', 'updated', 'n'],
      ['Bussed', 'updated', 's'],
      ['Bussed', 'error', 'n'],
    ])
    expect(events[0]?.update).toMatchObject({ oldValue: 1, newValue: 2 })
    expect(events[1]?.update).toMatchObject({ oldValue: '***', newValue: '***' })
    await live.stop()
    expect(bus.isClosed).toBe(false)
    mem.set('n', '3')
    await settle()
    expect(events).toHaveLength(3)
    await bus.close()
  })
})

describe('watch options are checked', () => {
  it('when the decorator runs', () => {
    const declare = (options: object) => () => {
      class C {
        @Component({ fetchFrom: 'mem', ...options } as never) x!: string
      }
      return C
    }
    expect(declare({ debounse: 5 })).toThrow(/unknown option "debounse" \(did you mean "debounce"\?\)/)
    expect(declare({ debounce: -1 })).toThrow(/`debounce` must be a number of milliseconds >= 0/)
    expect(declare({ throttle: Number.NaN })).toThrow(/`throttle` must be/)
    expect(declare({ burst: 3 })).toThrow(/`burst` needs `throttle`/)
    expect(declare({ throttle: 10, burst: 0 })).toThrow(/`burst` must be a whole number >= 1/)
    expect(declare({ pollInterval: '1s' })).toThrow(/`pollInterval` must be/)
    expect(declare({ watch: 'no' })).toThrow(/`watch` must be true or false/)
    expect(declare({ condition: { component: 'y' } })).toThrow(/exactly one of `equals` and `matches`/)
    expect(declare({ condition: { component: 'y', matches: 1 } })).toThrow(
      /`condition.matches` must be a function/,
    )
    expect(declare({ condition: 'y' })).toThrow(/`condition` must be/)
    expect(declare({ condition: { component: 'x', equals: 1 } })).toThrow(/cannot be conditioned on itself/)
    expect(declare({ condition: { component: 'y', equals: 1, when: 2 } })).toThrow(
      /unknown condition option "when"/,
    )
    expect(declare({ debounce: 10, throttle: 100, burst: 2, pollInterval: 0, watch: true })).not.toThrow()
  })

  it('when watch starts: a bus without emitAndForget', async () => {
    class Plain {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
    }
    const mem = watchableMemory('mem', { a: 'A' })
    const bus = { emit: () => undefined } as unknown as AsyncEventBus
    await expect(watch(Plain, { sources: [mem], bus })).rejects.toThrow(/`bus` must have an emitAndForget/)
    expect(mem.fetches).toHaveLength(0)
  })

  it('when watch starts: a condition on an unknown component', async () => {
    class Cond {
      @Component({ fetchFrom: 'mem', key: 'a', condition: { component: 'flagg', equals: true } }) a!: string
      @Component({ fetchFrom: 'mem', key: 'flag' }) flag!: boolean
    }
    const mem = watchableMemory('mem', { a: 'A', flag: 'true' })
    const error = await watch(Cond, { sources: [mem] }).catch((e: unknown) => e)
    expect(isComponentOptionsError(error)).toBe(true)
    expect((error as Error).message).toBe('Cond.a: condition on "flagg", which is not a component of Cond')
    expect(mem.fetches).toHaveLength(0)
  })
})
