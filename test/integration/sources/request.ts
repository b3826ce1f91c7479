/** Builds `ComponentRequest`s and `SourceContext`s for the source suites. */
import type { ComponentRequest, SourceContext } from 'tributary'

export function request(fields: Partial<ComponentRequest> = {}): ComponentRequest {
  return { className: 'AppConfig', property: 'value', secret: false, ...fields }
}

export function context(signal: AbortSignal = new AbortController().signal): SourceContext {
  return { signal, attempt: 0, resolved: {} }
}
