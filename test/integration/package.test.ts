/**
 * The published package, as an application installs it: builds it and packs it once, then
 * unpacks that tarball into throwaway ESM, CommonJS, bundler and esbuild applications (their
 * node_modules hold the package's own dependencies and, per case, links to the optional peers
 * from this checkout: no registry) and runs them: no driver installed, each driver alone, an
 * ESM application's own Kysely in `Model.use`, minified bundles, and the `tributary` command on
 * `.ts`, `.mts`, `.cts`, `.js`, `.mjs` and `.cjs` configs in ESM and CommonJS projects. The
 * tarball passes `@arethetypeswrong/cli` and `publint --strict`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const root = join(__dirname, '..', '..')
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const cleanEnv = { ...process.env, NODE_PATH: '', NODE_OPTIONS: '', TS_NODE_PROJECT: '' }

const run = (cmd: string, args: readonly string[], cwd = root): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv })

/** Runs and returns exit code and output, for commands expected to fail. */
const attempt = (cmd: string, args: readonly string[], cwd: string): { code: number | null; out: string } => {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv })
  return { code: result.status, out: `${result.stdout}${result.stderr}` }
}

/** The package's own dependencies and theirs (p-limit's yocto-queue). */
const DEPENDENCIES = ['reflect-metadata', 'yaml', 'cockatiel', 'p-limit', 'yocto-queue']
/** The optional peers tributary itself loads on first use. */
const DRIVERS = ['kysely', 'pg', 'better-sqlite3', 'consul', 'node-vault', 'ioredis']

let work: string
let tarball: string

/**
 * A throwaway application `name` whose package.json has `type`, with the packed tarball
 * unpacked as node_modules/tributary and links to `peers` from this checkout.
 */
function application(
  name: string,
  type: 'module' | 'commonjs',
  peers: readonly string[] = [],
  files: Readonly<Record<string, string>> = {},
): string {
  const dir = join(work, name)
  const installed = join(dir, 'node_modules', 'tributary')
  mkdirSync(installed, { recursive: true })
  run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'])
  for (const dependency of [...DEPENDENCIES, ...peers]) {
    const target = join(dir, 'node_modules', dependency)
    mkdirSync(dirname(target), { recursive: true })
    symlinkSync(join(root, 'node_modules', dependency), target, 'dir')
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }))
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text)
  return dir
}

beforeAll(() => {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')])
  work = realpathSync(mkdtempSync(join(tmpdir(), 'tributary-package-')))
  const [packed] = JSON.parse(
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work]),
  ) as Array<{ filename: string }>
  tarball = join(work, packed!.filename)
}, 120_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('the tarball', () => {
  let installed: string

  beforeAll(() => {
    installed = join(application('contents', 'commonjs'), 'node_modules', 'tributary')
  })

  it('holds both entry points with per-format declarations, the licence, and no sources or tests', () => {
    const files = readdirSync(installed, { recursive: true, encoding: 'utf8' })
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/cjs/cli/main.js',
        'dist/esm/index.mjs',
        'dist/esm/index.d.mts',
        'dist/esm/model/model.d.mts',
      ]),
    )
    expect(files.filter((f) => /^(src|test)\//.test(f) || f.endsWith('.d.ts.map'))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      repository?: { url?: string }
    }
    expect(manifest.repository?.url).toMatch(/^git\+https:\/\//)
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
  })

  it('has source maps that carry their sources, since src/ is not shipped', () => {
    const maps = readdirSync(installed, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.js.map'),
    )
    expect(maps.length).toBeGreaterThan(50)
    const incomplete = maps.filter((file) => {
      const map = JSON.parse(readFileSync(join(installed, file), 'utf8')) as {
        sources: string[]
        sourcesContent?: Array<string | null>
      }
      return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((s) => !s)
    })
    expect(incomplete).toEqual([])
  })

  it('passes @arethetypeswrong/cli and publint --strict', () => {
    const report = JSON.parse(
      attempt(bin('attw'), [tarball, '--format', 'json'], work).out.replace(/^[^{]*/, ''),
    ) as { problems: Record<string, unknown> }
    expect(report.problems).toEqual({})
    expect(attempt(bin('publint'), ['run', tarball, '--strict'], work)).toMatchObject({ code: 0 })
  })
})

