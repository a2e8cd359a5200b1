// The meaning of a metadata Filter, in plain JavaScript and independent of the SQL, for property tests to compare against.
import type { Condition, Filter } from '../../src/retrieval/filters.js'

/**
 * Orders strings by their UTF-8 bytes, which is what PostgreSQL's "C" collation
 * does (and equals code-point order). JavaScript's `<` compares UTF-16 code
 * units instead, which disagrees for astral characters against U+E000–U+FFFF:
 * '😀' < 'ｘ' in JavaScript, but '😀' (F0 9F 98 80) > 'ｘ' (EF BD 98) in bytes.
 */
export function compareUtf8 (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function holds (metadata: Record<string, string>, condition: Condition): boolean {
  const value = Object.hasOwn(metadata, condition.key) ? metadata[condition.key] : undefined
  switch (condition.op) {
    case 'eq': return value === condition.value
    case 'ne': return value !== condition.value
    case 'in': return value !== undefined && condition.values.includes(value)
    case 'nin': return value === undefined || !condition.values.includes(value)
    case 'exists': return (value !== undefined) === condition.exists
    case 'gt': return value !== undefined && compareUtf8(value, condition.value) > 0
    case 'gte': return value !== undefined && compareUtf8(value, condition.value) >= 0
    case 'lt': return value !== undefined && compareUtf8(value, condition.value) < 0
    case 'lte': return value !== undefined && compareUtf8(value, condition.value) <= 0
  }
}

/** Whether a document with this metadata is selected by the filter. */
export function matchesFilter (metadata: Record<string, string>, filter: Filter): boolean {
  return filter.all.every((condition) => holds(metadata, condition)) &&
    (filter.anyOf.length === 0 || filter.anyOf.some((alternative) => alternative.every((condition) => holds(metadata, condition))))
}
