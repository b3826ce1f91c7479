// Issue 16, "Shown by": one marker secret is planted in Vault (a secret's field and a source's
// token), in a database URL, in an HTTP URL (base and key) and in a validate message; every
// failure path runs, the CLI runs (explain, explain --json, watch, a failing explain), and
// util.inspect / JSON of every object handed out is taken: the marker is found nowhere.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { explain, isComponentResolutionError, resolve, watch, type ComponentUpdate } from 'tributary'
import { main } from '../../src/cli/main'
import { startVaultDouble, type VaultDouble } from '../support/vault-double'
import { recordingIo } from '../unit/cli/io'

const MARKER = 'mrk9f4c2e71zq'
const root = join(__dirname, '..', '..')

/** Fails naming where `marker` shows in `text` (a little context around each place). */
function expectNowhere(text: string, marker: string): void {
  const places: string[] = []
  for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 1)) {
    places.push(text.slice(Math.max(0, at - 120), at + marker.length + 40))
  }
  expect(places).toEqual([])
}

/** Every way a value can be shown: inspect (default, deep, hidden), JSON, String, stack. */
function shown(value: unknown): string {
  const texts = [
    inspect(value),
    inspect(value, { depth: Infinity, showHidden: true, getters: true }),
    String(value),
  ]
  try {
    texts.push(JSON.stringify(value) ?? '')
  } catch (error) {
    texts.push(String(error))
  }
  if (value instanceof Error) texts.push(value.stack ?? '', value.message)
  return texts.join('\n')
}

/** An error and everything it holds: its `errors`, `cause` chain, and the same for each. */
function everyError(error: unknown, seen = new Set<unknown>()): unknown[] {
  if (error === null || typeof error !== 'object' || seen.has(error)) return []
  seen.add(error)
  const nested = [...((error as { errors?: unknown[] }).errors ?? []), (error as { cause?: unknown }).cause]
  return [error, ...nested.flatMap((e) => everyError(e, seen))]
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function run(args: string[], env: NodeJS.ProcessEnv, stopWhen?: (out: string) => boolean) {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'src/cli/main.ts', ...args],
    {
      cwd: root,
      env: { ...process.env, ...env, NO_COLOR: '1' },
    },
  )
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const started = Date.now()
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (process.env.H16_TIMING) console.log(args.join(' '), Date.now() - started)
      resolve(code)
    }),
  )
  if (stopWhen) {
    const poll = setInterval(() => {
      if (stopWhen(out)) {
        clearInterval(poll)
        child.kill('SIGINT')
      }
    }, 50)
    void exited.then(() => clearInterval(poll))
  }
  return exited.then((code) => ({ code, out }))
}

describe('the marker secret is shown nowhere (issue 16)', () => {
  let vault: VaultDouble
  let fixture: typeof import('../fixtures/cli/secret-marker')
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    vault = await startVaultDouble()
    vault.setSecret('secret/app', { password: MARKER, user: 'app' })
    env = { MARKER, MARKER_VAULT_URL: vault.url, MARKER_VAULT_TOKEN: vault.token }
    Object.assign(process.env, env)
    fixture = require('../fixtures/cli/secret-marker') as typeof import('../fixtures/cli/secret-marker')
  })
  afterAll(async () => {
    for (const name of Object.keys(env)) delete process.env[name]
    await vault?.close()
  })

  it('the planted values are really read (the test can fail)', async () => {
    const config = await resolve(fixture.MarkerConfig, { sources: fixture.sources })
    expect(config.vaultPassword).toBe(MARKER)
    expect(config.databaseUrl).toContain(MARKER)
  })

  it('a resolved instance, explain() and the live handle, its updates and snapshot', async () => {
    const config = await resolve(fixture.MarkerConfig, { sources: fixture.sources })
    const live = await watch(fixture.MarkerConfig, { sources: fixture.sources })
    const updates: ComponentUpdate[] = []
    live.onUpdate((u) => updates.push(u))
    vault.setSecret('secret/app', { password: `${MARKER}-2`, user: 'app' })
    const text = [
      config,
      explain(config),
      live,
      live.current,
      live.snapshot(),
      explain(live.current),
      updates,
    ]
      .map(shown)
      .join('\n')
    await live.stop()
    expect(text).toContain('db.internal')
    expectNowhere(text, MARKER)
  })

  it('every failure: the resolution error, each component error and every cause', async () => {
    const error = await resolve(fixture.MarkerBroken, { sources: fixture.sources, timeout: 5_000 }).catch(
      (e: unknown) => e,
    )
    expect(isComponentResolutionError(error)).toBe(true)
    const all = everyError(error)
    const failed = ((error as { errors: Array<{ property: string }> }).errors ?? [])
      .map((e) => e.property)
      .sort()
    expect(failed).toEqual(['apiToken', 'feature', 'other', 'probe', 'refused', 'remote', 'vaultPassword'])
    const text = all.map(shown).join('\n')
    expectNowhere(text, MARKER)
    // The messages still say what went wrong.
    expect(text).toMatch(/revoked/)
    expect(text).toMatch(/cannot open/)
  })

  it('the CLI in-process: explain, explain --json, a failing explain (text and --json), watch', async () => {
    const module = 'test/fixtures/cli/secret-marker.ts'
    const outputs: string[] = []
    const codes: number[] = []
    for (const args of [
      ['explain', module, '--class', 'MarkerConfig'],
      ['explain', module, '--class', 'MarkerConfig', '--json'],
      ['explain', module, '--class', 'MarkerBroken'],
      ['explain', module, '--class', 'MarkerBroken', '--json'],
    ]) {
      const io = recordingIo()
      codes.push(await main(args, io))
      outputs.push(io.stdout() + io.stderr())
    }
    // watch: the secret changes in Vault while watching, then Ctrl-C.
    const controller = new AbortController()
    const io = recordingIo(controller.signal)
    const watching = main(['watch', module, '--class', 'MarkerConfig'], io)
    await until(() => /watching 3 component/.test(io.stdout()))
    vault.setSecret('secret/app', { password: `${MARKER}-3`, user: 'app' })
    await until(() => /vaultPassword/.test(io.stdout().split('watching 3')[1] ?? ''))
    controller.abort()
    codes.push(await watching)
    outputs.push(io.stdout() + io.stderr())
    expect(codes).toEqual([0, 0, 1, 1, 0])
    for (const out of outputs) expectNowhere(out, MARKER)
    expect(outputs[0]).toMatch(/vaultPassword +vault +secret\/data\/app +\*\*\*/)
    expect(outputs[2]).toMatch(/apiToken/)
  })

  it('the tributary process: a failing explain --json', async () => {
    const { code, out } = await run(
      ['explain', 'test/fixtures/cli/secret-marker.ts', '--class', 'MarkerBroken', '--json'],
      env,
    )
    expect(code).toBe(1)
    expect(out).toMatch(/revoked/)
    expectNowhere(out, MARKER)
  }, 120_000)
})
