/**
 * The published package: builds it, checks what `npm pack` would ship, then loads it by name
 * from a consumer directory with `require`, with `import`, and type-checks both.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(__dirname, '..', '..')
const run = (cmd: string, args: string[], cwd = root): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

describe('the built package', () => {
  let consumer: string

  beforeAll(() => {
    run(process.execPath, [join(root, 'scripts', 'build.mjs')])
    consumer = mkdtempSync(join(tmpdir(), 'tributary-consumer-'))
    mkdirSync(join(consumer, 'node_modules'))
    symlinkSync(root, join(consumer, 'node_modules', 'tributary'), 'dir')
  }, 120_000)

  afterAll(() => rmSync(consumer, { recursive: true, force: true }))

  it('packs the CommonJS and ESM entry points with declarations, and no sources or tests', () => {
    const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])) as Array<{
      files: Array<{ path: string }>
    }>
    const files = pack!.files.map((f) => f.path)
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/esm/index.mjs',
        'dist/esm/index.d.mts',
      ]),
    )
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([])
  })

  it('loads with require and with import, sharing one implementation', () => {
    const script = `
      import { createRequire } from 'node:module'
      import * as esm from 'tributary'
      const cjs = createRequire(import.meta.url)('tributary')
      const r = esm.AsyncResult.from(async () => 41 + 1, { operation: 'smoke' })
      console.log(JSON.stringify({
        value: await r,
        same: esm.AsyncResult === cjs.AsyncResult,
        guard: cjs.isAsyncTimeoutError(new esm.AsyncTimeoutError('x', 1)),
        keys: Object.keys(cjs).filter((k) => k !== '__esModule').length === Object.keys(esm).length,
      }))`
    writeFileSync(join(consumer, 'check.mjs'), script)
    expect(JSON.parse(run(process.execPath, ['check.mjs'], consumer))).toEqual({
      value: 42,
      same: true,
      guard: true,
      keys: true,
    })
    const required = run(
      process.execPath,
      ['-e', "console.log(typeof require('tributary').AsyncCoordinator)"],
      consumer,
    )
    expect(required.trim()).toBe('function')
  })

  it('ships the tributary command, which runs from the installed package', () => {
    const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])) as Array<{
      files: Array<{ path: string }>
    }>
    expect(pack!.files.map((f) => f.path)).toContain('dist/cjs/cli/main.js')
    writeFileSync(
      join(consumer, 'config.js'),
      `const { Component, envSource } = require('tributary')
      class Settings {}
      Component({ fetchFrom: 'env', key: 'PKG_TEST_PORT', type: Number })(Settings.prototype, 'port')
      exports.Settings = Settings
      exports.sources = [envSource({ env: { PKG_TEST_PORT: '8125' } })]`,
    )
    const bin = join(consumer, 'node_modules', 'tributary', 'dist', 'cjs', 'cli', 'main.js')
    const output = run(process.execPath, [bin, 'explain', 'config.js', '--json'], consumer)
    expect(JSON.parse(output)).toMatchObject({ port: { value: 8125, source: 'env', origin: 'source' } })
  })

  it('type-checks for ESM and CommonJS consumers', () => {
    writeFileSync(
      join(consumer, 'esm.mts'),
      "import { AsyncResult } from 'tributary'\nconst r: AsyncResult<number> = AsyncResult.resolve(1)\nexport const n: Promise<number> = r.wait()\n",
    )
    writeFileSync(
      join(consumer, 'cjs.cts'),
      "import { AsyncCoordinator } from 'tributary'\nexport const c: number = new AsyncCoordinator().size\n",
    )
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules', '@types'),
    ]
    expect(() => run(process.execPath, [tsc, ...args, 'esm.mts', 'cjs.cts'], consumer)).not.toThrow()
    writeFileSync(
      join(consumer, 'bad.mts'),
      "import { AsyncResult } from 'tributary'\nexport const n: string = AsyncResult.resolve(1)\n",
    )
    expect(() => run(process.execPath, [tsc, ...args, 'bad.mts'], consumer)).toThrow()
  })
})