describe('installed without any optional peer dependency', () => {
  let bare: string
  const node = (args: string[]): string => run(process.execPath, args, bare)

  beforeAll(() => {
    bare = application('bare', 'commonjs', [], { 'settings.yaml': 'name: bare\n' })
  })

  it('loads with require and import, sharing one implementation, and resolves env and file components', () => {
    writeFileSync(
      join(bare, 'components.js'),
      `const t = require('tributary')
      const missing = (name) => { try { require.resolve(name); return false } catch { return true } }
      class Settings {}
      t.Component({ fetchFrom: 'env', key: 'BARE_PORT', type: Number })(Settings.prototype, 'port')
      t.Component({ fetchFrom: 'file', key: 'settings.yaml', field: 'name', type: String })(Settings.prototype, 'name')
      import('tributary').then(async (esm) => {
        const s = await t.resolve(Settings, {
          sources: [t.envSource({ env: { BARE_PORT: '8080' } }), t.fileSource({ baseDir: __dirname })],
        })
        console.log(JSON.stringify({
          drivers: ${JSON.stringify(DRIVERS)}.every(missing),
          port: s.port,
          name: s.name,
          same: esm.resolve === t.resolve && esm.AsyncResult === t.AsyncResult,
          guard: t.isAsyncTimeoutError(new esm.AsyncTimeoutError('x', 1)),
          keys: Object.keys(t).filter((k) => k !== '__esModule').length === Object.keys(esm).length,
        }))
      })`,
    )
    expect(JSON.parse(node(['components.js']))).toEqual({
      drivers: true,
      port: 8080,
      name: 'bare',
      same: true,
      guard: true,
      keys: true,
    })
  })

  it('fails a model, shard, Consul or Vault call with a MissingDependencyError that says what to install, at once', () => {
    writeFileSync(join(bare, 'features.js'), FEATURES_SCRIPT)
    const kysely = missingPackage('kysely')
    expect(JSON.parse(node(['features.js']))).toEqual({
      model: kysely,
      shard: kysely,
      database: { ...kysely, attempts: 1 },
      consul: { ...missingPackage('consul'), attempts: 1 },
      vault: { ...missingPackage('node-vault'), attempts: 1 },
      fast: true,
    })
  })

  it('runs the tributary command on JavaScript, and says to install tsx for a TypeScript config', () => {
    const cli = join(bare, 'node_modules', 'tributary', 'dist', 'cjs', 'cli', 'main.js')
    expect(node([cli, '--help'])).toMatch(/explain/)
    // No decorators, so that Node's own type stripping (where it exists) can load it too.
    writeFileSync(
      join(bare, 'config.ts'),
      `import { Component, envSource } from 'tributary'
      export class Settings { port!: number }
      Component({ fetchFrom: 'env', key: 'PORT', type: Number })(Settings.prototype, 'port')
      export const sources = [envSource({ env: { PORT: '8125' } })]\n`,
    )
    const result = attempt(process.execPath, [cli, 'explain', 'config.ts', '--json'], bare)
    if ((process.features as { typescript?: unknown }).typescript) {
      expect(result.code).toBe(0)
      expect(JSON.parse(result.out)).toMatchObject({ port: { value: 8125 } })
    } else {
      expect(result).toEqual({ code: 2, out: expect.stringContaining('npm install -D tsx') })
    }
  })
})

