// Issue "Hardening", defect 3: every object `watch()` hands out masks a secret component in
// util.inspect (any depth) and JSON: the handle, `current`, `snapshot()` and each update.
import { inspect } from 'node:util'
import { Component, watch } from 'tributary'
import { watchableMemory } from './watchable-memory'

const MARKER = 'sk-MARKER-4242'

class Secrets {
  @Component({ fetchFrom: 'mem', key: 'token', secret: true }) token!: string
  @Component({ fetchFrom: 'mem', key: 'host' }) host!: string
}

describe('watch() never shows a secret value', () => {
  it('in util.inspect and JSON of the handle, current, snapshot() and updates', async () => {
    const mem = watchableMemory('mem', { token: MARKER, host: 'db.internal' })
    const live = await watch(Secrets, { sources: [mem] })
    const heard: unknown[] = []
    live.onUpdate((u) => heard.push(u))
    mem.set('token', `${MARKER}-2`)
    mem.set('host', 'db2.internal')
    expect(live.current.token).toBe(`${MARKER}-2`)
    const shown = [live, live.current, live.snapshot(), heard]
      .flatMap((o) => [
        inspect(o),
        inspect(o, { depth: Infinity, showHidden: true }),
        JSON.stringify(o) ?? '',
      ])
      .join('\n')
    expect(shown).not.toContain('MARKER')
    expect(inspect(live)).toMatch(/^LiveComponents<Secrets> \{/)
    expect(inspect(live)).toMatch(/db2\.internal/)
    expect(JSON.parse(JSON.stringify(live))).toMatchObject({ className: 'Secrets', stopped: false })
    await live.stop()
  })
})
