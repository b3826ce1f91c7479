import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import {
  Component,
  explain,
  fileSource,
  isSourceError,
  isSourceNotFoundError,
  isSourcePermissionError,
  resolve,
} from 'tributary'
import { context, request } from './request'

let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-file-source-'))
  const write = (name: string, text: string): void => {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  write(
    'app.json',
    JSON.stringify({ server: { port: 8080, hosts: ['a.internal', 'b.internal'] }, debug: false }),
  )
  write(
    'config/app.yaml',
    ['server:', '  port: 9090', '  tls: true', 'features:', '  - search', '  - billing', 'owner: ops'].join(
      '\n',
    ),
  )
  write('config/alt.yml', 'level: warn\n')
  write('.env', '# comment\nDB_URL=postgres://db/app\nQUOTED="two words"\n')
  write('.env.local', 'DB_URL=postgres://localhost/app\n')
  write('service.env', 'TOKEN=abc\n')
  write('motd.txt', 'hello\n')
  write('broken.json', '{"password": "hunter2", oops}')
  write('broken.yaml', 'password: hunter2\nkey: "unterminated\n')
  mkdirSync(join(dir, 'a-directory.json'))
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('fileSource', () => {
  it('is named file (or as told) and applies fields itself', () => {
    expect(fileSource().name).toBe('file')
    expect(fileSource({ name: 'disk' }).name).toBe('disk')
    expect(fileSource().appliesField).toBe(true)
  })

  it('parses JSON by extension: the whole document, or a dotted field with array indexes', async () => {
    const source = fileSource({ baseDir: dir })
    expect(await source.fetch(request({ key: 'app.json' }), context())).toEqual({
      server: { port: 8080, hosts: ['a.internal', 'b.internal'] },
      debug: false,
    })
    expect(await source.fetch(request({ key: 'app.json', field: 'server.port' }), context())).toBe(8080)
    expect(await source.fetch(request({ key: 'app.json', field: 'server.hosts.1' }), context())).toBe(
      'b.internal',
    )
    expect(await source.fetch(request({ key: 'app.json', field: 'debug' }), context())).toBe(false)
  })

  it('parses YAML (.yaml and .yml)', async () => {
    const source = fileSource({ baseDir: dir })
    expect(await source.fetch(request({ key: 'config/app.yaml', field: 'server.port' }), context())).toBe(
      9090,
    )
    expect(await source.fetch(request({ key: 'config/app.yaml', field: 'features' }), context())).toEqual([
      'search',
      'billing',
    ])
    expect(await source.fetch(request({ key: 'config/alt.yml', field: 'level' }), context())).toBe('warn')
  })

  it('parses .env, .env.* and *.env files', async () => {
    const source = fileSource({ baseDir: dir })
    expect(await source.fetch(request({ key: '.env' }), context())).toEqual({
      DB_URL: 'postgres://db/app',
      QUOTED: 'two words',
    })
    expect(await source.fetch(request({ key: '.env', field: 'QUOTED' }), context())).toBe('two words')
    expect(await source.fetch(request({ key: '.env.local', field: 'DB_URL' }), context())).toBe(
      'postgres://localhost/app',
    )
    expect(await source.fetch(request({ key: 'service.env', field: 'TOKEN' }), context())).toBe('abc')
  })

  it('returns other files as text', async () => {
    expect(await fileSource({ baseDir: dir }).fetch(request({ key: 'motd.txt' }), context())).toBe('hello\n')
  })

  it('resolves a relative key against baseDir, else the working directory; an absolute key as is', async () => {
    const fromCwd = relative(process.cwd(), join(dir, 'config', 'alt.yml'))
    expect(await fileSource().fetch(request({ key: fromCwd, field: 'level' }), context())).toBe('warn')
    const elsewhere = fileSource({ baseDir: join(dir, 'config') })
    expect(await elsewhere.fetch(request({ key: 'alt.yml', field: 'level' }), context())).toBe('warn')
    expect(await elsewhere.fetch(request({ key: '../app.json', field: 'server.port' }), context())).toBe(8080)
    expect(
      await elsewhere.fetch(request({ key: join(dir, 'app.json'), field: 'server.port' }), context()),
    ).toBe(8080)
  })

  it('a missing file or field is a SourceNotFoundError naming it', async () => {
    const source = fileSource({ baseDir: dir })
    const noFile = await source.fetch(request({ key: 'nope.json' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(noFile)).toBe(true)
    expect(noFile).toMatchObject({
      source: 'file',
      key: 'nope.json',
      message: 'file: file nope.json not found',
    })
    const noField = await source
      .fetch(request({ key: 'app.json', field: 'server.tls' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(noField)).toBe(true)
    expect((noField as Error).message).toBe('file: field "server.tls" not found in "app.json"')
  })

  it('a parse error names the file and position, never the content', async () => {
    const source = fileSource({ baseDir: dir })
    const json = await source.fetch(request({ key: 'broken.json' }), context()).catch((e: unknown) => e)
    expect(isSourceError(json)).toBe(true)
    expect((json as Error).message).toMatch(/^file: broken\.json is not valid JSON \(at position \d+\)$/)
    const yaml = await source.fetch(request({ key: 'broken.yaml' }), context()).catch((e: unknown) => e)
    expect(isSourceError(yaml)).toBe(true)
    expect((yaml as Error).message).toMatch(/^file: broken\.yaml is not valid YAML \(line \d+, column \d+\)/)
    for (const error of [json, yaml]) {
      expect(String((error as Error).message)).not.toContain('hunter2')
      expect(JSON.stringify(error)).not.toContain('hunter2')
    }
  })

  it('another read error names the file and its code', async () => {
    const error = await fileSource({ baseDir: dir })
      .fetch(request({ key: 'a-directory.json' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(error)).toBe(true)
    expect(isSourceNotFoundError(error)).toBe(false)
    expect((error as Error).message).toBe('file: cannot read a-directory.json (EISDIR)')
  })

  it('an unreadable file is a SourcePermissionError', async () => {
    const path = join(dir, 'secret.json')
    writeFileSync(path, '{}', { mode: 0o000 })
    if (process.getuid?.() !== 0) {
      const error = await fileSource()
        .fetch(request({ key: path }), context())
        .catch((e: unknown) => e)
      expect(isSourcePermissionError(error)).toBe(true)
      return
    }
    // root reads any file whatever its mode: read it from a child process running as nobody.
    chmodSync(dir, 0o755)
    const script = `
      const { fileSource, isSourcePermissionError } = require('./src')
      fileSource().fetch({ className: 'C', property: 'p', key: ${JSON.stringify(path)}, secret: false },
        { signal: new AbortController().signal, attempt: 0, resolved: {} })
        .then(() => console.log('read'), (e) => console.log(isSourcePermissionError(e) ? 'permission' : e.name + ': ' + e.message))`
    const child = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: join(__dirname, '..', '..', '..'),
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { ...process.env, HOME: tmpdir() },
    })
    expect(child.stderr).toBe('')
    expect(child.stdout.trim()).toBe('permission')
  })

  it('rejects with the reason when the signal has aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(
      fileSource({ baseDir: dir }).fetch(request({ key: 'app.json' }), context(controller.signal)),
    ).rejects.toThrow('stop')
  })

  it('resolves a class from a YAML file, with coercion and explain', async () => {
    class Server {
      @Component({ fetchFrom: 'file', key: 'config/app.yaml', field: 'server.port' }) port!: number
      @Component({ fetchFrom: 'file', key: 'config/app.yaml', field: 'server.tls' }) tls!: boolean
      @Component({ fetchFrom: 'file', key: 'config/app.yaml', field: 'features' }) features!: string[]
      @Component({ fetchFrom: 'file', key: '.env', field: 'DB_URL' }) databaseUrl!: URL
    }
    const config = await resolve(Server, { sources: [fileSource({ baseDir: dir })] })
    expect(config).toMatchObject({ port: 9090, tls: true, features: ['search', 'billing'] })
    expect(config.databaseUrl.host).toBe('db')
    expect(explain(config).port).toMatchObject({ source: 'file', key: 'config/app.yaml', origin: 'source' })
  })
})
