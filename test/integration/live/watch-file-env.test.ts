import { mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Component, envSource, fileSource, isComponentError, watch } from 'tributary'
import { lastIs, logUpdates, sleep } from './live-log'

describe('watch() on the real file system', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-watch-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const files = () => fileSource({ baseDir: dir })
  const write = (name: string, text: string): void => writeFileSync(join(dir, name), text)
  const replace = (name: string, text: string): void => {
    writeFileSync(join(dir, `.${name}.tmp`), text)
    renameSync(join(dir, `.${name}.tmp`), join(dir, name))
  }

  class FileConfig {
    @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'server.port' }) port!: number
    @Component({ fetchFrom: 'file', key: 'app.yaml', field: 'log.level', fallback: 'info' }) level!: string
  }

  it('an in-place write, an atomic replace, a half-written file, a deletion and a return', async () => {
    write('app.yaml', 'server:\n  port: 8080\nlog:\n  level: debug\n')
    const live = await watch(FileConfig, { sources: [files()] })
    const log = logUpdates(live)
    await sleep(50) // let fs.watch settle
    try {
      write('app.yaml', 'server:\n  port: 8081\nlog:\n  level: debug\n')
      await log.until(lastIs('updated port 8080→8081'))
      expect(live.current.port).toBe(8081)

      replace('app.yaml', 'server:\n  port: 8082\nlog:\n  level: warn\n')
      await log.until((u) => log.lines().includes('updated level "debug"→"warn"') && u.length >= 3)
      expect(live.current).toMatchObject({ port: 8082, level: 'warn' })

      write('app.yaml', 'server:\n  port: [8083\n')
      await log.until((u) => u.filter((x) => x.kind === 'error').length >= 2)
      const errors = log.updates.filter((u) => u.kind === 'error')
      for (const update of errors) {
        const error = update.kind === 'error' ? update.error : undefined
        expect(isComponentError(error)).toBe(true)
        expect((error as Error).message).toMatch(
          /^FileConfig\.(port|level) \(source "file", key "app.yaml"\)/,
        )
      }
      expect(live.current).toMatchObject({ port: 8082, level: 'warn' })

      write('app.yaml', 'server:\n  port: 8084\nlog:\n  level: warn\n')
      await log.until(lastIs('updated port 8082→8084'))

      rmSync(join(dir, 'app.yaml'))
      await log.until(
        () =>
          log.lines().includes('removed level "warn"→"info"') &&
          log.updates.filter((u) => u.kind === 'error').length >= 3,
      )
      expect(live.current).toMatchObject({ port: 8084, level: 'info' })

      replace('app.yaml', 'server:\n  port: 9000\nlog:\n  level: error\n')
      await log.until(
        () =>
          log.lines().includes('updated port 8084→9000') &&
          log.lines().includes('updated level "info"→"error"'),
      )
    } finally {
      await live.stop()
    }
    const heard = log.updates.length
    write('app.yaml', 'server:\n  port: 1\n')
    await sleep(150)
    expect(log.updates).toHaveLength(heard)
  })

  it('stop() mid-wait: a change waiting in a long debounce is never applied', async () => {
    class Slow {
      @Component({ fetchFrom: 'file', key: 'slow.json', field: 'n', debounce: 60_000 }) n!: number
    }
    write('slow.json', '{"n":1}')
    const live = await watch(Slow, { sources: [files()] })
    const log = logUpdates(live)
    await sleep(50)
    write('slow.json', '{"n":2}')
    await sleep(200) // the file watcher has read it; the debounce holds it
    await live.stop()
    expect(live.current.n).toBe(1)
    expect(log.updates).toEqual([])
    expect(live.watching).toEqual([])
  })
})

describe('watch() on environment variables', () => {
  it('a change, a removal (fallback and not required) and a return', async () => {
    const env: Record<string, string | undefined> = { APP_LEVEL: 'info', APP_BANNER: 'hello' }
    const sources = [envSource({ env, prefix: 'APP_' })]
    class EnvConfig {
      @Component({ fetchFrom: 'env', key: 'LEVEL', fallback: 'warn', pollInterval: 20 }) level!: string
      @Component({ fetchFrom: 'env', key: 'BANNER', required: false, pollInterval: 20 }) banner?: string
    }
    const live = await watch(EnvConfig, { sources })
    const log = logUpdates(live)
    try {
      env.APP_LEVEL = 'debug'
      await log.until(lastIs('updated level "info"→"debug"'))
      delete env.APP_LEVEL
      delete env.APP_BANNER
      await log.until(
        () =>
          log.lines().includes('removed level "debug"→"warn"') &&
          log.lines().includes('removed banner "hello"→undefined'),
      )
      expect(live.current).toMatchObject({ level: 'warn', banner: undefined })
      env.APP_BANNER = 'back'
      await log.until(lastIs('added banner "back"'))
    } finally {
      await live.stop()
    }
    const lines = log.lines()
    expect(lines).toHaveLength(4)
    expect(lines[0]).toBe('updated level "info"→"debug"')
    expect(lines.slice(1, 3).sort()).toEqual([
      'removed banner "hello"→undefined',
      'removed level "debug"→"warn"',
    ])
    expect(lines[3]).toBe('added banner "back"')
  })
})

describe('watch() on the real file system: issue 15, as a user sees it', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-watch-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))
  const files = () => fileSource({ baseDir: dir })
  const write = (name: string, text: string): void => writeFileSync(join(dir, name), text)

  class Mounted {
    @Component({ fetchFrom: 'file', key: 'conf/app.yaml', field: 'level', fallback: 'FALLBACK' })
    level!: string
  }

  it('a missing directory at the start: the error reaches the first listener (defect 6), then the values', async () => {
    const live = await watch(Mounted, { sources: [files()], backoff: { initialDelay: 20, maxDelay: 100 } })
    const log = logUpdates(live)
    try {
      expect(log.lines()).toEqual(['error level'])
      expect(live.current.level).toBe('FALLBACK')
      mkdirSync(join(dir, 'conf'))
      write('conf/app.yaml', 'level: debug\n')
      await log.until(lastIs('updated level "FALLBACK"→"debug"'))
    } finally {
      await live.stop()
    }
  })

  it('truncate, pause, write: no fallback nobody wrote (defect 2); a deleted and re-created directory (defect 1)', async () => {
    mkdirSync(join(dir, 'conf'))
    write('conf/app.yaml', 'level: info\n')
    const live = await watch(Mounted, { sources: [files()], backoff: { initialDelay: 20, maxDelay: 100 } })
    const log = logUpdates(live)
    await sleep(50) // let fs.watch settle
    try {
      truncateSync(join(dir, 'conf/app.yaml'), 0)
      await log.until(lastIs('error level'))
      await sleep(100)
      write('conf/app.yaml', 'level: debug\n')
      await log.until(lastIs('updated level "info"→"debug"'))
      rmSync(join(dir, 'conf'), { recursive: true })
      await log.until(lastIs('removed level "debug"→"FALLBACK"'))
      await sleep(100)
      mkdirSync(join(dir, 'conf'))
      write('conf/app.yaml', 'level: warn\n')
      await log.until(lastIs('updated level "FALLBACK"→"warn"'))
    } finally {
      await live.stop()
    }
    expect(log.lines()).toEqual([
      'error level',
      'updated level "info"→"debug"',
      'removed level "debug"→"FALLBACK"',
      'updated level "FALLBACK"→"warn"',
    ])
  })
})
