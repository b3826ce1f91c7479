/**
 * `snapshot()`: a frozen copy of a live instance that keeps its class, its provenance (so
 * `explain` works on it) and its secret masking in `JSON.stringify` and `util.inspect`.
 */
import { provenanceRecords, recordProvenance } from '../components/explain'

/**
 * A shallow, frozen copy of `instance`: same prototype, same own enumerable properties. Live
 * updates replace values rather than mutate them, so a snapshot stays as it was.
 */
export function frozenCopy<T extends object>(instance: T): Readonly<T> {
  const copy = Object.create(Object.getPrototypeOf(instance) as object | null) as T
  Object.assign(copy, instance)
  const records = provenanceRecords(instance)
  if (records) recordProvenance(copy, records)
  return Object.freeze(copy)
}
