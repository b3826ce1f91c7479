/**
 * How each component of a class is kept live: its source (and whether that source can
 * watch), its schedule, poll interval and condition, and who depends on it. Built once per
 * `watch` from the resolution plan; the `condition` names are checked here.
 */
import { isDeepStrictEqual } from 'node:util'
import { ComponentOptionsError } from '../components/errors'
import type { WatchCondition } from '../components/options'
import type { Plan, PlannedComponent } from '../components/plan'
import { sourcesFor, type ComponentSources } from '../components/source-registry'
import type { ComponentSource } from '../sources/source'
import { canWatch, type WatchableSource } from '../sources/watch'
import type { ScheduleOptions } from './scheduling'

/** One component's live settings. */
export interface LiveSpec {
  readonly planned: PlannedComponent
  readonly property: string
  readonly source: ComponentSource
  /** The source, when it can watch and the component did not opt out with `watch: false`. */
  readonly watchable: WatchableSource | undefined
  /** `watch: false`: never changed after the first resolve. */
  readonly optedOut: boolean
  readonly schedule: ScheduleOptions
  readonly pollInterval: number | undefined
  readonly condition: WatchCondition | undefined
  /** Properties whose components `dependsOn` this one. */
  readonly dependents: readonly string[]
  /** Properties whose components have a `condition` on this one. */
  readonly conditioned: readonly string[]
}

/** Checks each `condition` names a component of the class; throws a `ComponentOptionsError`. */
export function checkConditions(plan: Plan): void {
  const properties = new Set(plan.components.map((c) => c.definition.property))
  for (const { definition } of plan.components) {
    const target = definition.options.condition?.component
    if (target !== undefined && !properties.has(target)) {
      throw new ComponentOptionsError(
        { className: plan.className, property: definition.property, option: 'condition' },
        `condition on ${JSON.stringify(target)}, which is not a component of ${plan.className}`,
      )
    }
  }
}

/** The live settings of every component of `plan`, keyed by property. */
export function liveSpecs(plan: Plan, sources: ComponentSources): Map<string, LiveSpec> {
  const dependents = new Map<string, string[]>()
  const conditioned = new Map<string, string[]>()
  const add = (map: Map<string, string[]>, key: string, value: string): void => {
    const list = map.get(key)
    if (list) list.push(value)
    else map.set(key, [value])
  }
  for (const { definition } of plan.components) {
    for (const dep of definition.dependsOn) add(dependents, dep, definition.property)
    const target = definition.options.condition?.component
    if (target !== undefined) add(conditioned, target, definition.property)
  }
  const sourceOf = sourcesFor(plan, sources)
  const specs = new Map<string, LiveSpec>()
  for (const planned of plan.components) {
    const { property, options } = planned.definition
    const source = sourceOf[planned.index] as ComponentSource
    const optedOut = options.watch === false
    specs.set(property, {
      planned,
      property,
      source,
      watchable: !optedOut && canWatch(source) ? source : undefined,
      optedOut,
      schedule: {
        ...(options.debounce === undefined ? {} : { debounce: options.debounce }),
        ...(options.throttle === undefined ? {} : { throttle: options.throttle }),
        ...(options.burst === undefined ? {} : { burst: options.burst }),
      },
      pollInterval: options.pollInterval,
      condition: options.condition,
      dependents: dependents.get(property) ?? [],
      conditioned: conditioned.get(property) ?? [],
    })
  }
  return specs
}

/** True when `condition` holds for `value` (a `matches` that throws counts as false). */
export function conditionHolds(condition: WatchCondition | undefined, value: unknown): boolean {
  if (!condition) return true
  if ('matches' in condition) {
    try {
      return condition.matches(value) === true
    } catch {
      return false
    }
  }
  return isDeepStrictEqual(value, condition.equals)
}
