// Metadata filters of the query endpoints: validates the request's `filters` into a Filter and turns it into SQL.
import { sql, type SQL } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'

/**
 * Bounds on one `filters` object. `keys` applies to the top level and to each
 * `$or` alternative; `values` counts every string operand in the whole filter,
 * so the statement stays far below PostgreSQL's 65,535 bound parameters.
 * `keyLength` and `valueLength` are those of stored metadata: anything longer
 * could never be equal to a stored value.
 */
export const FILTER_LIMITS = {
  keys: 64,
  inValues: 100,
  alternatives: 20,
  values: 1000,
  keyLength: 256,
  valueLength: 8192
} as const

export type ComparisonOperator = 'gt' | 'gte' | 'lt' | 'lte'

/** One test on one metadata key. */
export type Condition =
  /** The key is present with exactly this value. */
  | { key: string, op: 'eq', value: string }
  /** The key is absent, or present with another value. */
  | { key: string, op: 'ne', value: string }
  /** The key is present with one of the values (none given: never). */
  | { key: string, op: 'in', values: readonly string[] }
  /** The key is absent, or present with none of the values. */
  | { key: string, op: 'nin', values: readonly string[] }
  | { key: string, op: 'exists', exists: boolean }
  /** The key is present and its value compares so, by UTF-8 bytes (code points). */
  | { key: string, op: ComparisonOperator, value: string }

/** Conditions that must all hold; empty = always true. */
export type Conjunction = readonly Condition[]

/** A validated `filters` object: every condition of `all`, and at least one alternative of `anyOf` unless it is empty. */
export interface Filter {
  all: Conjunction
  /** The `$or` alternatives; empty when the request had no `$or`. */
  anyOf: readonly Conjunction[]
}

/** An invalid `filters` object; the message names the offending path and is shown to the client (422). */
export class FilterError extends Error {
  readonly statusCode = 422
  // The errors plugin shows messages of JACK_* errors as the detail, so a route may simply let this propagate.
  readonly code = 'JACK_INVALID_FILTER'

  constructor (message: string) {
    super(message)
    this.name = 'FilterError'
  }
}

export const EMPTY_FILTER: Filter = Object.freeze({ all: Object.freeze([]), anyOf: Object.freeze([]) })

const OPERATORS = ['$in', '$nin', '$ne', '$exists', '$gt', '$gte', '$lt', '$lte'] as const
type Operator = typeof OPERATORS[number]

