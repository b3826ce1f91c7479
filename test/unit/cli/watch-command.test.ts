import { updateLine } from '../../../src/cli/watch-command'
import { recordingIo, runCli } from './io'

const ticking = 'test/fixtures/cli/ticking-config.ts'

/** Aborts once the output holds `count` update lines (the fixture's source changes every 100 ms). */
function stopAfterUpdates(io: { stdout: () => string }, count: number, controller: AbortController) {
  const timer = setInterval(() => {
    if ((io.stdout().match(/ updated /g) ?? []).length >= count) controller.abort()
  }, 20)
  return () => clearInterval(timer)
}

describe('tributary watch', () => {
  it('prints the provenance table, then each update, and stops cleanly when interrupted', async () => {
    const controller = new AbortController()
    const io = recordingIo(controller.signal)
    const stop = stopAfterUpdates(io, 3, controller)
    let code = -1
    await jest.isolateModulesAsync(async () => {
      const { main } = require('../../../src/cli/main') as typeof import('../../../src/cli/main')
      code = await main(['watch', ticking], io)
    })
    stop()
    expect(code).toBe(0)
    const out = io.stdout()
    expect(out).toMatch(/^TickingConfig: 2 component\(s\)\n/)
    expect(out).toMatch(/^password\s+ticker\s+secret\s+\*\*\*\s+source/m)
    expect(out).toContain('watching 1 component(s): tick; Ctrl-C to stop\n')
    const updates = out.split('\n').filter((l) => l.includes(' updated '))
    expect(updates.length).toBeGreaterThanOrEqual(3)
    expect(updates[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}updated {2}tick {2}1 → 2 {2}\(ticker tick\)$/)
    expect(out.endsWith('stopped\n')).toBe(true)
    expect(out).not.toContain('hunter2')
  })

  it('prints one JSON object per update with --json', async () => {
    const controller = new AbortController()
    const io = recordingIo(controller.signal)
    const timer = setInterval(() => {
      if (io.stdout().split('\n').filter(Boolean).length >= 2) controller.abort()
    }, 20)
    await jest.isolateModulesAsync(async () => {
      const { main } = require('../../../src/cli/main') as typeof import('../../../src/cli/main')
      expect(await main(['watch', ticking, '--json'], io)).toBe(0)
    })
    clearInterval(timer)
    const [first] = io
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(first).toMatchObject({
      kind: 'updated',
      property: 'tick',
      oldValue: 1,
      newValue: 2,
      source: 'ticker',
    })
  })

  it('formats every kind of update, masking secrets as the update does', () => {
    const base = {
      property: 'port',
      source: 'consul',
      key: 'app/port',
      at: Date.UTC(2026, 0, 1, 12, 0, 0, 5),
      secret: false,
    }
    expect(updateLine({ ...base, kind: 'updated', oldValue: 1, newValue: 2 })).toBe(
      '12:00:00.005  updated  port  1 → 2  (consul app/port)',
    )
    expect(updateLine({ ...base, kind: 'added', newValue: { a: 1 } })).toBe(
      '12:00:00.005  added    port  → {"a":1}  (consul app/port)',
    )
    expect(updateLine({ ...base, kind: 'removed', oldValue: 2, newValue: 8080 })).toBe(
      '12:00:00.005  removed  port  2 → 8080  (consul app/port)',
    )
    expect(updateLine({ ...base, kind: 'error', error: new Error('consul: unavailable') })).toBe(
      '12:00:00.005  error    port  consul: unavailable  (consul app/port)',
    )
  })

  it.each([
    [['watch'], /missing <module>/],
    [['watch', ticking, 'extra'], /unexpected argument extra/],
    [['watch', ticking, '--class', 'Nope'], /exports no class Nope/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const io = await runCli(args)
    expect(io.code).toBe(2)
    expect(io.stderr).toMatch(message)
    expect(io.stderr).toContain('Usage: tributary watch')
  })

  it('exits 1 with the errors when the first resolution fails', async () => {
    const io = await runCli(['watch', 'test/fixtures/cli/broken-config.ts'])
    expect(io.code).toBe(1)
    expect(io.stderr).toContain('BrokenConfig: 2 component(s) failed to resolve')
  })
})
