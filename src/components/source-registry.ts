/**
 * The sources a resolve is given, by name: each component's `fetchFrom` looked up (and
 * checked, with a "did you mean") once per plan and sources object. Shared by `resolve` and
 * `watch`. @internal
 */
import { TributaryError } from '../core/errors'
import type { ComponentSource } from '../sources/source'
import { ComponentOptionsError } from './errors'
import { suggest } from '../core/suggest'
import type { Plan } from './plan'

/** Sources: an array (each under its own `name`) or a record (each under its key). */
export type ComponentSources = readonly ComponentSource[] | Readonly<Record<string, ComponentSource>>

const registries = new WeakMap<object, Map<string, ComponentSource>>()

function registryOf(sources: ComponentSources): Map<string, ComponentSource> {
  let registry = registries.get(sources)
  if (registry) return registry
  registry = new Map()
  if (Array.isArray(sources)) {
    for (const source of sources as readonly ComponentSource[]) {
      if (registry.has(source.name)) {
        throw new TributaryError(
          `two sources are named ${JSON.stringify(source.name)}; pass a record to rename one`,
        )
      }
      registry.set(source.name, source)
    }
  } else {
    for (const [name, source] of Object.entries(sources)) registry.set(name, source)
  }
  registries.set(sources, registry)
  return registry
}

const checked = new WeakMap<Plan, WeakMap<Map<string, ComponentSource>, ComponentSource[]>>()

/**
 * Each component's source, by plan index. Checks every `fetchFrom` once per plan and sources
 * (throws a `ComponentOptionsError` for an unknown one).
 */
export function sourcesFor(plan: Plan, given: ComponentSources): readonly ComponentSource[] {
  const registry = registryOf(given)
  let byRegistry = checked.get(plan)
  const known = byRegistry?.get(registry)
  if (known) return known
  checkEachSource(plan, registry)
  const sources = plan.components.map((c) => registry.get(c.definition.options.fetchFrom) as ComponentSource)
  if (!byRegistry) checked.set(plan, (byRegistry = new WeakMap()))
  byRegistry.set(registry, sources)
  return sources
}

function checkEachSource(plan: Plan, registry: Map<string, ComponentSource>): void {
  for (const { definition } of plan.components) {
    const name = definition.options.fetchFrom
    if (registry.has(name)) continue
    const known = [...registry.keys()]
    const hint = suggest(name, known)
    throw new ComponentOptionsError(
      { className: plan.className, property: definition.property, option: 'fetchFrom' },
      `unknown source ${JSON.stringify(name)} (sources given: ${known.join(', ') || 'none'}${
        hint ? `; did you mean ${JSON.stringify(hint)}?` : ''
      })`,
    )
  }
}
