/**
 * Adds `Model.acrossShards(shardsOrOptions?)`, the static form of `acrossShards(Model, …)`.
 * (Kept in the shard layer, so `model/` does not import `shard/`.)
 */
import { Model } from '../model/model'
import { type ModelClass } from '../model/query-types'
import { acrossShards, type AcrossShardsOptions, type ShardErrorMode, type ShardScope } from './across-shards'

declare module '../model/model' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Model {
    /**
     * A scope run on every shard of the model's `ShardManager` (or the named ones), whose
     * helpers return exactly merged answers.
     *
     * @example
     * ```ts
     * import { ShardManager } from 'tributary'
     * new ShardManager({ a: dbA, b: dbB }).attach(User)
     * const avg = await User.acrossShards().asyncAvg('score') // Σsum / Σcount
     * ```
     */
    function acrossShards<M extends Model, Mode extends ShardErrorMode = 'fail'>(
      this: ModelClass<M>,
      shardsOrOptions?: readonly string[] | AcrossShardsOptions<Mode>,
    ): ShardScope<M, Mode>
  }
}

Object.defineProperty(Model, 'acrossShards', {
  value: function <M extends Model, Mode extends ShardErrorMode = 'fail'>(
    this: ModelClass<M>,
    shardsOrOptions?: readonly string[] | AcrossShardsOptions<Mode>,
  ): ShardScope<M, Mode> {
    return acrossShards<M, Mode>(this, shardsOrOptions)
  },
  writable: true,
  configurable: true,
})
