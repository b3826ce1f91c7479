/**
 * Standard Schema: `@Component({ schema })` takes any validator that implements Standard Schema
 * v1 (zod here; valibot and arktype work the same). The schema runs on the coerced value; its
 * output becomes the value, its issues a `ComponentSchemaError` naming class, property, source
 * and key. No server needed. Run: npx ts-node --transpile-only examples/schema.ts
 *
 * (Inside this repository the package is imported from '../src'; an application imports
 * 'tributary'.)
 */
import { z } from 'zod'
import { Component, envSource, isComponentResolutionError, isComponentSchemaError, resolve } from '../src'

class ServerConfig {
  @Component({ fetchFrom: 'env', key: 'EXAMPLE_PORT', schema: z.number().int().min(1).max(65535) })
  port!: number
  // `string[]` coerces a comma-separated variable into an array first; zod then checks each item.
  @Component({ fetchFrom: 'env', key: 'EXAMPLE_ORIGINS', schema: z.array(z.url()) })
  origins!: string[]
  // The schema's output is the value: here a transform.
  @Component({ fetchFrom: 'env', key: 'EXAMPLE_MODE', schema: z.string().transform((m) => m.toLowerCase()) })
  mode!: string
  @Component({ fetchFrom: 'env', key: 'EXAMPLE_TOKEN', secret: true, schema: z.string().min(16) })
  token!: string
}

async function main(): Promise<void> {
  const good = {
    EXAMPLE_PORT: '8080',
    EXAMPLE_ORIGINS: 'https://a.example, https://b.example',
    EXAMPLE_MODE: 'FAST',
    EXAMPLE_TOKEN: 'x'.repeat(20),
  }
  const config = await resolve(ServerConfig, { sources: [envSource({ env: good })] })
  console.log('resolved:', { port: config.port, origins: config.origins, mode: config.mode })

  const bad = {
    EXAMPLE_PORT: '70000',
    EXAMPLE_ORIGINS: 'https://a.example,not a url',
    EXAMPLE_MODE: 'slow',
    EXAMPLE_TOKEN: 'short',
  }
  try {
    await resolve(ServerConfig, { sources: [envSource({ env: bad })] })
  } catch (error) {
    if (!isComponentResolutionError(error)) throw error
    for (const e of error.errors) {
      console.log(isComponentSchemaError(e) ? `schema error: ${e.message}` : e.message)
    }
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
