/**
 * The OpenTelemetry spans of a fan-out, shared by `ShardedAsyncExecutor` and the cross-shard
 * helpers (`acrossShards()`). @internal
 */
import type { Span, Tracer } from '@opentelemetry/api'
import { contextWith, databaseAttributes, endSpan, startSpan } from '../core/telemetry'
import { databaseState, type AnyKysely } from '../model/connection'

/**
 * The spans of a traced fan-out: one for the fan-out (`<operation>`, with
 * `tributary.shard.count`), ended once every shard has settled (status ERROR when any failed,
 * with `tributary.shard.failed`), and a client child per shard (`<operation> <shard>`, with
 * `tributary.shard` and the database attributes of its Kysely) from its start to its end.
 * @internal
 */
export function traceFanOut(
  tracer: Tracer,
  operation: string,
  names: readonly string[],
): {
  shard(shard: string, db: object): Span
  settles<T>(work: Promise<T>): Promise<T>
  started(): void
} {
  const root = startSpan(tracer, {
    name: operation,
    attributes: { 'tributary.operation': operation, 'tributary.shard.count': names.length },
  })
  // The shards start later (some queued behind the concurrency limit) in other contexts.
  const parent = contextWith(root)
  // One more than the shards still running until every shard has been started.
  let pending = 1
  let failed = 0
  let firstError: unknown
  const done = (): void => {
    if (--pending > 0) return
    root.setAttribute('tributary.shard.failed', failed)
    endSpan(root, failed > 0 ? firstError : undefined)
  }
  const fail = (error: unknown): void => {
    if (failed++ === 0) firstError = error
    done()
  }
  return {
    shard(shard, db) {
      const attributes = databaseAttributes(databaseState(db as AnyKysely).dialect, db)
      attributes['tributary.shard'] = shard
      attributes['tributary.operation'] = operation
      return startSpan(tracer, { name: `${operation} ${shard}`, kind: 'client', attributes }, parent)
    },
    // Watches the shard's own promise, not its AsyncResult (whose `then` marks it observed).
    settles(work) {
      pending++
      work.then(done, fail)
      return work
    },
    started: done,
  }
}
