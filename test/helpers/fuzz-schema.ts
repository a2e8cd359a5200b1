// fast-check arbitraries from the JSON schemas in openapi.yaml (the subset jack uses), and a JSON tree that can hold what JSON.stringify cannot.
import fc from 'fast-check'

export type Schema = Record<string, unknown>

/** A property-specific generator (e.g. realistic filters), consulted before the schema. */
export type SchemaHint = (name: string, schema: Schema, path: string[]) => fc.Arbitrary<unknown> | undefined

export interface SchemaContext {
  /** The whole OpenAPI document, for `$ref: '#/components/…'`. */
  root: unknown
  hint?: SchemaHint
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** Follows a local `$ref` (`#/a/b`) within the root document. */
export function resolveRef (root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, not ${ref}`)
  let node: unknown = root
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    node = (node as Record<string, unknown> | undefined)?.[part]
  }
  if (node === undefined || node === null || typeof node !== 'object') throw new Error(`$ref ${ref} does not resolve`)
  return node as Schema
}

export function deref (schema: Schema, root: unknown): Schema {
  let current = schema
  for (let hops = 0; typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error('$ref cycle')
    current = resolveRef(root, current.$ref)
  }
  return current
}

const WORDS = ['refund', 'policy', 'remote', 'work', 'days', 'employee', 'password', 'hotel', 'travel', 'the', 'a', 'of', 'and', 'is', 'what', 'how', 'many', '2024', 'HR', 'legal']

/** Words and spaces: text most fields accept. */
export const wordsArbitrary = (maxWords = 8): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: maxWords }).map((words) => words.join(' '))

/** Well-formed text of every kind (no NUL, no lone surrogates): ASCII, any Unicode grapheme, words. */
export function textArbitrary (minLength: number, maxLength: number): fc.Arbitrary<string> {
  const fit = (text: string): string => {
    let value = text
    while (value.length < minLength) value += 'x'
    return value.length > maxLength ? trimToLength(value, maxLength) : value
  }
  const cap = Math.min(maxLength, 40)
  const options: Array<fc.WeightedArbitrary<string>> = [
    { arbitrary: wordsArbitrary().map(fit), weight: 4 },
    { arbitrary: fc.string({ minLength: Math.min(minLength, cap), maxLength: cap }).map(fit), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: Math.min(minLength, cap), maxLength: cap }).map(fit), weight: 2 }
  ]
  // The boundary itself, now and then: exactly minLength and exactly maxLength characters.
  if (maxLength <= 10_000) options.push({ arbitrary: fc.constantFrom(minLength, maxLength).map((length) => fit('w'.repeat(length))), weight: 1 })
  return fc.oneof(...options).filter((value) => value.length >= minLength && value.length <= maxLength && !value.includes('\u0000'))
}

/** Cuts to at most `length` UTF-16 units without leaving half a surrogate pair. */
export function trimToLength (text: string, length: number): string {
  let cut = text.slice(0, length)
  if (!cut.isWellFormed()) cut = cut.slice(0, -1)
  return cut
}

function stringArbitrary (schema: Schema): fc.Arbitrary<string> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as string[]))
  if (typeof schema.const === 'string') return fc.constant(schema.const)
  switch (schema.format) {
    case 'uuid': return fc.uuid()
    case 'date-time': return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z'))
    case 'binary': return fc.string({ maxLength: 200 })
  }
  if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern))
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0
  const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : 10_000
  return textArbitrary(minLength, maxLength)
}

function integerArbitrary (schema: Schema): fc.Arbitrary<number> {
  const min = typeof schema.minimum === 'number' ? schema.minimum : -1_000_000
  const max = typeof schema.maximum === 'number' ? schema.maximum : 1_000_000
  return fc.integer({ min, max })
}

/** Any JSON value, for schemas that allow anything (`{}`). */
export const anyJsonArbitrary: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 })
  .filter((value) => !JSON.stringify(value).includes('__proto__'))

function keyArbitrary (schema: Schema, root: unknown): fc.Arbitrary<string> {
  const names = schema.propertyNames === undefined ? {} : deref(schema.propertyNames as Schema, root)
  const patterns = schema.patternProperties === undefined ? [] : Object.keys(schema.patternProperties as object)
  const base = patterns.length > 0
    ? fc.oneof(...patterns.map((pattern) => fc.stringMatching(new RegExp(pattern))))
    : stringArbitrary({ type: 'string', ...names, minLength: Math.max(1, typeof names.minLength === 'number' ? names.minLength : 1) })
  return base.filter((key) => !RESERVED_KEYS.has(key))
}

function objectArbitrary (schema: Schema, context: SchemaContext, path: string[]): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const required = new Set(Array.isArray(schema.required) ? schema.required as string[] : [])
  const model: Record<string, fc.Arbitrary<unknown>> = {}
  for (const [name, property] of Object.entries(properties)) model[name] = arbitraryFromSchema(property, context, [...path, name])
  const fixed = Object.keys(model).length === 0
    ? fc.constant({})
    : fc.record(model, { requiredKeys: [...required], noNullPrototype: true }) as fc.Arbitrary<Record<string, unknown>>
  const additional = schema.additionalProperties
  const patterns = schema.patternProperties as Record<string, Schema> | undefined
  if ((additional === undefined || additional === false) && patterns === undefined) return fixed
  let valueSchema: Schema | undefined
  if (patterns !== undefined) valueSchema = Object.values(patterns)[0]
  else if (additional !== true && typeof additional === 'object' && additional !== null) valueSchema = additional as Schema
  const values = valueSchema === undefined || Object.keys(valueSchema).length === 0
    ? anyJsonArbitrary
    : arbitraryFromSchema(valueSchema, context, [...path, '*'])
  const maxKeys = Math.min(typeof schema.maxProperties === 'number' ? schema.maxProperties : 8, 8)
  const extra = fc.dictionary(keyArbitrary(schema, context.root), values, { maxKeys, noNullPrototype: true })
  return fc.tuple(fixed, extra).map(([known, more]) => {
    const merged: Record<string, unknown> = { ...known }
    for (const [key, value] of Object.entries(more)) if (!(key in properties)) merged[key] = value
    return merged
  })
}

/**
 * Values valid for `schema`, for the subset openapi.yaml uses: object
 * (properties, required, additionalProperties, patternProperties,
 * maxProperties, propertyNames), string (min/maxLength, format uuid,
 * date-time, binary, pattern, enum), integer/number (minimum, maximum),
 * boolean, null, array (items, min/maxItems), anyOf/oneOf, and local $refs.
 */
export function arbitraryFromSchema (schema: Schema, context: SchemaContext, path: string[] = []): fc.Arbitrary<unknown> {
  const hinted = context.hint?.(path.at(-1) ?? '', schema, path)
  if (hinted !== undefined) return hinted
  if (typeof schema.$ref === 'string') return arbitraryFromSchema(deref(schema, context.root), context, path)
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map((alternative) => arbitraryFromSchema(alternative, context, path)))
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) return arbitraryFromSchema(schema.allOf[0] as Schema, context, path)
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum as unknown[])
  if (Array.isArray(schema.type)) return fc.oneof(...(schema.type as string[]).map((type) => arbitraryFromSchema({ ...schema, type }, context, path)))
  switch (schema.type) {
    case 'null': return fc.constant(null)
    case 'boolean': return fc.boolean()
    case 'string': return stringArbitrary(schema)
    case 'integer': return integerArbitrary(schema)
    case 'number': return fc.double({ min: typeof schema.minimum === 'number' ? schema.minimum : -1e6, max: typeof schema.maximum === 'number' ? schema.maximum : 1e6, noNaN: true, noDefaultInfinity: true })
    case 'array': {
      const items = schema.items === undefined ? anyJsonArbitrary : arbitraryFromSchema(schema.items as Schema, context, [...path, '[]'])
      const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0
      const maxLength = typeof schema.maxItems === 'number' ? schema.maxItems : 10
      return fc.array(items, { minLength, maxLength, size: 'small' })
    }
    case 'object': return objectArbitrary(schema, context, path)
    case undefined:
      if (schema.properties !== undefined || schema.additionalProperties !== undefined) return objectArbitrary(schema, context, path)
      return anyJsonArbitrary
    default: throw new Error(`arbitraryFromSchema: unsupported type ${JSON.stringify(schema.type)} at ${path.join('.')}`)
  }
}

// ---------------------------------------------------------------------------
// A JSON tree that can express what JSON.stringify cannot: duplicate keys,
// own `__proto__` keys, and number literals such as -0, 1e309 or 2^53 + 1.

export type JsonNode =
  | { kind: 'value', value: null | boolean | number | string }
  | { kind: 'literal', text: string }
  | { kind: 'array', items: JsonNode[] }
  | { kind: 'object', entries: Array<[string, JsonNode]> }

export function toNode (value: unknown): JsonNode {
  if (Array.isArray(value)) return { kind: 'array', items: value.map(toNode) }
  if (value !== null && typeof value === 'object') return { kind: 'object', entries: Object.entries(value).map(([key, child]) => [key, toNode(child)]) }
  if (value === undefined) return { kind: 'value', value: null }
  return { kind: 'value', value: value as null | boolean | number | string }
}

/** Serialises a tree; iterative, so trees thousands deep do not overflow the stack. */
export function serialize (root: JsonNode): string {
  const out: string[] = []
  const stack: Array<JsonNode | string> = [root]
  while (stack.length > 0) {
    const item = stack.pop() as JsonNode | string
    if (typeof item === 'string') {
      out.push(item)
      continue
    }
    switch (item.kind) {
      case 'value': out.push(JSON.stringify(item.value)); break
      case 'literal': out.push(item.text); break
      case 'array':
        stack.push(']')
        for (let index = item.items.length - 1; index >= 0; index--) {
          stack.push(item.items[index] as JsonNode)
          if (index > 0) stack.push(',')
        }
        out.push('[')
        break
      case 'object':
        stack.push('}')
        for (let index = item.entries.length - 1; index >= 0; index--) {
          const [key, child] = item.entries[index] as [string, JsonNode]
          stack.push(child)
          stack.push(`${JSON.stringify(key)}:`)
          if (index > 0) stack.push(',')
        }
        out.push('{')
        break
    }
  }
  return out.join('')
}

/** Every node in pre-order with the function that replaces it in place (undefined for the root). */
export function nodesOf (root: JsonNode): Array<{ node: JsonNode, replace: ((next: JsonNode) => void) | undefined }> {
  const found: Array<{ node: JsonNode, replace: ((next: JsonNode) => void) | undefined }> = []
  const stack: Array<{ node: JsonNode, replace: ((next: JsonNode) => void) | undefined }> = [{ node: root, replace: undefined }]
  while (stack.length > 0) {
    const current = stack.pop() as { node: JsonNode, replace: ((next: JsonNode) => void) | undefined }
    found.push(current)
    const { node } = current
    if (node.kind === 'array') {
      node.items.forEach((child, index) => stack.push({ node: child, replace: (next) => { node.items[index] = next } }))
    } else if (node.kind === 'object') {
      node.entries.forEach((entry) => stack.push({ node: entry[1], replace: (next) => { entry[1] = next } }))
    }
  }
  return found
}

/** A tree nested `depth` levels deep: arrays, objects, or both alternating. */
export function nestedNode (depth: number, shape: 'array' | 'object' | 'mixed', leaf: JsonNode = { kind: 'value', value: 'x' }): JsonNode {
  let node = leaf
  for (let level = 0; level < depth; level++) {
    const asArray = shape === 'array' || (shape === 'mixed' && level % 2 === 0)
    node = asArray ? { kind: 'array', items: [node] } : { kind: 'object', entries: [['a', node]] }
  }
  return node
}