describe('installed with one optional peer alone', () => {
  const features = { kysely: ['model', 'shard', 'database'], consul: ['consul'], 'node-vault': ['vault'] }

  it.each(Object.entries(features))(
    '%s: its features load it, the others still name what is missing',
    (peer, own) => {
      const dir = application(`only-${peer}`, 'commonjs', [peer], { 'features.js': FEATURES_SCRIPT })
      const result = JSON.parse(run(process.execPath, ['features.js'], dir)) as Record<string, unknown>
      for (const [feature, outcome] of Object.entries(result)) {
        if (feature === 'fast') continue
        if (own.includes(feature))
          expect([feature, outcome]).not.toEqual([feature, expect.objectContaining({ missing: true })])
        else
          expect([feature, outcome]).toEqual([
            feature,
            expect.objectContaining({ missing: true, name: 'MissingDependencyError' }),
          ])
      }
    },
  )
})

describe('an application passing its own Kysely', () => {
  // Model.use, ShardManager and databaseSource take the application's Kysely: under ESM
  // resolution that is kysely's ESM class, whose #private members make it nominal.
  const app = `import { Kysely, SqliteDialect } from 'kysely'
import Database from 'better-sqlite3'
import { Column, Model, ShardManager, Table, databaseSource, resolve, Component } from 'tributary'

interface DB { users: { id: number; name: string } }
const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })

@Table('users')
class User extends Model {
  @Column({ primary: true }) declare id: number
  @Column() declare name: string
}

class Settings {
  // type given: esbuild (the bundler case) emits no design:type.
  @Component({ fetchFrom: 'db', query: 'select name from users where id = 1', type: String }) declare owner: string
}

User.use(db)
const shards = new ShardManager({ a: db, b: db })

async function main(): Promise<void> {
  await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
  await db.insertInto('users').values([{ id: 1, name: 'ada' }, { id: 2, name: 'bob' }]).execute()
  const count: number = await User.asyncCount()
  const settings = await resolve(Settings, { sources: { db: databaseSource(db) } })
  console.log(JSON.stringify({ count, shards: shards.names.length, owner: settings.owner }))
  await db.destroy()
}
void main()
`
  const misuse = `import { AsyncResult, Model } from 'tributary'
export const n: string = AsyncResult.resolve(1)
Model.use(42)
`
  const internal = `import type { QueryHandleHost, MutationHost, EntryOptions, EntryMatcher } from 'tributary'
export type All = [QueryHandleHost, MutationHost, EntryOptions<1>, EntryMatcher]
`
  const settings = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    bundler: { module: 'preserve', moduleResolution: 'bundler' },
  }
  // The last column: also check every declaration file (skipLibCheck off), once per
  // declaration set (.d.mts, .d.ts); checking @types/node too makes that the slow part.
  const cases = [
    ['an ESM application (NodeNext, "type": "module")', 'module', 'nodenext', 'ts', false],
    ['an ESM file in a CommonJS application (NodeNext, .mts)', 'commonjs', 'nodenext', 'mts', true],
    ['a CommonJS application (NodeNext)', 'commonjs', 'nodenext', 'ts', true],
    ['a bundler application (moduleResolution bundler)', 'module', 'bundler', 'ts', false],
  ] as const

  it.each(cases)(
    '%s type-checks against the declarations for its format, and runs',
    (_, type, setting, ext, libCheck) => {
      const dir = application(
        `kysely-${type}-${setting}-${ext}`,
        type,
        ['kysely', 'better-sqlite3', '@types/node', '@types/better-sqlite3'],
        {
          [`app.${ext}`]: app,
          [`misuse.${ext}`]: misuse,
          [`internal.${ext}`]: internal,
        },
      )
      const compilerOptions = {
        ...settings[setting],
        target: 'es2022',
        strict: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        skipLibCheck: !libCheck,
        types: ['node'],
        outDir: 'out',
        rootDir: '.',
        ...(setting === 'bundler' ? { noEmit: true } : {}),
      }
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions, files: [`app.${ext}`, `misuse.${ext}`, `internal.${ext}`] }),
      )
      const errors = attempt(process.execPath, [tsc, '-p', '.'], dir)
        .out.split('\n')
        .filter((line) => /error TS/.test(line))
      // The app fits tributary's declarations (and, with libCheck, they all type-check).
      expect(errors.filter((line) => !/^(misuse|internal)\./.test(line))).toEqual([])
      expect(errors.filter((line) => line.startsWith('misuse.'))).toEqual([
        expect.stringMatching(/\(2,14\): error TS2322/),
        expect.stringMatching(/\(3,11\): error TS2345/),
      ])
      // @internal declarations are not shipped.
      const internals = errors.filter((line) => line.startsWith('internal.')).join('\n')
      for (const name of ['QueryHandleHost', 'MutationHost', 'EntryOptions', 'EntryMatcher'])
        expect(internals).toMatch(new RegExp(`has no exported member (named )?'${name}'`))
      // tsc emits despite the misuse errors (noEmitOnError is off): out/app.js is the app.

      let output: string
      if (setting === 'bundler') {
        const build = {
          entryPoints: [`app.${ext}`],
          bundle: true,
          platform: 'node',
          format: 'cjs',
          logLevel: 'error',
          outfile: 'bundle.cjs',
          external: DRIVERS,
        }
        const esbuild = JSON.stringify(join(root, 'node_modules', 'esbuild'))
        run(process.execPath, ['-e', `require(${esbuild}).buildSync(${JSON.stringify(build)})`], dir)
        output = run(process.execPath, ['bundle.cjs'], dir)
      } else {
        output = run(process.execPath, [join('out', `app.${ext === 'mts' ? 'mjs' : 'js'}`)], dir)
      }
      expect(JSON.parse(output)).toEqual({ count: 2, shards: 2, owner: 'ada' })
    },
  )
})

