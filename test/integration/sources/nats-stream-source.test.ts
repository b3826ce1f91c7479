import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import {
  Component,
  isSourceError,
  isSourceNotFoundError,
  isSourceUnavailableError,
  natsStreamSource,
  resolve,
  type WatchableSource,
} from 'tributary'
import { recorder, request as watchRequest } from '../live/recorder'
import { uniqueName } from '../../support/database'
import { describeWithNats, natsUrl } from '../../support/services'
import { context, request } from './request'

describeWithNats('natsStreamSource', () => {
  let nc: NatsConnection
  let jsm: JetStreamManager
  let js: JetStreamClient
  let stream: string
  let subjects: string
  let source: WatchableSource

  beforeAll(async () => {
    nc = await connect({ servers: natsUrl })
    jsm = await jetstreamManager(nc)
    js = jetstream(nc)
    stream = uniqueName('nss').toUpperCase()
    subjects = stream.toLowerCase()
    await jsm.streams.add({ name: stream, subjects: [`${subjects}.>`] })
    await js.publish(`${subjects}.flags`, JSON.stringify({ beta: false }))
    await js.publish(`${subjects}.flags`, JSON.stringify({ beta: true, db: { port: 5432 } }))
    await js.publish(`${subjects}.motd`, 'hello, world')
    await js.publish(`${subjects}.rps`, '25')
    source = natsStreamSource(nc, { stream, prefix: `${subjects}.` })
  })
  afterAll(async () => {
    await jsm.streams.delete(stream).catch(() => undefined)
    await nc.close()
  })

  it('is named nats (or as told) and applies fields itself', () => {
    expect(source.name).toBe('nats')
    expect(natsStreamSource(nc, { name: 'bus' }).name).toBe('bus')
    expect(source.appliesField).toBe(true)
  })

  it('refuses a connection that is not one and a wrong option, naming it', () => {
    expect(() => natsStreamSource({} as never)).toThrow(
      /^natsStreamSource\(connection, options\): connection must be/,
    )
    expect(() => natsStreamSource(nc, { stream: 'a.b' })).toThrow(
      /option stream must be a JetStream stream name .*, got "a\.b"/,
    )
    expect(() => natsStreamSource(nc, { streams: 'A' } as never)).toThrow('(did you mean "stream"?)')
  })

  it('reads the last message on the subject: JSON when it parses, else the text; field picks a path', async () => {
    expect(await source.fetch(request({ key: 'flags' }), context())).toEqual({
      beta: true,
      db: { port: 5432 },
    })
    expect(await source.fetch(request({ key: 'flags', field: 'db.port' }), context())).toBe(5432)
    expect(await source.fetch(request({ property: 'motd' }), context())).toBe('hello, world')
    expect(await source.fetch(request({ key: 'rps' }), context())).toBe(25)
  })

  it('finds the stream of a subject when no stream is given', async () => {
    const found = natsStreamSource(nc)
    expect(await found.fetch(request({ key: `${subjects}.motd` }), context())).toBe('hello, world')
  })

  it('resolve() coerces the latest messages to the property types', async () => {
    class Flags {
      @Component({ fetchFrom: 'nats', key: 'flags', field: 'beta' }) beta!: boolean
      @Component({ fetchFrom: 'nats', key: 'rps' }) rps!: number
      @Component({ fetchFrom: 'nats', key: 'motd' }) motd!: string
      @Component({ fetchFrom: 'nats', key: 'nothing', fallback: 'none' }) other!: string
    }
    expect(await resolve(Flags, { sources: [source] })).toMatchObject({
      beta: true,
      rps: 25,
      motd: 'hello, world',
      other: 'none',
    })
  })

  it('no message on the subject, or no stream holding it, is a SourceNotFoundError naming the subject', async () => {
    const none = await source.fetch(request({ key: 'nothing' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(none)).toBe(true)
    expect(none).toMatchObject({ source: 'nats', key: `${subjects}.nothing` })
    expect((none as Error).message).toBe(`nats: no message on subject ${subjects}.nothing`)
    const noStream = await natsStreamSource(nc)
      .fetch(request({ key: `nowhere.${subjects}` }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(noStream)).toBe(true)
    expect((noStream as Error).message).toMatch(
      new RegExp(`^nats: no JetStream stream holds subject nowhere\\.${subjects}`),
    )
    const wrongStream = await natsStreamSource(nc, { stream: `${stream}_NOPE` })
      .fetch(request({ key: `${subjects}.flags` }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(wrongStream)).toBe(true)
    const field = await source
      .fetch(request({ key: 'flags', field: 'nope' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(field)).toBe(true)
  })

  it('a field of a message that is not JSON is a SourceError without the message', async () => {
    const error = await source.fetch(request({ key: 'motd', field: 'x' }), context()).catch((e: unknown) => e)
    expect(isSourceError(error) && !isSourceNotFoundError(error)).toBe(true)
    expect((error as Error).message).not.toContain('hello')
  })

  it('a closed connection is a SourceUnavailableError', async () => {
    const closed = await connect({ servers: natsUrl })
    await closed.close()
    const error = await natsStreamSource(closed, { stream })
      .fetch(request({ key: `${subjects}.flags` }), context())
      .catch((e: unknown) => e)
    expect(isSourceUnavailableError(error)).toBe(true)
    expect(error).toMatchObject({ source: 'nats', key: `${subjects}.flags` })
  })

  it('watch: the latest message, then every message once and in order (a repeated value too)', async () => {
    const rec = recorder()
    const watcher = source.watch(watchRequest('watched'), rec.options)
    try {
      await js.publish(`${subjects}.watched`, '"a"')
      await rec.until((events) => events.length === 1)
      await js.publish(`${subjects}.other`, '"not this subject"')
      for (const v of ['b', 'c', 'c', 'd']) await js.publish(`${subjects}.watched`, JSON.stringify(v))
      await rec.until((events) => events.length === 5)
    } finally {
      await watcher.stop()
    }
    expect(rec.values()).toEqual(['a', 'b', 'c', 'c', 'd'])
    // A new watcher starts at the latest message.
    const again = recorder()
    const second = source.watch(watchRequest('watched'), again.options)
    try {
      await again.until((events) => events.length === 1)
      await js.publish(`${subjects}.watched`, '"e"')
      await again.until((events) => events.length === 2)
    } finally {
      await second.stop()
    }
    expect(again.values()).toEqual(['d', 'e'])
  })

  it('watch right after a fetch starts after the message the fetch gave (none published in between is skipped)', async () => {
    const subject = `${subjects}.handoff`
    await js.publish(subject, '"a"')
    const fresh = natsStreamSource(nc, { stream, prefix: `${subjects}.` })
    expect(await fresh.fetch(request({ key: 'handoff' }), context())).toBe('a')
    await js.publish(subject, '"b"')
    await js.publish(subject, '"c"')
    const rec = recorder()
    const watcher = fresh.watch(watchRequest('handoff'), rec.options)
    try {
      await rec.until((events) => events.length === 2)
      await js.publish(subject, '"d"')
      await rec.until((events) => events.length === 3)
    } finally {
      await watcher.stop()
    }
    expect(rec.values()).toEqual(['b', 'c', 'd'])
  })
})
