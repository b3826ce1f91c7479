import { inspect } from 'node:util'
import Redis from 'ioredis'
import {
  redisSource,
  type RedisClientLike,
  type RedisNotifyingClientLike,
} from '../../../src/sources/redis/redis-source'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis } from '../../support/services'
import { isValue, recorder, request, sleep, type Reported } from './recorder'
import { startToggleProxy, type ToggleProxy } from './toggle-proxy'

const lastKind =
  (kind: Reported['kind']) =>
  (events: readonly Reported[]): boolean =>
    events.at(-1)?.kind === kind

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describeWithRedis('redis watcher (real Redis)', () => {
  let redis: TestRedis
  let proxy: ToggleProxy
  const clients: Redis[] = []
  beforeAll(async () => {
    redis = await createTestRedis('tributary_live_watch')
  })
  afterAll(() => redis.cleanup())
  beforeEach(async () => {
    proxy = await startToggleProxy(6379)
  })
  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect()
    await proxy.close()
    // disconnect() of a client whose socket is already gone leaves a 0 ms ioredis timer.
    await sleep(1)
  })

  /** A client of its own through the toggle proxy (so the test can take Redis away). */
  const viaProxy = (): Redis => {
    const client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
      disconnectTimeout: 0,
    })
    client.on('error', () => undefined)
    clients.push(client)
    return client
  }
  const notifications = async (): Promise<string> => {
    const [, flags] = (await redis.client.config('GET', 'notify-keyspace-events')) as [string, string]
    return flags
  }
  /** Runs `body` with `flags` set, then puts the server's previous setting back. */
  const withNotifications = async (flags: string, body: () => Promise<void>): Promise<void> => {
    const previous = await notifications()
    await redis.client.config('SET', 'notify-keyspace-events', flags)
    try {
      await body()
    } finally {
      await redis.client.config('SET', 'notify-keyspace-events', previous)
    }
  }
  const subscribers = async (key: string): Promise<number> => {
    const [, count] = (await redis.client.pubsub('NUMSUB', `__keyspace@0__:${key}`)) as [string, number]
    return Number(count)
  }

  it('an ioredis client is a notifying client', () => {
    const typed: RedisNotifyingClientLike = redis.client
    expect(typeof typed.duplicate).toBe('function')
  })

  it('with notifications on: subscribes, follows a string, a hash field, a deletion and an expiry', async () => {
    const { client, prefix } = redis
    const before = await notifications()
    await withNotifications('KA', async () => {
      await client.set(`${prefix}theme`, 'dark')
      await client.hset(`${prefix}limits`, 'rps', '10')
      const source = redisSource(client, { prefix })
      // A 60 s poll interval: only notifications can bring these changes in time.
      const theme = recorder({ pollInterval: 60_000 })
      const rps = recorder({ pollInterval: 60_000 })
      const themeWatcher = source.watch(request('theme'), theme.options)
      const rpsWatcher = source.watch(request('limits', { field: 'rps' }), rps.options)
      await theme.until(isValue('dark'))
      await rps.until(isValue('10'))
      await waitFor(async () => (await subscribers(`${prefix}theme`)) === 1)
      await client.set(`${prefix}theme`, 'light')
      await theme.until(isValue('light'))
      await client.hset(`${prefix}limits`, 'rps', '25')
      await rps.until(isValue('25'))
      await client.del(`${prefix}theme`)
      await theme.until(lastKind('removed'))
      await client.set(`${prefix}theme`, 'solarized', 'PX', 50)
      await theme.until(isValue('solarized'))
      await theme.until(lastKind('removed'))
      await Promise.all([themeWatcher.stop(), rpsWatcher.stop()])
      expect(await subscribers(`${prefix}theme`)).toBe(0)
      // stop(): later writes report nothing.
      await client.set(`${prefix}theme`, 'ignored')
      await sleep(100)
      expect(theme.events.map((e) => (e.kind === 'value' ? e.value : e.kind))).toEqual([
        'dark',
        'light',
        'removed',
        'solarized',
        'removed',
      ])
      expect(rps.values()).toEqual(['10', '25'])
    })
    expect(await notifications()).toBe(before)
  })

  it('with notifications on: an outage is one error, and the value changed meanwhile comes back', async () => {
    const { client, prefix } = redis
    await withNotifications('KA', async () => {
      await client.set(`${prefix}svc`, 'a')
      const rec = recorder({ pollInterval: 60_000 })
      const watcher = redisSource(viaProxy(), { prefix }).watch(request('svc'), rec.options)
      await rec.until(isValue('a'))
      await waitFor(async () => (await subscribers(`${prefix}svc`)) === 1)
      await proxy.down()
      await rec.until(lastKind('error'))
      await client.set(`${prefix}svc`, 'b')
      await sleep(300)
      await proxy.up()
      await rec.until(isValue('b'), 10_000)
      await client.set(`${prefix}svc`, 'c')
      await rec.until(isValue('c'))
      await watcher.stop()
      const errors = rec.events.filter((e): e is Extract<Reported, { kind: 'error' }> => e.kind === 'error')
      expect(errors).toHaveLength(1)
      expect((errors[0]?.error as Error).name).toBe('SourceUnavailableError')
    })
  })

  // Issue 16, defect 10, the other half: an outage of the network (the same server, its run_id
  // unchanged) that hides a real DEL still reports the deletion once it is back.
  it('with notifications on: a key deleted during a network outage is reported removed after it', async () => {
    const { client, prefix } = redis
    await withNotifications('KA', async () => {
      await client.set(`${prefix}gone`, 'a')
      const rec = recorder({ pollInterval: 60_000 })
      const watcher = redisSource(viaProxy(), { prefix }).watch(request('gone'), rec.options)
      await rec.until(isValue('a'))
      await waitFor(async () => (await subscribers(`${prefix}gone`)) === 1)
      await proxy.down()
      await rec.until(lastKind('error'))
      await client.del(`${prefix}gone`)
      await proxy.up()
      await rec.until(lastKind('removed'), 10_000)
      await watcher.stop()
      expect(rec.events.map((e) => e.kind)).toEqual(['value', 'error', 'removed'])
    })
  })

  it('stop() mid-wait with notifications closes the subscriber connection', async () => {
    const { client, prefix } = redis
    await withNotifications('KA', async () => {
      await client.set(`${prefix}held`, 'v')
      const rec = recorder({ pollInterval: 60_000 })
      const watcher = redisSource(client, { prefix }).watch(request('held'), rec.options)
      await rec.until(isValue('v'))
      await waitFor(async () => (await subscribers(`${prefix}held`)) === 1)
      await watcher.stop()
      expect(await subscribers(`${prefix}held`)).toBe(0)
    })
  })

  it('stop() during an outage ends the reconnect attempts of the subscriber', async () => {
    const { client, prefix } = redis
    await withNotifications('KA', async () => {
      await client.set(`${prefix}down`, 'v')
      const rec = recorder({ pollInterval: 60_000 })
      const watcher = redisSource(viaProxy(), { prefix }).watch(request('down'), rec.options)
      await rec.until(isValue('v'))
      await waitFor(async () => (await subscribers(`${prefix}down`)) === 1)
      await proxy.down()
      await rec.until(lastKind('error'))
      await watcher.stop()
      await proxy.up()
      await client.set(`${prefix}down`, 'w')
      await sleep(300)
      expect(await subscribers(`${prefix}down`)).toBe(0)
      expect(rec.events.map((e) => e.kind)).toEqual(['value', 'error'])
    })
  })

  it('with notifications off: polls at pollInterval, no subscriber', async () => {
    const { client, prefix } = redis
    await withNotifications('', async () => {
      await client.set(`${prefix}mode`, 'one')
      const rec = recorder({ pollInterval: 20 })
      const watcher = redisSource(client, { prefix }).watch(request('mode'), rec.options)
      await rec.until(isValue('one'))
      await client.set(`${prefix}mode`, 'two')
      await rec.until(isValue('two'))
      expect(await subscribers(`${prefix}mode`)).toBe(0)
      await client.del(`${prefix}mode`)
      await rec.until(lastKind('removed'))
      await client.set(`${prefix}mode`, 'three')
      await rec.until(isValue('three'))
      await watcher.stop()
    })
  })

  it('a user who may not run CONFIG is polled', async () => {
    const { client, prefix } = redis
    const user = `${prefix.replace(/:$/, '')}_noconfig`
    await client.call('ACL', 'SETUSER', user, 'on', 'nopass', '~*', '&*', '+@all', '-config')
    const limited = new Redis({
      host: '127.0.0.1',
      port: 6379,
      username: user,
      password: 'x',
      lazyConnect: true,
      disconnectTimeout: 0,
    })
    clients.push(limited)
    try {
      await withNotifications('KA', async () => {
        await client.set(`${prefix}acl`, 'one')
        const rec = recorder({ pollInterval: 20 })
        const watcher = redisSource(limited, { prefix }).watch(request('acl'), rec.options)
        await rec.until(isValue('one'))
        await client.set(`${prefix}acl`, 'two')
        await rec.until(isValue('two'))
        expect(await subscribers(`${prefix}acl`)).toBe(0)
        await watcher.stop()
        expect(rec.events.filter((e) => e.kind === 'error')).toEqual([])
      })
    } finally {
      await client.call('ACL', 'DELUSER', user)
    }
  })

  it('a wrong password is one SourcePermissionError that never shows the password', async () => {
    const { client, prefix } = redis
    const user = `${prefix.replace(/:$/, '')}_password`
    const password = 'redis-password-do-not-print'
    await client.call('ACL', 'SETUSER', user, 'on', '>the-right-one', '~*', '&*', '+@all')
    const wrong = new Redis({
      host: '127.0.0.1',
      port: 6379,
      username: user,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      disconnectTimeout: 0,
    })
    wrong.on('error', () => undefined)
    clients.push(wrong)
    try {
      const rec = recorder({ pollInterval: 20 })
      const watcher = redisSource(wrong, { prefix }).watch(request('secret', { secret: true }), rec.options)
      await rec.until(lastKind('error'))
      await sleep(200)
      await watcher.stop()
      expect(rec.events).toHaveLength(1)
      const error = (rec.events[0] as { error: Error }).error
      expect(error.name).toBe('SourcePermissionError')
      expect(inspect(error, { depth: 8 })).not.toContain(password)
    } finally {
      await client.call('ACL', 'DELUSER', user)
    }
  })

  it('polling (a client without duplicate): an outage is one error, then the current value', async () => {
    const { client, prefix } = redis
    const through = viaProxy()
    const plain: RedisClientLike = {
      get: (key) => through.get(key),
      hget: (key, field) => through.hget(key, field),
      hgetall: (key) => through.hgetall(key),
      exists: (...keys) => through.exists(...keys),
    }
    await client.set(`${prefix}poll`, 'a')
    const rec = recorder({ pollInterval: 20 })
    const watcher = redisSource(plain, { prefix }).watch(request('poll'), rec.options)
    await rec.until(isValue('a'))
    await proxy.down()
    await rec.until(lastKind('error'))
    await client.set(`${prefix}poll`, 'b')
    await sleep(300)
    await proxy.up()
    await rec.until(isValue('b'), 10_000)
    await watcher.stop()
    const errors = rec.events.filter((e): e is Extract<Reported, { kind: 'error' }> => e.kind === 'error')
    expect(errors).toHaveLength(1)
    expect((errors[0]?.error as Error).name).toBe('SourceUnavailableError')
  })

  it('stop() mid-wait while polling makes no further read', async () => {
    const { client, prefix } = redis
    await client.set(`${prefix}idle`, 'v')
    const rec = recorder({ pollInterval: 60_000 })
    const watcher = redisSource({
      get: (key) => client.get(key),
      hget: (key, field) => client.hget(key, field),
      hgetall: (key) => client.hgetall(key),
      exists: (...keys) => client.exists(...keys),
    }).watch(request(`${prefix}idle`), rec.options)
    await rec.until(isValue('v'))
    await watcher.stop()
    await client.set(`${prefix}idle`, 'w')
    await sleep(100)
    expect(rec.values()).toEqual(['v'])
  })
})
