import type { StandardSchemaV1 } from '@standard-schema/spec'
import { InvalidOptionError } from './errors.js'

/** Turns a cached value of an old shape into the new one; undefined = it cannot. */
export type Migrate<T = unknown> = (value: unknown, key: string) => T | undefined | Promise<T | undefined>

/** A call's schema and migration, resolved. */
export interface ValueSchema {
  schema: StandardSchemaV1
  migrate: Migrate | undefined
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
