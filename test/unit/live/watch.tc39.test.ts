// Compiled with TC39 standard decorators (tsconfig.tc39.json): no design:type, so `type` is given.
import { Component, watch, type ComponentUpdate } from 'tributary'
import { describeUpdate, watchableMemory } from './watchable-memory'

class LiveTc39 {
  @Component({ fetchFrom: 'mem', key: 'on', type: Boolean }) on!: boolean
  @Component({ fetchFrom: 'mem', key: 'port', type: Number, condition: { component: 'on', equals: true } })
  port!: number
}

describe('watch() with TC39 standard decorators', () => {
  it('coerces with the given type and honours a condition', async () => {
    const mem = watchableMemory('mem', { on: 'false', port: '1' })
    const live = await watch(LiveTc39, { sources: [mem] })
    const heard: ComponentUpdate[] = []
    live.onUpdate((u) => heard.push(u))
    expect(live.watching).toEqual(['on'])
    mem.set('on', 'yes')
    await new Promise((resolve) => setImmediate(resolve))
    mem.set('port', '2')
    await new Promise((resolve) => setImmediate(resolve))
    expect(heard.map(describeUpdate)).toEqual(['updated on false→true', 'updated port 1→2'])
    expect(live.current.port).toBe(2)
    await live.stop()
  })
})
