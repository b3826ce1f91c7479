/**
 * `npm run demo` as a new user runs it: in a clean temporary copy of the repository, with no
 * TRIBUTARY_PG_URL / TRIBUTARY_REDIS_URL (so no server is used), and not on a terminal.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const root = join(__dirname, '..', '..')

describe('npm run demo', () => {
  let copy: string
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'tributary-demo-copy-'))
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
    for (const file of files) {
      mkdirSync(join(copy, dirname(file)), { recursive: true })
      try {
        copyFileSync(join(root, file), join(copy, file))
      } catch {
        // a file deleted in the working tree but not yet in git
      }
    }
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir')
  })
  afterAll(() => rmSync(copy, { recursive: true, force: true }))

  it('runs every capability with no server and names each one', () => {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.TRIBUTARY_PG_URL
    delete env.TRIBUTARY_REDIS_URL
    const run = spawnSync('npm', ['run', 'demo'], { cwd: copy, env, encoding: 'utf8', timeout: 120_000 })
    expect(run.stderr).not.toMatch(/Error|Warning/)
    expect(run.status).toBe(0)
    const out = run.stdout
    for (const title of ['Components', 'Live components', 'Models', 'Shards', 'Event bus', 'Query store']) {
      expect(out).toContain(`━━ ${title} ━━`)
    }
    expect(out).toMatch(/^apiKey\s+vault\s+secret\/data\/app\s+\*\*\*\s+source/m) // explain(), secret masked
    expect(out).not.toContain('sk-live-7f3a9c2e')
    expect(out).toMatch(/updated {2}logLevel {2}info → debug {2}\(file app\.yaml\)/) // the live update
    expect(out).toContain('on SQLite users.sqlite') // embedded default, no server
    expect(out).toMatch(/Σsum\/Σcount\); the mean of the three shard averages would say [\d.]+ — wrong/)
    expect(out).toMatch(/^mailer\s+10\s/m) // the rate-limited handler still handled every event
    expect(out).toMatch(/again: fresh, from the cache\s.*\s1$/m) // no second loader call
    expect(out).not.toContain('\u001b[') // no colour when not on a terminal
  }, 150_000)
})
