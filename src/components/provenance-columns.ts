/**
 * What one resolve records for `explain`, kept as columns by declaration index and built into
 * provenance records only when they are first read. @internal
 */
import type { ComponentOrigin, ProvenanceRecord } from './explain'
import type { PlannedComponent } from './plan'

/**
 * A resolve's provenance, one entry per component by declaration index (`origin` undefined:
 * the component failed). Columns rather than a record object per component: the records are
 * built when first read (`explain`, `toJSON`, a `ComponentResolutionError`), and a record per
 * component was most of what a resolve of in-memory components allocated beyond a hand-written
 * `Promise.all` (the components benchmark). @internal
 */
export class ProvenanceColumns {
  private readonly value: unknown[]
  private readonly durationMs: number[]
  private readonly attempts: number[]
  private readonly origin: Array<ComponentOrigin | undefined>
  private readonly reason: Array<string | undefined>

  constructor(count: number) {
    this.value = new Array<unknown>(count)
    this.durationMs = new Array<number>(count)
    this.attempts = new Array<number>(count)
    this.origin = new Array<ComponentOrigin | undefined>(count)
    this.reason = new Array<string | undefined>(count)
  }

  /** Records how `component` resolved (or stayed missing). */
  set(
    component: PlannedComponent,
    value: unknown,
    durationMs: number,
    attempts: number,
    origin: ComponentOrigin,
    reason: string | undefined,
  ): void {
    const at = component.declared
    this.value[at] = value
    this.durationMs[at] = durationMs
    this.attempts[at] = attempts
    this.origin[at] = origin
    this.reason[at] = reason
  }

  /** The records of the components that resolved (or stayed missing), in declaration order. */
  records(components: readonly PlannedComponent[]): ProvenanceRecord[] {
    const records: ProvenanceRecord[] = []
    for (const component of components) {
      const at = component.declared
      const origin = this.origin[at]
      if (origin === undefined) continue
      records[at] = {
        property: component.definition.property,
        source: component.definition.options.fetchFrom,
        key: component.label,
        value: this.value[at],
        durationMs: this.durationMs[at] as number,
        attempts: this.attempts[at] as number,
        origin,
        secret: component.definition.secret,
        reason: this.reason[at],
      }
    }
    return records.filter((record) => record !== undefined)
  }
}
