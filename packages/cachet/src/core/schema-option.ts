import type { StandardSchemaV1 } from '@standard-schema/spec'
import { InvalidOptionError } from './errors.js'

/** Turns a cached value of an old shape into the new one; undefined = it cannot. */
export type Migrate<T = unknown> = (value: unknown, key: string) => T | undefined | Promise<T | undefined>

/** A call's schema and migration, resolved. */
export interface ValueSchema {
  schema: StandardSchemaV1
  migrate: Migrate | undefined
}

/**
 * The schema a call checks: its own schema comes with its own migrate; without one, the namespace's
 * (`defaults`, resolved once when the namespace was made) applies, with the call's migrate if it gives one.
 */
export function callSchema(
  call: { schema?: unknown; migrate?: unknown },
  defaults: ValueSchema | undefined,
): ValueSchema | undefined {
  if (call.schema !== undefined) return resolveSchema(call.schema, call.migrate)
  return call.migrate === undefined ? defaults : resolveSchema(defaults?.schema, call.migrate)
}

/** The schema and migrate options, checked; undefined without a schema. */
export function resolveSchema(schema: unknown, migrate: unknown): ValueSchema | undefined {
  if (migrate !== undefined && typeof migrate !== 'function') {
    throw new InvalidOptionError(`migrate must be a function, got ${typeof migrate}`)
  }
  if (schema === undefined) {
    if (migrate !== undefined) throw new InvalidOptionError('migrate needs a schema')
    return undefined
  }
  const props = (schema as Partial<StandardSchemaV1> | null)?.['~standard']
  if (typeof props?.validate !== 'function') {
    throw new InvalidOptionError(
      'schema must implement Standard Schema (zod 3.24+, valibot 1, arktype 2…): no ~standard.validate',
    )
  }
  return { schema: schema as StandardSchemaV1, migrate: migrate as Migrate | undefined }
}
