import { InvalidOptionError } from '../index.js'
import { nameAt } from './tables.js'
import { tokenize } from './tokenizer.js'

/**
 * A table name as SQL reads it: `Orders` → 'orders', `"Orders"` → 'Orders', `sales.orders` → 'orders'.
 * Tags use the unqualified name, because which schema an unqualified reference means depends on the
 * search_path: `sales.orders` and `public.orders` share a tag, which only over-invalidates.
 */
export function tableName(input: string): string {
  const tokens = tokenize(input)
  const ref = nameAt(tokens, 0)
  if (!ref || ref.next !== tokens.length) {
    throw new InvalidOptionError(`${JSON.stringify(input)} is not a table name`)
  }
  return ref.name
}