describe('an esbuild --minify bundle, which renames every class', () => {
  const script = (importLine: string): string => `${importLine}
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
      class User extends t.Model {}
      t.Table('users')(User)
      t.Column({ primary: true })(User.prototype, 'id')
      const missing = await User.asyncCount().catch((e) => e)
      console.log(JSON.stringify({
        renamed: t.AsyncTimeoutError.name !== 'AsyncTimeoutError',
        timeout: [timedOut.name, t.isAsyncTimeoutError(timedOut), t.isTributaryError(timedOut)],
        cancelled: [cancelled.name, t.isAsyncCancelledError(cancelled), t.isRetryableError(cancelled)],
        missing: [t.isMissingDependencyError(missing), missing.packageName, t.isRetryableError(missing)],
        fallback: { port: settings.port, origin, attempts, fast: elapsed < 500 },
      }))
    })()`

  it.each([
    ['a CommonJS entry', "const t = require('tributary')"],
    ['an ESM entry', "import * as t from 'tributary'"],
  ])(
    'from %s keeps its error guards, its missing-driver errors and its no-retry fallback',
    (_, importLine) => {
      const dir = application(`bundle-${importLine.startsWith('import') ? 'esm' : 'cjs'}`, 'commonjs', [], {
        'entry.mjs': script(importLine),
      })
      // esbuild's own API in a child process (its bin may be a shim or the native binary).
      const build = {
        entryPoints: ['entry.mjs'],
        bundle: true,
        minify: true,
        platform: 'node',
        format: 'cjs',
        logLevel: 'error',
        outfile: 'bundle.js',
        external: DRIVERS,
      }
      const esbuild = JSON.stringify(join(root, 'node_modules', 'esbuild'))
      run(process.execPath, ['-e', `require(${esbuild}).buildSync(${JSON.stringify(build)})`], dir)
      expect(JSON.parse(run(process.execPath, ['bundle.js'], dir))).toEqual({
        renamed: true,
        timeout: ['AsyncTimeoutError', true, true],
        cancelled: ['AsyncCancelledError', true, false],
        missing: [true, 'kysely', false],
        fallback: { port: 3000, origin: 'fallback', attempts: 1, fast: true },
      })
    },
  )
})

