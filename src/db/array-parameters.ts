// Arrays as one bound parameter each (a PostgreSQL array literal cast to its type), the same on postgres.js and PGlite.
import { sql, type SQL } from 'drizzle-orm'

function quoted (value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/** `values` as one `text[]` parameter. */
export function textArray (values: readonly string[]): SQL {
  return sql`${`{${values.map(quoted).join(',')}}`}::text[]`
}

/** Whole numbers as one `int8[]` parameter. */
export function int8Array (values: Iterable<number>): SQL {
  const items = [...values]
  for (const value of items) if (!Number.isSafeInteger(value)) throw new RangeError(`not a whole number: ${value}`)
  return sql`${`{${items.join(',')}}`}::int8[]`
}
