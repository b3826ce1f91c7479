/**
 * tributary — the one public barrel.
 * @packageDocumentation
 */
import 'reflect-metadata'

export * from './core/errors'
export * from './core/abort'
export * from './core/metrics'
export * from './core/async-result'
export * from './core/coordinator'

export * from './resilience/policy'
export * from './resilience/errors'
export * from './resilience/retry'
export * from './resilience/breaker'
export * from './resilience/timeout'
export * from './resilience/bulkhead'
export * from './resilience/fallback'
export * from './resilience/compose'
export * from './sources/source'
export * from './store/key-hash'
export * from './store/retry'
export * from './store/query'
export * from './store/mutation'
export * from './store/paginated'
export * from './store/query-store'
export * from './store/async-store'
export * from './live/update'
export * from './live/scheduling'
export * from './live/update-hub'
export * from './sources/watch'