describe('the tributary command on a config in each module system', () => {
  const decorated = `import { Component, envSource } from 'tributary'
export class Settings {
  @Component({ fetchFrom: 'env', key: 'PORT', type: Number }) port!: number
}
export const sources = [envSource({ env: { PORT: '8125' } })]
`
  const esm = `import { Component, envSource } from 'tributary'
export class Settings {}
Component({ fetchFrom: 'env', key: 'PORT', type: Number })(Settings.prototype, 'port')
export const sources = [envSource({ env: { PORT: '8125' } })]
`
  const cjs = `const { Component, envSource } = require('tributary')
class Settings {}
Component({ fetchFrom: 'env', key: 'PORT', type: Number })(Settings.prototype, 'port')
module.exports = { Settings, sources: [envSource({ env: { PORT: '8125' } })] }
`
  // The user's tsconfig.json: NodeNext for one project, bundler resolution for the other.
  const projects = {
    module: {
      compilerOptions: { module: 'preserve', moduleResolution: 'bundler', experimentalDecorators: true },
      files: { ts: decorated, mts: decorated, cts: decorated, js: esm, mjs: esm, cjs },
    },
    commonjs: {
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', experimentalDecorators: true },
      files: { ts: decorated, mts: decorated, cts: decorated, js: cjs, mjs: esm, cjs },
    },
  }
  const cases = Object.entries(projects).flatMap(([type, project]) =>
    Object.keys(project.files).map((ext) => [type as keyof typeof projects, ext] as const),
  )
  const dirs = new Map<string, string>()
  const project = (type: keyof typeof projects): string => {
    let dir = dirs.get(type)
    if (dir === undefined) {
      const { compilerOptions, files } = projects[type]
      dir = application(`cli-${type}`, type, ['tsx'], {
        'tsconfig.json': JSON.stringify({ compilerOptions }),
        ...Object.fromEntries(Object.entries(files).map(([ext, text]) => [`config.${ext}`, text])),
      })
      dirs.set(type, dir)
    }
    return dir
  }

  it.each(cases)('a "type": "%s" project loads config.%s', (type, ext) => {
    const dir = project(type)
    const cli = join(dir, 'node_modules', 'tributary', 'dist', 'cjs', 'cli', 'main.js')
    const output = run(process.execPath, [cli, 'explain', `config.${ext}`, '--json'], dir)
    expect(JSON.parse(output)).toMatchObject({ port: { value: 8125, source: 'env', origin: 'source' } })
  })
})

/**
 * What each feature that needs an optional peer does when called: a MissingDependencyError's
 * name, package and message, or another failure's name; with how many attempts a component
 * took (a missing package is not retried).
 */
const FEATURES_SCRIPT = `
const t = require('tributary')
class User extends t.Model {}
t.Table('users')(User)
t.Column({ primary: true })(User.prototype, 'id')
const describe = (e) => ({ missing: t.isMissingDependencyError(e), name: e.name, packageName: e.packageName, message: e.message })
const attempt = (fn) => { try { fn(); return 'ok' } catch (e) { return describe(e) } }
;(async () => {
  const started = Date.now()
  const model = await User.asyncCount().then(() => 'ok', describe)
  const shard = attempt(() => User.acrossShards())
  const fetchWith = (source, options) => {
    class Config {}
    t.Component({ fetchFrom: 'it', type: Number, retry: { attempts: 4, initialDelay: 1 }, ...options })(Config.prototype, 'one')
    return t.resolve(Config, { sources: { it: source } }).then(
      () => 'ok',
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

function missingPackage(name: string): Record<string, unknown> {
  return {
    missing: true,
    name: 'MissingDependencyError',
    packageName: name,
    message: expect.stringContaining(`npm install ${name}`),
  }
}
