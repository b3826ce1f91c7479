/**
 * Where `@Component` definitions are stored and how a class's components (its own and its
 * parents') are read back. Legacy decorators store through reflect-metadata on the class; TC39
 * decorators store in the class's decorator metadata object (`Symbol.metadata`).
 */
import 'reflect-metadata'
import { createCoercer, type Coercer, type ComponentType } from './coerce'
import type { ComponentOptions } from './options'

/** One component of a class, as the decorator recorded it. */
export interface ComponentDefinition {
  /** The property name. */
  readonly property: string
  /** The options given to `@Component`, frozen. */
  readonly options: Readonly<ComponentOptions>
  /** The type the value is coerced to (`undefined`: passed through). */
  readonly type: ComponentType | undefined
  /** The converter for `type`. */
  readonly coerce: Coercer
  /** Properties this one waits for. */
  readonly dependsOn: readonly string[]
  /** False when the property may stay undefined. */
  readonly required: boolean
  /** True when the value must be masked. */
  readonly secret: boolean
}

const COMPONENTS = Symbol.for('tributary.components')

// TC39 decorator metadata needs `Symbol.metadata`; Node 20 does not define it yet. The compiler's
// output looks it up when a class is defined, so this must run before decorated classes load.
const symbolCtor = Symbol as unknown as { metadata?: symbol }
if (symbolCtor.metadata === undefined) {
  Object.defineProperty(Symbol, 'metadata', { value: Symbol.for('Symbol.metadata'), configurable: true })
}
const METADATA = (Symbol as unknown as { metadata: symbol }).metadata

let version = 0

/** Increases whenever a definition is registered, so cached plans can tell they are stale. */
export function metadataVersion(): number {
  return version
}

/** Builds a frozen definition from checked options. */
export function createDefinition(
  property: string,
  options: ComponentOptions,
  type: ComponentType | undefined,
): ComponentDefinition {
  const dependsOn = options.dependsOn === undefined ? [] : [options.dependsOn].flat()
  return Object.freeze({
    property,
    options: Object.freeze({ ...options }),
    type,
    coerce: createCoercer(type),
    dependsOn: Object.freeze(dependsOn),
    required: options.required ?? true,
    secret: options.secret ?? false,
  })
}

function ownMap(holder: object, read: () => unknown, write: (map: Map<string, ComponentDefinition>) => void) {
  const existing = read()
  if (existing instanceof Map) return existing as Map<string, ComponentDefinition>
  const map = new Map<string, ComponentDefinition>()
  write(map)
  void holder
  return map
}

/** Records a definition on a class (legacy decorators, and TC39 without decorator metadata). */
export function registerOnClass(target: object, definition: ComponentDefinition): void {
  const map = ownMap(
    target,
    () => Reflect.getOwnMetadata(COMPONENTS, target),
    (m) => Reflect.defineMetadata(COMPONENTS, m, target),
  )
  if (map.get(definition.property) === definition) return
  map.set(definition.property, definition)
  version++
}

/** Records a definition in a TC39 decorator metadata object. */
export function registerInMetadata(metadata: object, definition: ComponentDefinition): void {
  const record = metadata as Record<symbol, unknown>
  const map = ownMap(
    metadata,
    () => (Object.prototype.hasOwnProperty.call(metadata, COMPONENTS) ? record[COMPONENTS] : undefined),
    (m) => {
      record[COMPONENTS] = m
    },
  )
  map.set(definition.property, definition)
  version++
}

/**
 * The components of a class, parents' first (a subclass's own `@Component` on the same
 * property replaces the parent's, keeping its position). Internal (the CLI's `explain` lists
 * them; `explain(instance)` is the public view).
 *
 * @example
 * ```ts
 * for (const c of componentsOf(AppConfig)) console.log(c.property, c.options.fetchFrom)
 * ```
 * @internal
 */
export function componentsOf(target: abstract new (...args: never[]) => unknown): ComponentDefinition[] {
  const layers: Array<Map<string, ComponentDefinition>> = []
  const seen = new Set<object>()
  for (let cls: unknown = target; typeof cls === 'function' && cls !== Function.prototype;) {
    const own = Reflect.getOwnMetadata(COMPONENTS, cls as object) as
      Map<string, ComponentDefinition> | undefined
    if (own) layers.push(own)
    cls = Object.getPrototypeOf(cls)
  }
  const metadataLayers: Array<Map<string, ComponentDefinition>> = []
  for (
    let meta: unknown = (target as unknown as Record<symbol, unknown>)[METADATA];
    meta && typeof meta === 'object';
  ) {
    if (seen.has(meta)) break
    seen.add(meta)
    if (Object.prototype.hasOwnProperty.call(meta, COMPONENTS)) {
      metadataLayers.push(
        (meta as Record<symbol, Map<string, ComponentDefinition>>)[COMPONENTS] as Map<
          string,
          ComponentDefinition
        >,
      )
    }
    meta = Object.getPrototypeOf(meta)
  }
  const merged = new Map<string, ComponentDefinition>()
  for (const layer of [...metadataLayers.reverse(), ...layers.reverse()]) {
    for (const [property, definition] of layer) merged.set(property, definition)
  }
  return [...merged.values()]
}
