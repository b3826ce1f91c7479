/**
 * Provenance: where each component of a resolved instance came from, and `explain(instance)`
 * to read it. Also makes `JSON.stringify` and `util.inspect` of the instance mask secrets.
 */
import { SECRET_MASK } from '../core/redact'
import { inspect } from 'node:util'
import { TributaryError } from '../core/errors'

/** Where a component's value came from. `missing`: a `required: false` property left undefined. */
export type ComponentOrigin = 'source' | 'cache' | 'fallback' | 'missing'

/** What `explain` reports for one property. */
export interface ComponentExplanation {
  readonly property: string
  /** The source name (`fetchFrom`). */
  readonly source: string
  /** The key, or the query when there is no key. */
  readonly key: string | undefined
  /** The value, or `'***'` for a secret. */
  readonly value: unknown
  /** Time spent on this property, in ms (fetch, retries, coercion, validation). */
  readonly durationMs: number
  /** Calls made to the source (0 when served from the cache). */
  readonly attempts: number
  readonly origin: ComponentOrigin
  /** True when the value is masked. */
  readonly secret: boolean
  /** Why a fallback or cached value was used instead of a fresh one. */
  readonly reason?: string
}

/** The provenance of one property, with the real value. */
export interface ProvenanceRecord {
  readonly property: string
  readonly source: string
  readonly key: string | undefined
  readonly value: unknown
  readonly durationMs: number
  readonly attempts: number
  readonly origin: ComponentOrigin
  readonly secret: boolean
  readonly reason?: string
}

const PROVENANCE = Symbol.for('tributary.components.provenance')

/** Records in declaration order; `asyncAssign` replaces or appends one. */
type Provenance = ProvenanceRecord[]

/** What an instance holds: its records, or a function building them on first read. */
type StoredProvenance = Provenance | (() => Provenance)

function provenanceOf(instance: object): Provenance | undefined {
  const stored = (instance as { [PROVENANCE]?: StoredProvenance })[PROVENANCE]
  if (typeof stored !== 'function') return stored
  const provenance = stored()
  Object.defineProperty(instance, PROVENANCE, { value: provenance, enumerable: false, configurable: true })
  return provenance
}

function secretsOf(provenance: Provenance): Set<string> {
  const secrets = new Set<string>()
  for (const record of provenance) if (record.secret) secrets.add(record.property)
  return secrets
}

function masked(instance: object, secrets: Set<string>, source: object = instance): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(source)) copy[name] = secrets.has(name) ? SECRET_MASK : value
  return copy
}

/**
 * Records provenance on `instance` (as a hidden property) and, when any component is secret,
 * gives the instance a `toJSON` and a `util.inspect` view that show `'***'` in its place.
 */
export function recordProvenance(instance: object, records: readonly ProvenanceRecord[]): void {
  let provenance = provenanceOf(instance)
  let hasSecret = false
  if (!provenance) {
    provenance = records as ProvenanceRecord[]
    Object.defineProperty(instance, PROVENANCE, { value: provenance, enumerable: false, configurable: true })
    for (const record of records) if (record.secret) hasSecret = true
  } else {
    for (const record of records) {
      const at = provenance.findIndex((r) => r.property === record.property)
      if (at >= 0) provenance[at] = record
      else provenance.push(record)
      if (record.secret) hasSecret = true
    }
  }
  if (hasSecret) maskSecrets(instance)
}

/**
 * Like {@link recordProvenance} on an instance that has none yet, but the records are built by
 * `build` the first time they are read (by `explain`, `toJSON`, `util.inspect`…), so a resolve
 * nobody explains does not pay for them. `mayHaveSecrets`: true when some record may be secret.
 */
export function recordProvenanceLazily(
  instance: object,
  build: () => ProvenanceRecord[],
  mayHaveSecrets: boolean,
): void {
  Object.defineProperty(instance, PROVENANCE, { value: build, enumerable: false, configurable: true })
  if (mayHaveSecrets) maskSecrets(instance)
}

/** Gives `instance` a `toJSON` and a `util.inspect` view that show `'***'` for secret records. */
function maskSecrets(instance: object): void {
  if (Object.prototype.hasOwnProperty.call(instance, inspect.custom)) return
  const prototype = Object.getPrototypeOf(instance) as object | null
  const ownToJSON = (prototype as { toJSON?: unknown } | null)?.toJSON
  const secrets = (): Set<string> => secretsOf(provenanceOf(instance) ?? [])
  Object.defineProperty(instance, 'toJSON', {
    enumerable: false,
    configurable: true,
    writable: true,
    value(this: object) {
      const base: unknown = typeof ownToJSON === 'function' ? ownToJSON.call(this) : this
      return base !== null && typeof base === 'object' && !Array.isArray(base)
        ? masked(this, secrets(), base as object)
        : base
    },
  })
  Object.defineProperty(instance, inspect.custom, {
    enumerable: false,
    configurable: true,
    writable: true,
    value(this: object) {
      return Object.assign(Object.create(prototype) as object, masked(this, secrets()))
    },
  })
}

/** The raw provenance records of `instance` (real values), or undefined if it was never resolved. */
export function provenanceRecords(instance: object): ProvenanceRecord[] | undefined {
  const provenance = provenanceOf(instance)
  return provenance && [...provenance]
}

/**
 * Explains a resolved instance: per property, its source, key, value (`'***'` for secrets),
 * duration, attempts and origin (`source`, `cache`, `fallback` or `missing`). Keyed by
 * property, in declaration order, so `console.table(explain(config))` prints one row each.
 *
 * @example
 * ```ts
 * import { explain, resolve } from 'tributary'
 * const config = await resolve(AppConfig, { sources })
 * console.table(explain(config))
 * ```
 */
export function explain(instance: object): Record<string, ComponentExplanation> {
  const provenance = provenanceOf(instance)
  if (!provenance) {
    throw new TributaryError(
      `explain: this ${instance.constructor?.name ?? 'object'} was not made by resolve() or asyncAssign()`,
    )
  }
  const result: Record<string, ComponentExplanation> = {}
  for (const record of provenance) {
    const { reason, ...rest } = record
    result[record.property] = {
      ...rest,
      value: record.secret && record.value !== undefined ? SECRET_MASK : record.value,
      durationMs: Math.round(record.durationMs * 100) / 100,
      ...(reason === undefined ? {} : { reason }),
    }
  }
  return result
}
