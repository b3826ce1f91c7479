import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileSource } from '../../../src/sources/file/file-source'
import { isValue, recorder, request, sleep, type Reported } from './recorder'

describe('file watcher (real file system)', () => {
  let dir: string
  const watchers: Array<{ stop(): Promise<void> }> = []
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-live-'))
  })
  afterEach(async () => {
    // Also after a failed test: a watcher left running would keep jest alive.
    await Promise.all(watchers.splice(0).map((w) => w.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  const start = (key: string, field?: string) => {
    const rec = recorder({ debounce: 10 })
    const source = fileSource({ baseDir: dir })
    const watcher = source.watch(request(key, field === undefined ? {} : { field }), rec.options)
    watchers.push(watcher)
    return { rec, watcher }
  }

  it('sees in-place writes, an atomic rename-over, a half-written file and a deletion', async () => {
    writeFileSync(join(dir, 'app.json'), '{"port":1}')
    const { rec, watcher } = start('app.json', 'port')
    await sleep(30)
    writeFileSync(join(dir, 'app.json'), '{"port":2}')
    await rec.until(isValue(2))
    writeFileSync(join(dir, 'app.json.tmp'), '{"port":3}')
    renameSync(join(dir, 'app.json.tmp'), join(dir, 'app.json'))
    await rec.until(isValue(3))
    writeFileSync(join(dir, 'app.json'), '{"port":')
    await rec.until((events) => events.at(-1)?.kind === 'error')
    const error = rec.events.at(-1)
    expect(error?.kind === 'error' && (error.error as Error).message).toMatch(/not valid JSON/)
    writeFileSync(join(dir, 'app.json'), '{"port":4}')
    await rec.until(isValue(4))
    rmSync(join(dir, 'app.json'))
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    writeFileSync(join(dir, 'app.json'), '{"port":5}')
    await rec.until(isValue(5))
    await watcher.stop()
    const count = rec.events.length
    writeFileSync(join(dir, 'app.json'), '{"port":6}')
    await sleep(60)
    expect(rec.events.length).toBe(count)
  })

  it('follows a Kubernetes ConfigMap symlink swap', async () => {
    mkdirSync(join(dir, '..2026_01'))
    writeFileSync(join(dir, '..2026_01', 'app.yaml'), 'level: info\n')
    symlinkSync('..2026_01', join(dir, '..data'))
    symlinkSync(join('..data', 'app.yaml'), join(dir, 'app.yaml'))
    const { rec, watcher } = start('app.yaml', 'level')
    await sleep(30)
    mkdirSync(join(dir, '..2026_02'))
    writeFileSync(join(dir, '..2026_02', 'app.yaml'), 'level: debug\n')
    symlinkSync('..2026_02', join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    rmSync(join(dir, '..2026_01'), { recursive: true })
    await rec.until(isValue('debug'))
    await watcher.stop()
  })

  it('a flood of 1,000 writes is debounced into a few reads', async () => {
    writeFileSync(join(dir, 'flood.json'), '{"n":0}')
    const { rec, watcher } = start('flood.json', 'n')
    for (let i = 1; i <= 1_000; i++) writeFileSync(join(dir, 'flood.json'), `{"n":${i}}`)
    await rec.until(isValue(1_000))
    expect(rec.events.length).toBeLessThan(20)
    await watcher.stop()
  })

  it('a missing directory is one error, then watched once it appears', async () => {
    const { rec, watcher } = start('later/app.json', 'v')
    await rec.until((events) => events.some((e) => e.kind === 'error'))
    mkdirSync(join(dir, 'later'))
    writeFileSync(join(dir, 'later', 'app.json'), '{"v":"here"}')
    await rec.until(isValue('here'))
    expect(rec.events.filter((e) => e.kind === 'error')).toHaveLength(1)
    await watcher.stop()
  })

  const kinds = (events: readonly Reported[]): unknown[] =>
    events.map((e) => (e.kind === 'value' ? e.value : e.kind))

  it('a directory deleted and re-created is watched again (issue 15, defect 1)', async () => {
    mkdirSync(join(dir, 'cfg'))
    writeFileSync(join(dir, 'cfg', 'app.yaml'), 'v: 1\n')
    const { rec, watcher } = start('cfg/app.yaml', 'v')
    await rec.until(isValue(1))
    rmSync(join(dir, 'cfg'), { recursive: true })
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    // Gone for a few backoff rounds (20, 40, 80 ms…), then back with new values.
    await sleep(150)
    mkdirSync(join(dir, 'cfg'))
    writeFileSync(join(dir, 'cfg', 'app.yaml'), 'v: 2\n')
    await rec.until(isValue(2))
    // The new directory is watched: an in-place write is seen.
    writeFileSync(join(dir, 'cfg', 'app.yaml'), 'v: 3\n')
    await rec.until(isValue(3))
    await watcher.stop()
    // The directory's absence was the file's removal, not an outage.
    expect(kinds(rec.events)).toEqual([1, 'removed', 2, 3])
  })

  it('a directory replaced by a rename (a deploy swapping a folder) is watched again (issue 15, defect 1)', async () => {
    mkdirSync(join(dir, 'cfg'))
    writeFileSync(join(dir, 'cfg', 'app.yaml'), 'v: 1\n')
    const { rec, watcher } = start('cfg/app.yaml', 'v')
    await rec.until(isValue(1))
    mkdirSync(join(dir, 'cfg.new'))
    writeFileSync(join(dir, 'cfg.new', 'app.yaml'), 'v: 2\n')
    renameSync(join(dir, 'cfg'), join(dir, 'cfg.old'))
    renameSync(join(dir, 'cfg.new'), join(dir, 'cfg'))
    await rec.until(isValue(2))
    // Writes to the moved-away directory are not the file any more; the new one's are.
    writeFileSync(join(dir, 'cfg.old', 'app.yaml'), 'v: 99\n')
    writeFileSync(join(dir, 'cfg', 'app.yaml'), 'v: 3\n')
    await rec.until(isValue(3))
    await watcher.stop()
    expect(rec.values()).toEqual([1, 2, 3])
  })

  it.each([
    ['app.yaml', 'level: info\n', 'level: debug\n'],
    ['.env', 'level=info\n', 'level=debug\n'],
    ['plain.txt', 'info', 'debug'],
  ])(
    'a truncated %s is not a deletion: one error, then the new value (issue 15, defect 2)',
    async (file, before, after) => {
      const path = join(dir, file)
      writeFileSync(path, before)
      const { rec, watcher } = start(file, file === 'plain.txt' ? undefined : 'level')
      await rec.until(isValue('info'))
      truncateSync(path, 0)
      await rec.until((events) => events.at(-1)?.kind === 'error')
      await sleep(100)
      writeFileSync(path, after)
      await rec.until(isValue('debug'))
      await watcher.stop()
      expect(kinds(rec.events)).toEqual(['info', 'error', 'debug'])
      const error = rec.events[1] as Extract<Reported, { kind: 'error' }>
      expect((error.error as Error).message).toMatch(/is empty/)
    },
  )

  it('a complete file that lacks the key is a removal; an empty file at the start is as fetch reads it', async () => {
    const path = join(dir, 'app.yaml')
    writeFileSync(path, '')
    const { rec, watcher } = start('app.yaml', 'level')
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    writeFileSync(path, 'level: info\n')
    await rec.until(isValue('info'))
    writeFileSync(path, 'other: 1\n')
    await rec.until((events) => events.at(-1)?.kind === 'removed')
    await watcher.stop()
    expect(kinds(rec.events)).toEqual(['removed', 'info', 'removed'])
  })
})
