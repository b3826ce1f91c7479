/**
 * A class's resolution plan, built once per class (and rebuilt if its components change):
 * components in dependency order, their requests, and the `dependsOn` checks.
 */
import type { ComponentRequest } from '../sources/source'
import { ComponentOptionsError } from './errors'
import type { FinishSpec } from './finish'
import { componentsOf, metadataVersion, type ComponentDefinition } from './metadata'

/** One component, ready to resolve. */
export interface PlannedComponent {
  readonly definition: ComponentDefinition
  /** Position in `Plan.components` (dependency order). */
  readonly index: number
  /** Position in declaration order (parents' components first). */
  readonly declared: number
  /** Indexes of the components it waits for. */
  readonly dependsOn: readonly number[]
  /** The request given to the source (the same object on every resolve). */
  readonly request: ComponentRequest
  /** The key shown in errors and `explain`: `key`, else `query`. */
  readonly label: string | undefined
  /** Source name + key + query + field. */
  readonly fetchKey: string
  /** An earlier component making the identical fetch (its index), or -1. */
  readonly sharesFetchWith: number
  /** True when retry, timeout or a circuit breaker is set. */
  readonly resilient: boolean
  /** True when a cache is consulted (`ttl` > 0 or `fallbackTo: 'cache'`). */
  readonly cached: boolean
  /** What coercion and validation need (built once). */
  readonly spec: FinishSpec
}

/** The resolution plan of one class. */
export interface Plan {
  readonly className: string
  readonly components: readonly PlannedComponent[]
  readonly version: number
  /** True when some component `dependsOn` another (so resolved values are shared with sources). */
  readonly hasDependencies: boolean
  /** True when some component is `secret` (so resolved instances mask it when printed). */
  readonly hasSecret: boolean
}

const plans = new WeakMap<object, Plan>()

/** The plan for `target`, from cache when its components have not changed. */
export function planFor(target: abstract new (...args: never[]) => unknown): Plan {
  const cached = plans.get(target)
  if (cached && cached.version === metadataVersion()) return cached
  const plan = buildPlan(target)
  plans.set(target, plan)
  return plan
}

function buildPlan(target: abstract new (...args: never[]) => unknown): Plan {
  const className = target.name
  const definitions = componentsOf(target)
  const byName = new Map(definitions.map((d) => [d.property, d]))
  for (const definition of definitions) {
    for (const dep of definition.dependsOn) {
      if (!byName.has(dep)) {
        throw new ComponentOptionsError(
          { className, property: definition.property, option: 'dependsOn' },
          `depends on ${JSON.stringify(dep)}, which is not a component of ${className}`,
        )
      }
    }
  }
  // Depth-first, post-order: dependencies come before their dependents; a back edge is a cycle.
  const order: ComponentDefinition[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (definition: ComponentDefinition): void => {
    const mark = state.get(definition.property)
    if (mark === 'done') return
    if (mark === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(definition.property)), definition.property]
      throw new ComponentOptionsError(
        { className, property: definition.property, option: 'dependsOn' },
        `dependsOn cycle: ${cycle.join(' → ')}`,
      )
    }
    state.set(definition.property, 'visiting')
    stack.push(definition.property)
    for (const dep of definition.dependsOn) visit(byName.get(dep) as ComponentDefinition)
    stack.pop()
    state.set(definition.property, 'done')
    order.push(definition)
  }
  for (const definition of definitions) visit(definition)

  const indexOf = new Map(order.map((d, i) => [d.property, i]))
  const firstFetch = new Map<string, number>()
  const components = order.map((definition, index): PlannedComponent => {
    const o = definition.options
    const fetchKey = fetchKeyOf(definition)
    const resilient =
      (o.retry !== undefined && o.retry !== 0) || o.timeout !== undefined || !!o.circuitBreaker
    const cached = (o.ttl ?? 0) > 0 || o.fallbackTo === 'cache'
    const sharesFetchWith = firstFetch.get(fetchKey) ?? -1
    if (sharesFetchWith < 0) firstFetch.set(fetchKey, index)
    return Object.freeze({
      definition,
      index,
      declared: definitions.indexOf(definition),
      dependsOn: definition.dependsOn.map((dep) => indexOf.get(dep) as number),
      request: Object.freeze({
        className,
        property: definition.property,
        key: o.key,
        query: o.query,
        field: o.field,
        secret: definition.secret,
      }),
      label: o.key ?? o.query,
      fetchKey,
      sharesFetchWith,
      resilient,
      cached,
      spec: {
        className,
        property: definition.property,
        source: o.fetchFrom,
        key: o.key ?? o.query,
        secret: definition.secret,
        coerce: definition.coerce,
        schema: o.schema,
        validate: o.validate,
      },
    })
  })
  const hasDependencies = components.some((c) => c.dependsOn.length > 0)
  const hasSecret = components.some((c) => c.definition.secret)
  return Object.freeze({ className, components, version: metadataVersion(), hasDependencies, hasSecret })
}

function fetchKeyOf(definition: ComponentDefinition): string {
  const o = definition.options
  // Without key or query a source reads by property name, so the property is part of the key.
  const byProperty = o.key === undefined && o.query === undefined ? definition.property : ''
  return [o.fetchFrom, o.key ?? '', o.query ?? '', o.field ?? '', byProperty].join('\u0000')
}
