/**
 * `@Component(options)`: marks a property to be fetched by `resolve`. Works with legacy
 * (`experimentalDecorators`) and TC39 standard decorators.
 */
import 'reflect-metadata'
import { typeOfValue, type ComponentType } from './coerce'
import { ComponentOptionsError } from './errors'
import { createDefinition, registerInMetadata, registerOnClass, type ComponentDefinition } from './metadata'
import { checkOptions, type ComponentOptions } from './options'

/** The function `@Component(options)` returns; it accepts both decorator calling conventions. */
export interface ComponentDecorator {
  /** Legacy (`experimentalDecorators`): the prototype and the property name. */
  (target: object, propertyKey: string | symbol): void
  /** TC39 standard decorators: no initial value, and the field's context. */
  (value: undefined, context: ClassFieldDecoratorContext): void
}

function isFieldContext(value: unknown): value is ClassFieldDecoratorContext {
  return typeof value === 'object' && value !== null && 'kind' in value && 'name' in value
}

function chooseType(
  options: ComponentOptions,
  designType: unknown,
  className: string | undefined,
  property: string,
): ComponentType | undefined {
  if (options.type) return options.type
  if (typeof designType === 'function') return designType as ComponentType
  const shown = typeOfValue(options.fallback)
  if (shown) return shown
  throw new ComponentOptionsError(
    { className, property, option: 'type' },
    'the type is unknown: pass `type` (TC39 decorators emit no design:type) or a `fallback` that shows it',
  )
}

/**
 * Declares a component: a property whose value `resolve` fetches from the source named by
 * `fetchFrom`, coerces to the property's type and checks. Options are checked here, when the
 * decorator runs; a wrong one throws a {@link ComponentOptionsError}.
 *
 * With TC39 decorators there is no `design:type`, so give `type` (or a `fallback` that shows
 * the type). A TC39 decorator is not told its class, so its option errors name the property only.
 *
 * @example
 * ```ts
 * import { Component, resolve, envSource } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'env', key: 'APP_HOST', fallback: 'localhost' }) host!: string
 *   @Component({ fetchFrom: 'env', key: 'APP_PORT', type: Number }) port!: number
 * }
 * const config = await resolve(AppConfig, { sources: [envSource()] })
 * ```
 */
export function Component<T = unknown>(options: ComponentOptions<T>): ComponentDecorator {
  return function component(
    target: object | undefined,
    keyOrContext: string | symbol | ClassFieldDecoratorContext,
  ) {
    if (isFieldContext(keyOrContext)) {
      const context = keyOrContext
      const property = String(context.name)
      if (context.kind !== 'field' || context.static || context.private || typeof context.name === 'symbol') {
        throw new ComponentOptionsError(
          { property },
          '@Component goes on a public, non-static, string-named field',
        )
      }
      const checked = checkOptions(options, undefined, property)
      const definition = createDefinition(
        property,
        checked,
        chooseType(checked, undefined, undefined, property),
      )
      const metadata = (context as { metadata?: object }).metadata
      if (metadata) registerInMetadata(metadata, definition)
      else {
        context.addInitializer(function (this: unknown) {
          registerOnClass((this as { constructor: object }).constructor, definition)
        })
      }
      return
    }
    const prototype = target as object
    if (typeof prototype === 'function' || typeof keyOrContext === 'symbol') {
      const className = typeof prototype === 'function' ? prototype.name : prototype.constructor.name
      throw new ComponentOptionsError(
        { className, property: String(keyOrContext) },
        '@Component goes on a non-static, string-named property',
      )
    }
    const className = prototype.constructor.name
    const property = keyOrContext
    const checked = checkOptions(options, className, property)
    const designType: unknown = Reflect.getMetadata('design:type', prototype, property)
    const definition: ComponentDefinition = createDefinition(
      property,
      checked,
      chooseType(checked, designType, className, property),
    )
    registerOnClass(prototype.constructor, definition)
  } as ComponentDecorator
}
