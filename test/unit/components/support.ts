// A small in-memory ComponentSource for the components tests: values per key, optional delays
// (honouring the signal), scripted failures, and a log of every call.
import type { ComponentRequest, ComponentSource, SourceContext } from './tributary'
import { SourceNotFoundError, delay } from './tributary'

export interface MemoryBehaviour {
  /** Delay in ms before answering, per key. */
  delays?: Record<string, number>
  /** Throws this (or the result of calling it with the attempt) for a key. */
  failures?: Record<string, unknown | ((attempt: number) => unknown)>
}

export interface MemorySource extends ComponentSource {
  readonly calls: Array<{ key: string; attempt: number; resolved: Record<string, unknown> }>
  values: Record<string, unknown>
  behaviour: MemoryBehaviour
}

export function memorySource(
  name: string,
  values: Record<string, unknown>,
  behaviour: MemoryBehaviour = {},
): MemorySource {
  const source: MemorySource = {
    name,
    values,
    behaviour,
    calls: [],
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      const key = request.key ?? request.query ?? request.property
      source.calls.push({ key, attempt: context.attempt, resolved: { ...context.resolved } })
      const wait = source.behaviour.delays?.[key]
      if (wait !== undefined) await delay(wait, context.signal)
      const failure = source.behaviour.failures?.[key]
      if (failure !== undefined) {
        const error =
          typeof failure === 'function' ? (failure as (attempt: number) => unknown)(context.attempt) : failure
        if (error !== undefined) throw error
      }
      if (!(key in source.values)) throw new SourceNotFoundError({ source: name, key })
      return source.values[key]
    },
  }
  return source
}

/** Lets pending promise callbacks run (several turns of the microtask queue). */
export async function flush(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve()
}
