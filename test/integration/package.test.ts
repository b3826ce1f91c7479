/**
 * The published package: builds it, checks what `npm pack` would ship, then loads it by name
 * from a consumer directory with `require`, with `import`, and type-checks both. A second
 * consumer holds only the package's own dependencies (no kysely, no driver), as an
 * application that uses components alone installs it; a third bundles it with
 * `esbuild --minify`, which renames every class.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
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

  describe('installed without any optional peer dependency', () => {
    let bare: string

    beforeAll(() => {
      // A copy, not a link: a link resolves to this checkout, whose node_modules has every driver.
      bare = realpathSync(mkdtempSync(join(tmpdir(), 'tributary-bare-')))
      const installed = join(bare, 'node_modules', 'tributary')
      mkdirSync(installed, { recursive: true })
      cpSync(join(root, 'package.json'), join(installed, 'package.json'))
      cpSync(join(root, 'dist'), join(installed, 'dist'), { recursive: true })
      // The package's dependencies and theirs (p-limit's yocto-queue); nothing optional.
      for (const dependency of ['reflect-metadata', 'yaml', 'cockatiel', 'p-limit', 'yocto-queue'])
        symlinkSync(join(root, 'node_modules', dependency), join(bare, 'node_modules', dependency), 'dir')
      writeFileSync(join(bare, 'settings.yaml'), 'name: bare\n')
    })

    afterAll(() => rmSync(bare, { recursive: true, force: true }))

    const runBare = (args: string[]): string =>
      execFileSync(process.execPath, args, {
        cwd: bare,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_PATH: '' },
      })

    it('loads with require and import, and resolves env and file components', () => {
      const script = `
        const t = require('tributary')
        const missing = (name) => { try { require.resolve(name); return false } catch { return true } }
        class Settings {}
        t.Component({ fetchFrom: 'env', key: 'BARE_PORT', type: Number })(Settings.prototype, 'port')
        t.Component({ fetchFrom: 'file', key: 'settings.yaml', field: 'name', type: String })(Settings.prototype, 'name')
        import('tributary').then(async (esm) => {
          const s = await t.resolve(Settings, {
            sources: [t.envSource({ env: { BARE_PORT: '8080' } }), t.fileSource({ baseDir: __dirname })],
          })
          console.log(JSON.stringify({
            drivers: ['kysely', 'pg', 'better-sqlite3', 'consul', 'node-vault', 'ioredis'].every(missing),
            port: s.port,
            name: s.name,
            esm: esm.resolve === t.resolve,
          }))
        })`
      writeFileSync(join(bare, 'components.js'), script)
      expect(JSON.parse(runBare(['components.js']))).toEqual({
        drivers: true,
        port: 8080,
        name: 'bare',
        esm: true,
      })
    })

    it('fails a model, shard, Consul or Vault call with a MissingDependencyError that says what to install, at once', () => {
      const script = `
        const t = require('tributary')
        class User extends t.Model {}
        t.Table('users')(User)
        t.Column({ primary: true })(User.prototype, 'id')
        const describe = (e) => ({ missing: t.isMissingDependencyError(e), name: e.name, packageName: e.packageName, message: e.message })
        const attempt = (fn) => { try { fn(); return undefined } catch (e) { return describe(e) } }
        ;(async () => {
          const started = Date.now()
          const model = await User.asyncCount().then(() => undefined, describe)
          const shard = attempt(() => User.acrossShards())
          // Each source's component retries up to 4 times; a missing package is not retried.
          const fetchWith = (source, options) => {
            class Config {}
            t.Component({ fetchFrom: 'it', type: Number, retry: { attempts: 4 }, ...options })(Config.prototype, 'one')
            return t.resolve(Config, { sources: { it: source } }).then(
              () => undefined,
              (e) => ({ ...describe(e.errors[0].cause), attempts: e.errors[0].attempts }),
            )
          }
          console.log(JSON.stringify({
            model,
            shard,
            database: await fetchWith(t.databaseSource(() => ({})), { query: 'select 1' }),
            consul: await fetchWith(t.consulSource({ host: '127.0.0.1', port: 1 }), { key: 'app/one' }),
            vault: await fetchWith(t.vaultSource({ endpoint: 'http://127.0.0.1:1', token: 'x' }), { key: 'secret/app', field: 'one' }),
            fast: Date.now() - started < 1000,
          }))
        })()`
      writeFileSync(join(bare, 'models.js'), script)
      const result = JSON.parse(runBare(['models.js'])) as Record<string, Record<string, unknown>>
      const kysely = {
        missing: true,
        name: 'MissingDependencyError',
        packageName: 'kysely',
        message: expect.stringContaining('npm install kysely'),
      }
      expect(result).toEqual({
        model: kysely,
        shard: kysely,
        database: { ...kysely, attempts: 1 },
        consul: {
          ...kysely,
          packageName: 'consul',
          message: expect.stringContaining('npm install consul'),
          attempts: 1,
        },
        vault: {
          ...kysely,
          packageName: 'node-vault',
          message: expect.stringContaining('npm install node-vault'),
          attempts: 1,
        },
        fast: true,
      })
    })

    it('runs the tributary command', () => {
      const bin = join(bare, 'node_modules', 'tributary', 'dist', 'cjs', 'cli', 'main.js')
      expect(runBare([bin, '--help'])).toMatch(/explain/)
    })
  })

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

  it('keeps its error guards and its no-retry logic in an esbuild --minify bundle, which renames every class', () => {
    writeFileSync(
      join(consumer, 'bundled.js'),
      `const t = require('tributary')
      class Settings {}
      t.Component({ fetchFrom: 'env', key: 'BUNDLED_UNSET_PORT', type: Number, retry: { attempts: 4 }, fallback: 3000 })(
        Settings.prototype,
        'port',
      )
      ;(async () => {
        const started = Date.now()
        const settings = await t.resolve(Settings, { sources: [t.envSource({ env: {} })] })
        const { origin, attempts } = t.explain(settings).port
        const elapsed = Date.now() - started
        const timedOut = await t.AsyncResult.from(() => new Promise(() => {})).waitWithTimeout(5).catch((e) => e)
        const cancelled = new t.AsyncCancelledError('load')
        console.log(JSON.stringify({
          renamed: t.AsyncTimeoutError.name !== 'AsyncTimeoutError',
          timeout: [timedOut.name, t.isAsyncTimeoutError(timedOut), t.isTributaryError(timedOut)],
          cancelled: [cancelled.name, t.isAsyncCancelledError(cancelled), t.isRetryableError(cancelled)],
          missing: t.isRetryableError(new t.MissingDependencyError('kysely', 'models')),
          fallback: { port: settings.port, origin, attempts, fast: elapsed < 500 },
        }))
      })()`,
    )
    // esbuild's own API in a child process (its bin may be a shim or the native binary).
    const build = {
      entryPoints: ['bundled.js'],
      bundle: true,
      minify: true,
      platform: 'node',
      logLevel: 'error',
      outfile: 'bundle.js',
      external: ['kysely', 'pg', 'better-sqlite3', 'consul', 'node-vault', 'ioredis'],
    }
    const esbuild = JSON.stringify(join(root, 'node_modules', 'esbuild'))
    run(process.execPath, ['-e', `require(${esbuild}).buildSync(${JSON.stringify(build)})`], consumer)
    expect(JSON.parse(run(process.execPath, ['bundle.js'], consumer))).toEqual({
      renamed: true,
      timeout: ['AsyncTimeoutError', true, true],
      cancelled: ['AsyncCancelledError', true, false],
      missing: false,
      fallback: { port: 3000, origin: 'fallback', attempts: 1, fast: true },
    })
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