interface Budget { values: number }

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function shown (text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

/** `filters` + `department` → `filters.department`; odd keys are quoted: `filters["a b"]`. */
function childPath (path: string, key: string): string {
  return /^[\p{L}\p{N}_$-]+$/u.test(key) && key.length <= 40 ? `${path}.${key}` : `${path}[${JSON.stringify(shown(key))}]`
}

function codePointLength (text: string): number {
  // Surrogate pairs count once, as in the JSON Schema maxLength of stored metadata.
  return text.length - (text.match(/[\ud800-\udbff][\udc00-\udfff]/g)?.length ?? 0)
}

// PostgreSQL text and jsonb cannot hold U+0000 or an unpaired surrogate: refused here rather than failing in the database.
function isStorable (text: string): boolean {
  return !text.includes('\u0000') && !/\p{Cs}/u.test(text)
}

function checkText (text: string, path: string, budget: Budget): string {
  if (text.length > FILTER_LIMITS.valueLength && codePointLength(text) > FILTER_LIMITS.valueLength) {
    throw new FilterError(`${path} must be at most ${FILTER_LIMITS.valueLength} characters long`)
  }
  if (!isStorable(text)) throw new FilterError(`${path} must not contain NUL (\\u0000) or unpaired surrogate characters`)
  if (++budget.values > FILTER_LIMITS.values) throw new FilterError(`filters has too many values: at most ${FILTER_LIMITS.values} in all`)
  return text
}

function checkKey (key: string, path: string): void {
  if (key === '') throw new FilterError(`${path} has an empty key`)
  if (codePointLength(key) > FILTER_LIMITS.keyLength) throw new FilterError(`${path} has a key longer than ${FILTER_LIMITS.keyLength} characters`)
  if (!isStorable(key)) throw new FilterError(`${path} has a key containing NUL (\\u0000) or unpaired surrogate characters`)
}

function parseStrings (operand: unknown, path: string, budget: Budget): string[] {
  if (!Array.isArray(operand)) throw new FilterError(`${path} must be an array of strings`)
  if (operand.length > FILTER_LIMITS.inValues) throw new FilterError(`${path} must have at most ${FILTER_LIMITS.inValues} values`)
  if (!operand.every((item) => typeof item === 'string')) throw new FilterError(`${path} must be an array of strings`)
  const values = operand.map((item, index) => checkText(item as string, `${path}[${index}]`, budget))
  return [...new Set(values)]
}

function parseOperator (key: string, operator: Operator, operand: unknown, path: string, budget: Budget): Condition {
  const operandPath = `${path}.${operator}`
  switch (operator) {
    case '$in':
    case '$nin':
      return { key, op: operator === '$in' ? 'in' : 'nin', values: parseStrings(operand, operandPath, budget) }
    case '$exists':
      if (typeof operand !== 'boolean') throw new FilterError(`${operandPath} must be true or false`)
      return { key, op: 'exists', exists: operand }
    case '$ne':
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      if (typeof operand !== 'string') throw new FilterError(`${operandPath} must be a string`)
      return { key, op: operator.slice(1) as 'ne' | ComparisonOperator, value: checkText(operand, operandPath, budget) }
  }
}

function parseField (key: string, raw: unknown, path: string, budget: Budget): Condition[] {
  if (typeof raw === 'string') return [{ key, op: 'eq', value: checkText(raw, path, budget) }]
  if (!isPlainObject(raw)) throw new FilterError(`${path} must be a string or an operator object`)
  const entries = Object.entries(raw)
  if (entries.length === 0) throw new FilterError(`${path}: empty operator object; give at least one of ${OPERATORS.join(', ')}`)
  return entries.map(([operator, operand]) => {
    if (!(OPERATORS as readonly string[]).includes(operator)) throw new FilterError(`${path}: unknown operator ${JSON.stringify(shown(operator))}`)
    return parseOperator(key, operator as Operator, operand, path, budget)
  })
}

function parseConjunction (raw: Record<string, unknown>, path: string, budget: Budget, onOr: ((value: unknown) => void) | undefined): Condition[] {
  const entries = Object.entries(raw)
  if (entries.length > FILTER_LIMITS.keys) throw new FilterError(`${path} must have at most ${FILTER_LIMITS.keys} keys`)
  const conditions: Condition[] = []
  for (const [key, value] of entries) {
    if (key === '$or') {
      if (onOr === undefined) throw new FilterError(`${path}: $or cannot be nested inside $or`)
      onOr(value)
    } else if (key.startsWith('$')) {
      throw new FilterError(`${path}: unknown operator ${JSON.stringify(shown(key))}`)
    } else {
      checkKey(key, path)
      conditions.push(...parseField(key, value, childPath(path, key), budget))
    }
  }
  return conditions
}

/**
 * Validates a request's `filters` (undefined, i.e. omitted, is the empty
 * filter). Throws FilterError with a message naming the path, e.g.
 * `filters.year: unknown operator "$regex"`.
 */
export function parseFilter (raw: unknown): Filter {
  if (raw === undefined) return EMPTY_FILTER
  if (!isPlainObject(raw)) throw new FilterError('filters must be an object')
  const budget: Budget = { values: 0 }
  let anyOf: Conjunction[] = []
  const all = parseConjunction(raw, 'filters', budget, (alternatives) => {
    const path = 'filters.$or'
    if (!Array.isArray(alternatives) || alternatives.length === 0) throw new FilterError(`${path} must be a non-empty array of objects`)
    if (alternatives.length > FILTER_LIMITS.alternatives) throw new FilterError(`${path} must have at most ${FILTER_LIMITS.alternatives} alternatives`)
    anyOf = alternatives.map((alternative, index) => {
      const alternativePath = `${path}[${index}]`
      if (!isPlainObject(alternative)) throw new FilterError(`${alternativePath} must be an object`)
      return parseConjunction(alternative, alternativePath, budget, undefined)
    })
  })
  return { all, anyOf }
}

// --- SQL ------------------------------------------------------------------------------------------------------------

// Equality, $in and $ne are written as jsonb containment (`@>`), the one form the
// jsonb_path_ops GIN index on documents.metadata serves. Metadata values are
// always strings, so `{"k":"v"}` is contained exactly when the key holds "v".
function contains (metadata: SQL | AnyPgColumn, pairs: Array<[string, string]>): SQL {
  // fromEntries defines own properties, so a key like "__proto__" is kept.
  return sql`${metadata} @> ${JSON.stringify(Object.fromEntries(pairs))}::jsonb`
}

function anyContained (metadata: SQL | AnyPgColumn, key: string, values: readonly string[]): SQL {
  return sql`(${sql.join(values.map((value) => contains(metadata, [[key, value]])), sql` or `)})`
}

// COLLATE "C" orders by bytes of UTF-8, i.e. by code point, on every server and
// locale (PGlite and PostgreSQL alike). A missing key gives NULL, made false so
// the expression stays two-valued even under a caller's NOT.
const COMPARISON_SQL: Record<ComparisonOperator, SQL> = { gt: sql.raw('>'), gte: sql.raw('>='), lt: sql.raw('<'), lte: sql.raw('<=') }

function conditionToSql (metadata: SQL | AnyPgColumn, condition: Condition): SQL {
  switch (condition.op) {
    case 'eq':
      return contains(metadata, [[condition.key, condition.value]])
    case 'ne':
      return sql`not (${contains(metadata, [[condition.key, condition.value]])})`
    case 'in':
      return condition.values.length === 0 ? sql`false` : anyContained(metadata, condition.key, condition.values)
    case 'nin':
      return condition.values.length === 0 ? sql`true` : sql`not ${anyContained(metadata, condition.key, condition.values)}`
    case 'exists':
      // `?` is safe in the SQL text: both drivers send placeholders as $n.
      return condition.exists ? sql`(${metadata} ? ${condition.key}::text)` : sql`not (${metadata} ? ${condition.key}::text)`
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return sql`coalesce((${metadata} ->> ${condition.key}::text) collate "C" ${COMPARISON_SQL[condition.op]} ${condition.value}::text, false)`
  }
}

function conjunctionToSql (metadata: SQL | AnyPgColumn, conditions: Conjunction): SQL | undefined {
  // Equalities (and one-value $in) become a single containment, one index probe.
  const equal = new Map<string, string>()
  const rest: SQL[] = []
  for (const condition of conditions) {
    const value = condition.op === 'eq' ? condition.value : condition.op === 'in' && condition.values.length === 1 ? condition.values[0] : undefined
    if (value !== undefined && !equal.has(condition.key)) equal.set(condition.key, value)
    else rest.push(conditionToSql(metadata, condition))
  }
  const parts = equal.size === 0 ? rest : [contains(metadata, [...equal]), ...rest]
  return parts.length === 0 ? undefined : sql`(${sql.join(parts, sql` and `)})`
}

/**
 * The filter as a boolean SQL expression on `metadataColumn` (`true` for the
 * empty filter). Every key and value is a bound parameter. The expression is
 * never NULL.
 */
export function filterToSql (filter: Filter, metadataColumn: SQL | AnyPgColumn): SQL {
  // Parenthesised, so any expression (not only a column) binds tighter than the operators around it.
  const metadata = sql`(${metadataColumn})`
  const parts: SQL[] = []
  const all = conjunctionToSql(metadata, filter.all)
  if (all !== undefined) parts.push(all)
  if (filter.anyOf.length > 0) {
    const alternatives = filter.anyOf.map((conjunction) => conjunctionToSql(metadata, conjunction) ?? sql`true`)
    parts.push(sql`(${sql.join(alternatives, sql` or `)})`)
  }
  return parts.length === 0 ? sql`true` : sql`(${sql.join(parts, sql` and `)})`
}
