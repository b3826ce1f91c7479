// Components: (1) 50 components each taking 20 ms — resolve's wall time against the slowest
// single fetch (and against the sum); (2) 50 components from an in-memory source — resolve
// against a hand-written Promise.all that assigns the same values.
import 'reflect-metadata'
import { Component } from '../src/components/decorator'
import { resolve } from '../src/components/resolver'
import type { ComponentSource } from '../src/sources/source'
import { compare, measure, report } from './support/harness'

const COUNT = 50
const keys = Array.from({ length: COUNT }, (_, i) => `key${i}`)
const values: Record<string, string> = Object.fromEntries(keys.map((k, i) => [k, String(i)]))

// A class with 50 numeric components, built without writing 50 lines.
class Fifty {
  [property: string]: number
}
for (const key of keys) Component({ fetchFrom: 'src', key, type: Number })(Fifty.prototype, key)

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const slowSource: ComponentSource = {
  name: 'src',
  fetch: async (request) => {
    await sleep(20)
    return values[request.key as string]
  },
}
const memorySource: ComponentSource = {
  name: 'src',
  fetch: (request) => Promise.resolve(values[request.key as string]),
}

async function main(): Promise<void> {
  const slowSources = [slowSource]
  const wall = await compare(
    '50 components x 20 ms: resolve vs the slowest single fetch',
    {
      label: 'resolve (50 fetches)',
      run: () => resolve(Fifty, { sources: slowSources, cache: false }).then(() => undefined),
    },
    {
      label: 'one 20 ms fetch',
      run: () =>
        slowSource
          .fetch(
            { className: 'Fifty', property: 'key0', key: 'key0', secret: false },
            { signal: new AbortController().signal, attempt: 0, resolved: {} },
          )
          .then(() => undefined),
    },
    { runs: 9, goal: '<= 1.2x' },
  )
  const sequentialMs = await measure(
    {
      label: 'sum of 50 sequential fetches',
      run: async () => {
        for (const key of keys)
          await slowSource.fetch(
            { className: 'Fifty', property: key, key, secret: false },
            { signal: new AbortController().signal, attempt: 0, resolved: {} },
          )
      },
    },
    1,
    0,
  )

  const memorySources = [memorySource]
  const REPEAT = 200
  const signal = new AbortController().signal
  const overhead = await compare(
    '50 in-memory components: resolve vs hand-written Promise.all',
    {
      label: 'resolve',
      run: async () => {
        for (let i = 0; i < REPEAT; i++) await resolve(Fifty, { sources: memorySources, cache: false })
      },
    },
    {
      label: 'Promise.all + Number()',
      run: async () => {
        for (let i = 0; i < REPEAT; i++) {
          const target = new Fifty()
          await Promise.all(
            keys.map((key) =>
              memorySource
                .fetch(
                  { className: 'Fifty', property: key, key, secret: false },
                  { signal, attempt: 0, resolved: {} },
                )
                .then((v) => {
                  target[key] = Number(v)
                }),
            ),
          )
        }
      },
    },
    // Many short alternating runs, so a median survives other processes sharing the cores.
    { operationsPerRun: REPEAT, runs: 31, warmup: 5, goal: '<= 1.5x' },
  )
  report('components', [wall, overhead], {
    sequentialSumMs: sequentialMs,
    resolveVsSum: wall.subjectMs / sequentialMs,
  })
}

void main()
