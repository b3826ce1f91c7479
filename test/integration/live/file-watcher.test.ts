import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileSource } from '../../../src/sources/file/file-source'
import { watchFile } from '../../../src/sources/file/file-watcher'
import { isValue, recorder, request, sleep } from './recorder'

describe('file watcher (real file system)', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-live-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const start = (key: string, field?: string) => {
    const rec = recorder({ debounce: 10 })
    const source = fileSource({ baseDir: dir })
    const watcher = watchFile(source, request(key, field === undefined ? {} : { field }), rec.options, {
      baseDir: dir,
    })
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
})
