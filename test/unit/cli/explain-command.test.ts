import { runCli } from './io'

const fixture = (name: string) => `test/fixtures/cli/${name}`

describe('tributary explain', () => {
  it('prints the provenance table with secrets masked and exits 0', async () => {
    const io = await runCli(['explain', fixture('app-config.ts')])
    const code = io.code

    expect(code).toBe(0)
    const lines = io.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('AppConfig: 3 component(s)')
    expect(lines[1]).toMatch(/^property\s+source\s+key\s+value\s+origin\s+ms\s+attempts$/)
    expect(lines[3]).toMatch(
      /^host\s+env\s+CLI_TEST_HOST\s+localhost\s+fallback \(env: variable CLI_TEST_HOST is not set\)/,
    )
    expect(lines[4]).toMatch(/^port\s+memory\s+app\/port\s+8080\s+source\s/)
    expect(lines[5]).toMatch(/^apiKey\s+memory\s+app\/key\s+\*\*\*\s+source\s/)
    // columns are aligned: every row starts its "source" cell at the same offset
    const at = lines[1]!.indexOf('source')
    for (const line of lines.slice(3)) expect(line.slice(at, at + 6)).toMatch(/^(env|memory)/)
    expect(io.stdout + io.stderr).not.toContain('s3cr3t-value')
  })

  it('prints JSON with --json, still masking the secret', async () => {
    const io = await runCli(['explain', fixture('app-config.ts'), '--json', '--class', 'AppConfig'])
    expect(io.code).toBe(0)
    const parsed = JSON.parse(io.stdout) as Record<string, { value: unknown; origin: string }>
    expect(parsed.port).toMatchObject({ value: 8080, origin: 'source' })
    expect(parsed.apiKey).toMatchObject({ value: '***' })
    expect(parsed.host).toMatchObject({ value: 'localhost', origin: 'fallback' })
  })

  it('exits 1 and prints every failure when components fail', async () => {
    const io = await runCli(['explain', fixture('broken-config.ts')])
    expect(io.code).toBe(1)
    expect(io.stderr).toContain('BrokenConfig: 2 component(s) failed to resolve')
    expect(io.stderr).toContain('BrokenConfig.db (source "flaky", key "db"): db is down')
    expect(io.stderr).toContain('BrokenConfig.cache (source "flaky", key "cache"): cache is down')
  })

  it.each([
    [['explain'], /missing <module>/],
    [['explain', 'no/such/module.ts'], /module not found: no\/such\/module\.ts/],
    [
      ['explain', fixture('app-config.ts'), '--class', 'Nope'],
      /exports no class Nope with @Component properties \(found: AppConfig\)/,
    ],
    [['explain', fixture('app-config.ts'), '--bogus'], /Unknown option '--bogus'/],
    [['explain', fixture('app-config.ts'), '--timeout', 'soon'], /--timeout must be a positive number/],
    [['frobnicate'], /unknown command: frobnicate/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const io = await runCli(args)
    expect(io.code).toBe(2)
    expect(io.stderr).toMatch(message)
    expect(io.stderr).toContain('Usage: tributary')
  })

  it('prints help and exits 0', async () => {
    const io = await runCli(['explain', '--help'])
    expect(io.code).toBe(0)
    expect(io.stdout).toContain('Usage: tributary explain <module>')
    const top = await runCli(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/Commands:\n\s+explain/)
  })
})
