// Request generators for the API fuzz suite: every operation of openapi.yaml, with fuzzed paths, query strings, headers and bodies.
import fc from 'fast-check'
import { rawFilter } from './filter-arbitraries.js'
import { arbitraryFromSchema, deref, nestedNode, nodesOf, serialize, textArbitrary, toNode, trimToLength, wordsArbitrary, type JsonNode, type Schema, type SchemaContext } from './fuzz-schema.js'

// ---------------------------------------------------------------------------
// The operations, read from the spec at run time: a new endpoint is fuzzed without a change here.

export interface Parameter {
  name: string
  schema: Schema
  required: boolean
}

export interface SpecOperation {
  id: string
  method: string
  template: string
  pathParameters: Parameter[]
  queryParameters: Parameter[]
  jsonBody: Schema | undefined
  multipartBody: Schema | undefined
  authenticated: boolean
}

interface RawOperation {
  operationId?: string
  parameters?: Array<{ name: string, in: string, required?: boolean, schema?: Schema }>
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  security?: unknown[]
}

export interface Spec {
  paths: Record<string, Record<string, RawOperation>>
  security?: unknown[]
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

export function readOperations (spec: Spec): SpecOperation[] {
  const operations: SpecOperation[] = []
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue
      const parameters = operation.parameters ?? []
      const pick = (where: string): Parameter[] => parameters.filter((parameter) => parameter.in === where)
        .map((parameter) => ({ name: parameter.name, schema: parameter.schema ?? {}, required: parameter.required === true }))
      const content = operation.requestBody?.content ?? {}
      const security = operation.security ?? spec.security ?? []
      operations.push({
        id: operation.operationId ?? `${method} ${template}`,
        method: method.toUpperCase(),
        template,
        pathParameters: pick('path'),
        queryParameters: pick('query'),
        jsonBody: content['application/json']?.schema,
        multipartBody: content['multipart/form-data']?.schema,
        authenticated: security.some((requirement) => Object.keys(requirement as object).length > 0)
      })
    }
  }
  return operations
}

export type FuzzClass = 'auth' | 'path' | 'query' | 'valid' | 'invalid' | 'nasty' | 'multipart'

export function classesFor (operation: SpecOperation): FuzzClass[] {
  const classes: FuzzClass[] = ['auth', 'query', 'nasty']
  if (operation.pathParameters.length > 0) classes.push('path')
  if (operation.jsonBody !== undefined) classes.push('valid', 'invalid')
  if (operation.multipartBody !== undefined) classes.push('multipart')
  return classes
}

// ---------------------------------------------------------------------------
// The world the requests refer to: keys and the IDs of real objects, which grow as the run creates them.

export interface FuzzWorld {
  ownKey: string
  otherOrgKey: string
  revokedKey: string
  /** Real object IDs by path parameter name: the caller's own, and another organisation's. */
  own: Record<string, string[]>
  other: Record<string, string[]>
  /** Cursors from Link headers of the caller's own listings. */
  cursors: string[]
  /** Where the local page server answers (URL ingest fetches from it). */
  pageServer: string
  /** Small real files made at set-up (PDF, DOCX) holding a marker. */
  sampleFiles: Array<{ name: string, type: string, content: Buffer }>
}

/** Every document text and file the suite sends carries one of these, so the log check can find any that leaks. */
export const MARKER_PATTERN = /FZMARK[0-9a-f]{8}/
export const markerArbitrary = fc.integer({ min: 0, max: 0xffffffff }).map((n) => `FZMARK${n.toString(16).padStart(8, '0')}`)

// ---------------------------------------------------------------------------
// A request plan: symbolic where it names real objects (resolved when sent, since the world changes).

export type AuthVariant =
  | 'own' | 'own-lowercase-scheme' | 'own-uppercase-scheme' | 'other-org' | 'revoked' | 'missing' | 'empty'
  | 'basic' | 'no-scheme' | 'two-spaces' | 'tab' | 'uppercase-hex' | 'short' | 'long' | 'trailing-garbage'
  | 'unknown' | 'wrong-secret' | 'latin1' | 'huge' | 'sql' | 'two-keys' | 'bearer-only' | 'trailing-space'

/** What each variant should get on an authenticated route: a status, or 'accepted' (neither 401 nor 403). */
export const AUTH_OUTCOME: Record<AuthVariant, 401 | 403 | 'accepted' | 'either'> = {
  own: 'accepted',
  'own-lowercase-scheme': 'accepted',
  'own-uppercase-scheme': 'accepted',
  'other-org': 'accepted',
  revoked: 403,
  missing: 401,
  empty: 401,
  basic: 401,
  'no-scheme': 401,
  'two-spaces': 401,
  tab: 401,
  'uppercase-hex': 401,
  short: 401,
  long: 401,
  'trailing-garbage': 401,
  unknown: 401,
  'wrong-secret': 401,
  latin1: 401,
  huge: 401,
  sql: 401,
  'two-keys': 401,
  'bearer-only': 401,
  // A real HTTP parser trims it; app.inject does not. Either answer is defensible.
  'trailing-space': 'either'
}

export type SegmentPlan =
  | { kind: 'own' | 'other', index: number }
  | { kind: 'raw', text: string }

export type BodyPlan =
  | { kind: 'none' }
  | { kind: 'text', text: string }
  | { kind: 'bytes', bytes: number[] }
  | { kind: 'multipart', build: MultipartPlan }

export interface RequestPlan {
  cls: FuzzClass
  /** What kind of request this is, for the report. */
  note: string
  method: string
  template: string
  segments: Record<string, SegmentPlan>
  query: string
  cursorIndex: number | undefined
  auth: AuthVariant
  headers: Record<string, string>
  /** undefined: no Content-Type header at all. */
  contentType: string | undefined
  body: BodyPlan
  /** A status the request must get, when the plan makes it unambiguous. */
  expectStatus?: number[]
}

export interface ResolvedRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload: Buffer | undefined
}

function hex (length: number, seed: number): string {
  let out = ''
  let state = seed >>> 0
  while (out.length < length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    out += state.toString(16).padStart(8, '0')
  }
  return out.slice(0, length)
}

function authHeader (variant: AuthVariant, world: FuzzWorld): string | undefined {
  const own = world.ownKey
  switch (variant) {
    case 'own': return `Bearer ${own}`
    case 'own-lowercase-scheme': return `bearer ${own}`
    case 'own-uppercase-scheme': return `BEARER ${own}`
    case 'other-org': return `Bearer ${world.otherOrgKey}`
    case 'revoked': return `Bearer ${world.revokedKey}`
    case 'missing': return undefined
    case 'empty': return ''
    case 'basic': return `Basic ${own}`
    case 'no-scheme': return own
    case 'two-spaces': return `Bearer  ${own}`
    case 'tab': return `Bearer\t${own}`
    case 'uppercase-hex': return `Bearer jack_${own.slice(5).toUpperCase()}`
    case 'short': return `Bearer ${own.slice(0, -1)}`
    case 'long': return `Bearer ${own}0`
    case 'trailing-garbage': return `Bearer ${own} x`
    case 'unknown': return `Bearer jack_${hex(48, 7)}`
    case 'wrong-secret': return `Bearer ${own.slice(0, 16)}${hex(37, 11)}`
    case 'latin1': return `Bearer jack_${'é'.repeat(48)}`
    case 'huge': return `Bearer jack_${'a'.repeat(20_000)}`
    case 'sql': return 'Bearer jack_\' OR 1=1 --'
    case 'two-keys': return `Bearer ${own}, Bearer ${world.otherOrgKey}`
    case 'bearer-only': return 'Bearer'
    case 'trailing-space': return `Bearer ${own} `
  }
}

function pick<T> (items: T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length]
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function resolveRequest (plan: RequestPlan, world: FuzzWorld): ResolvedRequest {
  let path = plan.template
  for (const [name, segment] of Object.entries(plan.segments)) {
    let text: string
    if (segment.kind === 'raw') text = segment.text
    else text = pick((segment.kind === 'own' ? world.own : world.other)[name] ?? [], segment.index) ?? NIL_UUID
    path = path.replace(`{${name}}`, text)
  }
  let query = plan.query
  if (plan.cursorIndex !== undefined) {
    const cursor = pick(world.cursors, plan.cursorIndex)
    if (cursor !== undefined) query += `${query === '' ? '' : '&'}cursor=${encodeURIComponent(cursor)}`
  }
  const headers: Record<string, string> = { ...plan.headers }
  const authorization = authHeader(plan.auth, world)
  if (authorization !== undefined) headers.authorization = authorization
  let payload: Buffer | undefined
  let contentType = plan.contentType
  switch (plan.body.kind) {
    case 'none': break
    case 'text': payload = Buffer.from(plan.body.text, 'utf8'); break
    case 'bytes': payload = Buffer.from(plan.body.bytes); break
    case 'multipart': {
      const built = buildMultipart(plan.body.build, world)
      payload = built.body
      contentType ??= built.contentType
      break
    }
  }
  if (contentType !== undefined) headers['content-type'] = contentType
  return { method: plan.method, url: query === '' ? path : `${path}?${query}`, headers, payload }
}

// ---------------------------------------------------------------------------
// Headers: Authorization, Idempotency-Key, Accept.

const anyAuth: fc.Arbitrary<AuthVariant> = fc.oneof(
  { arbitrary: fc.constantFrom<AuthVariant>('own', 'own-lowercase-scheme', 'own-uppercase-scheme', 'other-org'), weight: 3 },
  { arbitrary: fc.constantFrom<AuthVariant>('revoked', 'missing', 'empty', 'basic', 'no-scheme', 'two-spaces', 'tab', 'uppercase-hex', 'short', 'long', 'trailing-garbage', 'unknown', 'latin1', 'huge', 'sql', 'two-keys', 'bearer-only', 'trailing-space'), weight: 6 },
  // argon2 runs for a known prefix: worth a few, not hundreds.
  { arbitrary: fc.constant<AuthVariant>('wrong-secret'), weight: 1 }
)

const printableAscii = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 255 })

/** Idempotency-Key values: usually none, else valid, reused, and odd ones (empty, too long, spaces, Latin-1). */
export const idempotencyKeyArbitrary: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 8 },
  { arbitrary: printableAscii, weight: 2 },
  { arbitrary: fc.constantFrom('fuzz-reused-key', 'fuzz-reused-key-2'), weight: 2 },
  { arbitrary: fc.uuid(), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', 'a b', 'tab\there', 'é', 'x'.repeat(256), 'x'.repeat(4096), '"quoted"', 'null', '0', '-1', '../../etc/passwd', 'key,other'), weight: 3 }
)

const acceptArbitrary: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.constantFrom('*/*', 'application/json', 'text/event-stream', 'text/html', 'application/xml', 'application/json;q=0', 'image/png', ''), weight: 2 }
)

function extraHeaders (idempotencyKey: string | undefined, accept: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
  if (accept !== undefined) headers.accept = accept
  return headers
}

// ---------------------------------------------------------------------------
// Content types.

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'APPLICATION/JSON', 'application/json; charset="utf-8"']
const ODD_TYPES = [
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data',
  'multipart/form-data; boundary=', 'multipart/form-data; boundary=xyz', 'application/xml', 'application/octet-stream',
  'application/vnd.api+json', 'application/json-patch+json', 'application/jsonx', 'application/json; charset=latin1',
  'application/json; charset=utf-16', 'application/json, text/plain', ';', 'json', 'text/json', 'application/*', '*/*',
  'application/json; boundary=x; charset=utf-8; q=1', 'application/json;;', ' application/json', 'application/json\t'
]
export const jsonContentType = fc.constantFrom(...JSON_TYPES)
const anyContentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: jsonContentType, weight: 5 },
  { arbitrary: fc.constantFrom(...ODD_TYPES), weight: 4 },
  { arbitrary: fc.constant(undefined), weight: 1 }
)

// ---------------------------------------------------------------------------
// Semantic hints: property names whose values matter more than their schema says.

function documentTextArbitrary (): fc.Arbitrary<string> {
  return fc.tuple(markerArbitrary, fc.oneof(wordsArbitrary(30), textArbitrary(1, 300)), fc.constantFrom('prefix', 'suffix', 'middle'))
    .map(([marker, text, where]) => where === 'prefix' ? `${marker} ${text}` : where === 'suffix' ? `${text} ${marker}.` : `${text.slice(0, 10)} ${marker} ${text.slice(10)}`)
}

function urlArbitrary (world: FuzzWorld): fc.Arbitrary<string> {
  const local = fc.tuple(fc.constantFrom('text', 'html', 'markdown', 'missing', 'empty', 'redirect-file', 'redirect-self', 'binary', 'slow-ish'), fc.nat({ max: 999 }))
    .map(([kind, n]) => `${world.pageServer}/${kind}/${n}`)
  const refused = fc.constantFrom(
    'file:///etc/passwd', 'ftp://127.0.0.1/x', 'javascript:alert(1)', 'data:text/plain,hello', 'gopher://127.0.0.1:70/',
    'http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://metadata.google.internal/',
    'http://user:pass@127.0.0.1/', 'http://127.0.0.1:25/', 'http://127.0.0.1:6000/', 'http://nowhere.invalid/',
    'http://xn--nxasmq6b.invalid/', 'https://exämple.invalid/', 'http://[::1', 'http://', 'https:', '//127.0.0.1/',
    'relative/path', ' ', 'http://0x7f.1/', 'http://2130706433/', 'http://[::ffff:169.254.169.254]/', 'HTTP://127.0.0.1:1/'
  )
  const long = fc.nat({ max: 3 }).map((n) => `${world.pageServer}/text/${'a'.repeat(2048 - world.pageServer.length - 6 - n + 2)}`)
  return fc.oneof({ arbitrary: local, weight: 4 }, { arbitrary: refused, weight: 3 }, { arbitrary: long, weight: 1 })
}

export function schemaContext (spec: unknown, world: FuzzWorld): SchemaContext {
  return {
    root: spec,
    hint: (name, _schema, path) => {
      if (name === 'text' && path.includes('documents')) return documentTextArbitrary()
      if (name === 'filters') return rawFilter
      if (name === 'url') return urlArbitrary(world)
      if (name === 'question' || name === 'query') return fc.oneof({ arbitrary: wordsArbitrary(12), weight: 4 }, { arbitrary: textArbitrary(1, 2000), weight: 1 })
      return undefined
    }
  }
}

// ---------------------------------------------------------------------------
// Path segments.

const NON_UUID_SEGMENTS = [
  '..', '.', '%2e%2e', '%2E%2E%2F%2E%2E', '%2F', 'a%2Fb', '%00', '%ZZ', '%', '%E0%A4%A', '%C0%AF', '%ED%A0%80', ';x', 'null', 'undefined',
  '0', '-1', '1e309', 'NaN', 'true', '[]', '{}', '%7B%7D', '*', '%2A', '~', '%20', '+', 'é', '%C3%A9', '😀', '%F0%9F%98%80', '\u202e', '%E2%80%AE',
  '%E2%80%8B', `{${NIL_UUID}}`, `urn:uuid:${NIL_UUID}`, NIL_UUID.replace(/-/g, ''), `${NIL_UUID}%20`, `%20${NIL_UUID}`, `${NIL_UUID}/extra`,
  `${NIL_UUID}.json`, 'g'.repeat(8) + NIL_UUID.slice(8), `${NIL_UUID}%00`, '\'; DROP TABLE documents; --'.replace(/ /g, '%20'), '<script>', '%3Cscript%3E'
]

function segmentArbitrary (): fc.Arbitrary<SegmentPlan> {
  return fc.oneof(
    { arbitrary: fc.nat().map((index): SegmentPlan => ({ kind: 'own', index })), weight: 4 },
    { arbitrary: fc.nat().map((index): SegmentPlan => ({ kind: 'other', index })), weight: 2 },
    { arbitrary: fc.uuid().map((text): SegmentPlan => ({ kind: 'raw', text })), weight: 2 },
    { arbitrary: fc.constantFrom(NIL_UUID, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF').map((text): SegmentPlan => ({ kind: 'raw', text })), weight: 1 },
    { arbitrary: fc.constantFrom(...NON_UUID_SEGMENTS).map((text): SegmentPlan => ({ kind: 'raw', text })), weight: 4 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map((text): SegmentPlan => ({ kind: 'raw', text: encodeURIComponent(text) })), weight: 2 },
    { arbitrary: fc.integer({ min: 200, max: 20_000 }).map((length): SegmentPlan => ({ kind: 'raw', text: 'a'.repeat(length) })), weight: 1 }
  )
}

function validSegments (operation: SpecOperation): fc.Arbitrary<Record<string, SegmentPlan>> {
  const model: Record<string, fc.Arbitrary<SegmentPlan>> = {}
  for (const parameter of operation.pathParameters) {
    model[parameter.name] = fc.oneof(
      { arbitrary: fc.nat().map((index): SegmentPlan => ({ kind: 'own', index })), weight: 3 },
      { arbitrary: fc.uuid().map((text): SegmentPlan => ({ kind: 'raw', text })), weight: 1 }
    )
  }
  return fc.record(model) as fc.Arbitrary<Record<string, SegmentPlan>>
}

// ---------------------------------------------------------------------------
// Query strings.

const ODD_QUERY_VALUES = [
  '', '-1', '0', '1e309', '-1e309', '1e3', '1.5', '1.0', '9007199254740993', '99999999999999999999999', ' 5', '5 ', '+5', '0x10', '010', 'NaN', 'Infinity',
  '%00', '%ZZ', 'true', 'null', '[]', '%5B1%5D', 'é', '%C3%A9', '%F0%9F%98%80', '%ED%A0%80', 'a'.repeat(1000), '1'.repeat(400), 'processing%00', 'READY', 'ready,failed'
]
const ODD_QUERY_NAMES = ['__proto__', 'constructor', 'prototype', '__proto__[limit]', 'constructor[prototype][x]', 'limit[]', 'a[b]', 'foo', '', '%00', 'é']

function queryValueArbitrary (parameter: Parameter, context: SchemaContext): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: arbitraryFromSchema(parameter.schema, context, [parameter.name]).map((value) => encodeURIComponent(String(value))), weight: 3 },
    { arbitrary: fc.constantFrom(...ODD_QUERY_VALUES), weight: 3 },
    { arbitrary: fc.integer({ min: -2_000_000, max: 2_000_000 }).map(String), weight: 1 },
    { arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent), weight: 1 }
  )
}

function queryStringArbitrary (operation: SpecOperation, context: SchemaContext): fc.Arbitrary<{ query: string, cursor: boolean }> {
  const declared = operation.queryParameters
  const pair: fc.Arbitrary<string> = declared.length === 0
    ? fc.tuple(fc.constantFrom(...ODD_QUERY_NAMES, 'limit', 'status', 'cursor'), fc.constantFrom(...ODD_QUERY_VALUES)).map(([name, value]) => `${name}=${value}`)
    : fc.oneof(
      { arbitrary: fc.constantFrom(...declared).chain((parameter) => queryValueArbitrary(parameter, context).map((value) => `${parameter.name}=${value}`)), weight: 6 },
      { arbitrary: fc.tuple(fc.constantFrom(...ODD_QUERY_NAMES), fc.constantFrom(...ODD_QUERY_VALUES)).map(([name, value]) => `${name}=${value}`), weight: 1 },
      { arbitrary: fc.constantFrom(...declared).map((parameter) => parameter.name), weight: 1 }
    )
  const hasCursor = declared.some((parameter) => parameter.name === 'cursor')
  return fc.tuple(fc.array(pair, { maxLength: 4 }), fc.boolean(), fc.nat({ max: 9 }))
    .map(([pairs, cursor, style]) => {
      // Now and then a repeated parameter (an array), or odd separators.
      const query = style === 0 && pairs.length > 0 ? [...pairs, ...pairs].join('&') : style === 1 ? pairs.join('&&') : style === 2 ? `&${pairs.join('&')}&` : pairs.join('&')
      return { query, cursor: hasCursor && cursor }
    })
}

function validQueryArbitrary (operation: SpecOperation, context: SchemaContext): fc.Arbitrary<string> {
  if (operation.queryParameters.length === 0) return fc.constant('')
  const model: Record<string, fc.Arbitrary<unknown>> = {}
  for (const parameter of operation.queryParameters) if (parameter.name !== 'cursor') model[parameter.name] = arbitraryFromSchema(parameter.schema, context, [parameter.name])
  return fc.record(model, { requiredKeys: operation.queryParameters.filter((parameter) => parameter.required).map((parameter) => parameter.name) })
    .map((values) => new URLSearchParams(Object.entries(values).map(([name, value]): [string, string] => [name, String(value)])).toString())
}

// ---------------------------------------------------------------------------
// Bodies: valid, invalid (mutated), nasty.

const NASTY_STRINGS = [
  'a\u0000b', '\u0000', 'lone \ud800 high', 'lone \udc00 low', '\udfff\ud800', '\u202eRTL override\u202c', '\u200f\u200e\u061c', 'zero\u200bwidth\u200d\ufeff',
  '😀🙂👩‍👩‍👧‍👦🏳️‍🌈', 'e\u0301\u0301\u0301', '\u{10ffff}', '\uffff\ufffe', '\\u0000', '%00', '$' + '{jndi:ldap://x}', '{{7*7}}', '\'; DROP TABLE documents; --',
  '<script>alert(1)</script>', '\r\n\r\nHTTP/1.1 200 OK', ' \t\n\r ', '', 'null', 'true', '-0', '1e309', '__proto__', 'constructor', '\u0085\u2028\u2029',
  'Ⅻ ﬁ Å Å', 'ǅ İ ß', 'x'.repeat(2001)
]
const NASTY_NUMBERS = ['-0', '0.0', '-0.0', '1e308', '1e309', '-1e309', '9007199254740993', '-9007199254740993', '1e-400', '4.9e-324', '1E2', '128.0', '5e2', '0.1e1', '1.5', '123456789012345678901234567890', '0e0', '-1']
const MALFORMED_BODIES = [
  '', ' ', '{', '}', '[', '{"', '{"a"', '{"a":', '{"a":1', '{"a":1,}', '{,}', '[1,]', '{"a" 1}', '{a:1}', '{\'a\':1}', 'nul', 'tru', 'NaN', 'Infinity', '-Infinity',
  'undefined', '{"a":NaN}', '{"a":Infinity}', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":0x10}', '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":"\n"}', '{"a":1}//c', '/*c*/{}', '{}x', '{}{}', '[]]',
  'null', 'true', 'false', '0', '-0', '"string"', '[]', '[{}]', '{}', '\ufeff', '\ufeff{}', '\ufeff\ufeff{}', '\u0000', '{"a":"\u0000"}', '\u00a0{}', '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}', '{"a":{"__proto__":null}}'
]
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xef, 0xbb, 0xbf, 0xff]]

/** Keys Fastify's JSON parser refuses: `__proto__` anywhere, and `constructor` holding a `prototype`. */
const POLLUTING_KEY = /"__proto__":|"constructor":\{"prototype":/

/** Whether the text is JSON, a leading BOM allowed (RFC 8259 lets a parser ignore it, and Fastify's does). */
function parsesAsJson (text: string): boolean {
  try {
    JSON.parse(text.replace(/^\ufeff/, ''))
    return true
  } catch {
    return false
  }
}

type Mutation =
  | { kind: 'wrong-type', at: number, value: unknown }
  | { kind: 'remove-key', at: number, which: number }
  | { kind: 'extra-key', at: number, key: string, value: unknown }
  | { kind: 'null', at: number }
  | { kind: 'proto-key', at: number, key: '__proto__' | 'constructor' | 'prototype', value: 'object' | 'prototype-object' | 'null' | 'string' }
  | { kind: 'duplicate-key', at: number, value: unknown }
  | { kind: 'number', at: number, literal: string }
  | { kind: 'string', at: number, text: string }
  | { kind: 'deep', at: number, depth: number, shape: 'array' | 'object' | 'mixed' }
  | { kind: 'huge-string', at: number, length: number, spaces: boolean }
  | { kind: 'many-items', at: number, count: number }

const WRONG_VALUES: unknown[] = [0, -1, 1.5, '6', '', 'x', true, false, null, [], [1, 'a'], {}, { a: 'b' }, [[[]]], { $in: 'x' }]

const mutationArbitrary = (large: boolean): fc.Arbitrary<Mutation> => {
  const at = fc.nat()
  const options: Array<fc.WeightedArbitrary<Mutation>> = [
    { arbitrary: fc.record({ kind: fc.constant('wrong-type' as const), at, value: fc.constantFrom(...WRONG_VALUES) }), weight: 5 },
    { arbitrary: fc.record({ kind: fc.constant('remove-key' as const), at, which: fc.nat() }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('extra-key' as const), at, key: fc.oneof(fc.constantFrom('extra', 'id', 'org_id', 'status', '$or', '$where', ''), fc.string({ maxLength: 10 })), value: fc.constantFrom(...WRONG_VALUES) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('null' as const), at }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('proto-key' as const), at, key: fc.constantFrom('__proto__' as const, 'constructor' as const, 'prototype' as const), value: fc.constantFrom('object' as const, 'prototype-object' as const, 'null' as const, 'string' as const) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('duplicate-key' as const), at, value: fc.constantFrom(...WRONG_VALUES, 'other') }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('number' as const), at, literal: fc.constantFrom(...NASTY_NUMBERS) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('string' as const), at, text: fc.constantFrom(...NASTY_STRINGS) }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant('deep' as const), at, depth: fc.constantFrom(2, 16, 64, 300, 1000, 3000), shape: fc.constantFrom('array' as const, 'object' as const, 'mixed' as const) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('many-items' as const), at, count: fc.constantFrom(51, 65, 101, 1001, 10_000) }), weight: 1 }
  ]
  // 1–2 MB strings: sparingly, they cost real time.
  if (large) options.push({ arbitrary: fc.record({ kind: fc.constant('huge-string' as const), at, length: fc.integer({ min: 1_000_000, max: 2_000_000 }), spaces: fc.boolean() }), weight: 1 })
  return fc.oneof(...options)
}

function applyMutation (root: JsonNode, mutation: Mutation): { root: JsonNode, note: string } {
  const nodes = nodesOf(root)
  const target = nodes[mutation.at % nodes.length] as (typeof nodes)[number]
  const replace = (next: JsonNode): JsonNode => {
    if (target.replace === undefined) return next
    target.replace(next)
    return root
  }
  const objects = nodes.filter((entry) => entry.node.kind === 'object')
  const object = objects[mutation.at % Math.max(objects.length, 1)]?.node as Extract<JsonNode, { kind: 'object' }> | undefined
  switch (mutation.kind) {
    case 'wrong-type': return { root: replace(toNode(mutation.value)), note: `a node set to ${JSON.stringify(mutation.value)}` }
    case 'null': return { root: replace({ kind: 'value', value: null }), note: 'a node set to null' }
    case 'remove-key':
      if (object === undefined || object.entries.length === 0) return { root, note: 'nothing to remove' }
      return { root, note: `removed "${object.entries.splice(mutation.which % object.entries.length, 1)[0]?.[0] ?? ''}"` }
    case 'extra-key':
      if (object === undefined) return { root, note: 'no object for an extra key' }
      object.entries.push([mutation.key, toNode(mutation.value)])
      return { root, note: `extra key ${JSON.stringify(mutation.key)}` }
    case 'proto-key': {
      if (object === undefined) return { root, note: 'no object for a prototype key' }
      const value: JsonNode = mutation.value === 'object'
        ? { kind: 'object', entries: [['polluted', { kind: 'value', value: 'yes' }], ['isAdmin', { kind: 'value', value: true }]] }
        : mutation.value === 'prototype-object'
          ? { kind: 'object', entries: [['prototype', { kind: 'object', entries: [['polluted', { kind: 'value', value: 'yes' }]] }]] }
          : mutation.value === 'null' ? { kind: 'value', value: null } : { kind: 'value', value: 'x' }
      object.entries.splice(mutation.at % (object.entries.length + 1), 0, [mutation.key, value])
      return { root, note: `"${mutation.key}" key (${mutation.value})` }
    }
    case 'duplicate-key': {
      if (object === undefined || object.entries.length === 0) return { root, note: 'no key to duplicate' }
      const [key] = object.entries[mutation.at % object.entries.length] as [string, JsonNode]
      object.entries.push([key, toNode(mutation.value)])
      return { root, note: `duplicate key "${key}"` }
    }
    case 'number': return { root: replace({ kind: 'literal', text: mutation.literal }), note: `number literal ${mutation.literal}` }
    case 'string': return { root: replace({ kind: 'value', value: mutation.text }), note: `string ${JSON.stringify(mutation.text.slice(0, 30))}` }
    case 'deep': return { root: replace(nestedNode(mutation.depth, mutation.shape)), note: `${mutation.shape} nested ${mutation.depth} deep` }
    case 'many-items': return { root: replace({ kind: 'array', items: Array.from({ length: mutation.count }, (_, index) => ({ kind: 'value', value: `item ${index}` })) }), note: `array of ${mutation.count}` }
    case 'huge-string': {
      const strings = nodes.filter((entry) => entry.node.kind === 'value' && typeof entry.node.value === 'string')
      const chosen = strings[mutation.at % Math.max(strings.length, 1)] ?? target
      // With spaces it is text to chunk; without, one "word" longer than any chunk or index entry.
      const filler = mutation.spaces ? 'lorem ipsum '.repeat(Math.ceil(mutation.length / 12)) : 'x'.repeat(mutation.length)
      const huge: JsonNode = { kind: 'value', value: `FZMARK${'0'.repeat(8)} ${filler}`.slice(0, mutation.length) }
      const note = `${mutation.length}-character string${mutation.spaces ? '' : ' without spaces'}`
      if (chosen.replace === undefined) return { root: huge, note }
      chosen.replace(huge)
      return { root, note }
    }
  }
}

function validBodyArbitrary (operation: SpecOperation, context: SchemaContext): fc.Arbitrary<unknown> {
  return operation.jsonBody === undefined ? fc.constant(undefined) : arbitraryFromSchema(operation.jsonBody, context)
}

function jsonBody (value: unknown): BodyPlan {
  return value === undefined ? { kind: 'none' } : { kind: 'text', text: JSON.stringify(value) }
}

// ---------------------------------------------------------------------------
// Multipart bodies, built byte by byte so they can be broken anywhere.

export interface MultipartPart {
  name: string | undefined
  filename?: string
  /** `filename*=UTF-8''…` instead of filename=. */
  extendedFilename?: boolean
  type?: string
  /** A sample file by index, or literal content. */
  content: { sample: number } | { text: string } | { bytes: number[] }
}

export interface MultipartPlan {
  boundary: string
  /** The boundary the Content-Type header names (usually the same). */
  headerBoundary: string | null
  parts: MultipartPart[]
  lineEnding: '\r\n' | '\n'
  closing: 'normal' | 'missing' | 'no-final-newline' | 'truncated'
  truncateAt: number
  preamble: string
  epilogue: string
  contentType: 'multipart/form-data' | 'multipart/mixed' | 'multipart/form-data-quoted' | 'multipart/form-data-charset'
}

function buildMultipart (plan: MultipartPlan, world: FuzzWorld): { body: Buffer, contentType: string } {
  const eol = plan.lineEnding
  const chunks: Buffer[] = [Buffer.from(plan.preamble)]
  for (const part of plan.parts) {
    let disposition = 'Content-Disposition: form-data'
    if (part.name !== undefined) disposition += `; name="${part.name}"`
    let content: Buffer
    let filename = part.filename
    let type = part.type
    if ('sample' in part.content) {
      const sample = world.sampleFiles[part.content.sample % world.sampleFiles.length] as FuzzWorld['sampleFiles'][number]
      content = sample.content
      filename ??= sample.name
      type ??= sample.type
    } else {
      content = 'text' in part.content ? Buffer.from(part.content.text, 'utf8') : Buffer.from(part.content.bytes)
    }
    if (filename !== undefined) disposition += part.extendedFilename === true ? `; filename*=UTF-8''${encodeURIComponent(filename)}` : `; filename="${filename}"`
    const headers = [disposition, ...(type === undefined ? [] : [`Content-Type: ${type}`])]
    chunks.push(Buffer.from(`--${plan.boundary}${eol}${headers.join(eol)}${eol}${eol}`), content, Buffer.from(eol))
  }
  if (plan.closing !== 'missing') chunks.push(Buffer.from(`--${plan.boundary}--${plan.closing === 'no-final-newline' ? '' : eol}${plan.epilogue}`))
  let body = Buffer.concat(chunks)
  if (plan.closing === 'truncated') body = body.subarray(0, plan.truncateAt % Math.max(body.length, 1))
  let contentType: string
  switch (plan.contentType) {
    case 'multipart/form-data': contentType = plan.headerBoundary === null ? 'multipart/form-data' : `multipart/form-data; boundary=${plan.headerBoundary}`; break
    case 'multipart/form-data-quoted': contentType = `multipart/form-data; boundary="${plan.headerBoundary ?? ''}"`; break
    case 'multipart/form-data-charset': contentType = `multipart/form-data; charset=utf-8; boundary=${plan.headerBoundary ?? ''}`; break
    case 'multipart/mixed': contentType = `multipart/mixed; boundary=${plan.headerBoundary ?? ''}`; break
  }
  return { body, contentType }
}

const boundaryArbitrary = fc.oneof(
  { arbitrary: fc.stringMatching(/^[0-9A-Za-z'()+_,.\-/:=?]{1,70}$/).filter((boundary) => !boundary.endsWith(' ')), weight: 4 },
  { arbitrary: fc.constantFrom('----WebKitFormBoundary7MA4YWxkTrZu0gW', 'x', '--', '-'.repeat(70), 'a'.repeat(71), 'a'.repeat(500), 'b o u n d', 'é', '""'), weight: 1 }
)

/** Text file contents: a marker, words, and now and then odd encodings. */
const textFileContent = fc.oneof(
  { arbitrary: fc.tuple(markerArbitrary, wordsArbitrary(40)).map(([marker, words]): MultipartPart['content'] => ({ text: `${words}. ${marker} ${words}.` })), weight: 6 },
  { arbitrary: fc.tuple(markerArbitrary, fc.string({ unit: 'grapheme', maxLength: 200 })).map(([marker, text]): MultipartPart['content'] => ({ text: `${marker}\n${text}` })), weight: 2 },
  { arbitrary: markerArbitrary.map((marker): MultipartPart['content'] => ({ bytes: [0xff, 0xfe, ...Buffer.from(`${marker} utf-16`, 'utf16le')] })), weight: 1 },
  { arbitrary: markerArbitrary.map((marker): MultipartPart['content'] => ({ bytes: [...Buffer.from(`${marker} caf`, 'latin1'), 0xe9] })), weight: 1 },
  { arbitrary: fc.constantFrom<MultipartPart['content']>({ text: '' }, { text: ' \n\t ' }, { text: '\u0000\u0000' }), weight: 1 }
)
const oddFileContent = fc.constantFrom<MultipartPart['content']>(
  { bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13] },
  { bytes: [...Buffer.from('%PDF-1.7\n%broken pdf FZMARK00000000\n')] },
  { bytes: [0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0] },
  { bytes: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] },
  { bytes: [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0] },
  { bytes: [0, 1, 2, 3, 255, 254, 0, 0] },
  { text: '<html><body>FZMARK00000000 not a text file?</body></html>' },
  { text: '{"json": "FZMARK00000000"}' }
)

const FILENAMES = ['notes.txt', 'README.md', 'a.TXT', 'report.pdf', 'letter.docx', 'image.png', 'no-extension', '', '.txt', '../../etc/passwd', '..\\..\\windows\\win.ini',
  'ü n i c ø d e.txt', '😀.md', 'a"b.txt', 'a;b.txt', 'x'.repeat(300) + '.txt', 'file\u202etxt.exe', 'nul\u0000byte.txt', 'CON.txt']
const FILE_TYPES = ['text/plain', 'text/markdown', 'application/pdf', 'application/octet-stream', 'image/png', 'text/plain; charset=utf-8', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', '', 'garbage']

function fieldValueArbitrary (name: string, context: SchemaContext): fc.Arbitrary<string> {
  if (name === 'metadata') {
    const valid = arbitraryFromSchema({ type: 'object', maxProperties: 64, propertyNames: { minLength: 1, maxLength: 256 }, additionalProperties: { type: 'string', maxLength: 8192 } }, context)
    return fc.oneof(
      { arbitrary: valid.map((value) => JSON.stringify(value)), weight: 4 },
      { arbitrary: fc.constantFrom('', ' ', '{', '[]', '"x"', 'null', '{"a":1}', '{"a":{"b":"c"}}', '{"__proto__":{"x":"y"}}', '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"":"x"}', `{"${'k'.repeat(257)}":"v"}`, '{"a":"b","a":"c"}', '\ufeff{}', '{"constructor":{"prototype":{"x":"y"}}}', `[${'['.repeat(2000)}${']'.repeat(2000)}]`), weight: 3 }
    )
  }
  if (name.startsWith('chunk_')) {
    return fc.oneof(
      { arbitrary: fc.integer({ min: name === 'chunk_size' ? 128 : 0, max: name === 'chunk_size' ? 4096 : 127 }).map(String), weight: 4 },
      { arbitrary: fc.constantFrom('', ' 256 ', '-1', '0', '127', '4097', '513', '1e3', '1.5', '0x100', 'abc', '256abc', '９', '99999999999999999999', '-0', '+256'), weight: 3 }
    )
  }
  return textArbitrary(0, 200)
}

interface MultipartForms {
  /** Forms any parser should read: a file part, valid or odd fields. */
  wellFormed: fc.Arbitrary<{ plan: MultipartPlan, note: string, wellFormed: boolean }>
  /** Forms broken anywhere: parts, boundaries, line endings, truncation. */
  any: fc.Arbitrary<{ plan: MultipartPlan, note: string, wellFormed: boolean }>
}

function multipartForms (operation: SpecOperation, context: SchemaContext, world: FuzzWorld): MultipartForms {
  const schema = deref(operation.multipartBody ?? {}, context.root)
  const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>)
  const fileFields = properties.filter(([, property]) => property.format === 'binary').map(([name]) => name)
  const textFields = properties.filter(([, property]) => property.format !== 'binary').map(([name]) => name)
  const fileField = fileFields[0] ?? 'file'

  const validFile = fc.oneof(
    { arbitrary: fc.tuple(textFileContent, fc.constantFrom('notes.txt', 'README.md', 'a.md', 'policy.TXT'), fc.constantFrom('text/plain', 'text/markdown', 'application/octet-stream')).map(([content, filename, type]): MultipartPart => ({ name: fileField, filename, type, content })), weight: 5 },
    { arbitrary: fc.nat().map((sample): MultipartPart => ({ name: fileField, content: { sample } })), weight: 2 }
  )
  const textPart = fc.constantFrom(...(textFields.length === 0 ? ['note'] : textFields))
    .chain((name) => fieldValueArbitrary(name, context).map((value): MultipartPart => ({ name, content: { text: value } })))
  const oddPart = fc.oneof(
    fc.tuple(fc.constantFrom('File', 'files', 'file[]', 'upload', '', 'fiIe'), textFileContent).map(([name, content]): MultipartPart => ({ name, filename: 'x.txt', type: 'text/plain', content })),
    fc.tuple(fc.constantFrom(...FILENAMES), fc.constantFrom(...FILE_TYPES), fc.oneof(textFileContent, oddFileContent), fc.boolean()).map(([filename, type, content, extended]): MultipartPart => ({ name: fileField, filename, type, content, extendedFilename: extended })),
    textFileContent.map((content): MultipartPart => ({ name: fileField, content })),
    textFileContent.map((content): MultipartPart => ({ name: undefined, filename: 'nameless.txt', content })),
    fc.constant<MultipartPart>({ name: fileField, content: { text: 'a plain field called file' } })
  )

  const wellFormed = fc.record({
    file: validFile,
    fields: fc.uniqueArray(textPart, { maxLength: 3, selector: (part) => part.name }),
    fileFirst: fc.boolean(),
    boundary: boundaryArbitrary
  }).map(({ file, fields, fileFirst, boundary }) => {
    // RFC 2046: 1–70 characters from a small set. Others are fair game but make no promise.
    const wellFormed = /^[0-9A-Za-z'()+_,.\-/:=?]{1,70}$/.test(boundary)
    return {
      plan: { boundary, headerBoundary: boundary, parts: fileFirst ? [file, ...fields] : [...fields, file], lineEnding: '\r\n', closing: 'normal', truncateAt: 0, preamble: '', epilogue: '', contentType: 'multipart/form-data' } satisfies MultipartPlan,
      note: wellFormed ? 'well-formed form' : `well-formed form with an odd ${boundary.length}-character boundary`,
      wellFormed
    }
  })

  const broken = fc.record({
    parts: fc.array(fc.oneof(validFile, textPart, oddPart), { maxLength: 4 }),
    boundary: boundaryArbitrary,
    headerBoundary: fc.option(fc.oneof(boundaryArbitrary, fc.constant('SAME')), { freq: 4, nil: null }),
    lineEnding: fc.constantFrom<'\r\n' | '\n'>('\r\n', '\r\n', '\n'),
    closing: fc.constantFrom<MultipartPlan['closing']>('normal', 'normal', 'missing', 'no-final-newline', 'truncated'),
    truncateAt: fc.nat(),
    preamble: fc.constantFrom('', '', 'preamble text\r\n', '\r\n', '--'),
    epilogue: fc.constantFrom('', '', 'epilogue', '\r\n--x--'),
    contentType: fc.constantFrom<MultipartPlan['contentType']>('multipart/form-data', 'multipart/form-data', 'multipart/form-data-quoted', 'multipart/form-data-charset', 'multipart/mixed')
  }).map((plan) => ({
    plan: { ...plan, headerBoundary: plan.headerBoundary === 'SAME' ? plan.boundary : plan.headerBoundary } satisfies MultipartPlan,
    note: 'odd or broken form',
    wellFormed: false
  }))

  return { wellFormed, any: fc.oneof({ arbitrary: wellFormed, weight: 2 }, { arbitrary: broken, weight: 3 }) }
}

// ---------------------------------------------------------------------------
// The plans, one arbitrary per operation and class.

function basePlan (operation: SpecOperation, cls: FuzzClass): Omit<RequestPlan, 'body' | 'contentType' | 'note'> {
  return { cls, method: operation.method, template: operation.template, segments: {}, query: '', cursorIndex: undefined, auth: operation.authenticated ? 'own' : 'missing', headers: {} }
}

/** A body the operation accepts (JSON from its schema, or a well-formed form), so that another part of the request is what is under test. */
function withValidBody (operation: SpecOperation, context: SchemaContext, world: FuzzWorld): fc.Arbitrary<{ body: BodyPlan, contentType: string | undefined }> {
  if (operation.jsonBody !== undefined) return validBodyArbitrary(operation, context).map((value) => ({ body: jsonBody(value), contentType: 'application/json' }))
  if (operation.multipartBody !== undefined) {
    return multipartForms(operation, context, world).wellFormed.filter((form) => form.wellFormed)
      .map(({ plan }) => ({ body: { kind: 'multipart', build: plan } as BodyPlan, contentType: undefined }))
  }
  return fc.constant({ body: { kind: 'none' } as BodyPlan, contentType: undefined })
}

export function requestArbitrary (operation: SpecOperation, cls: FuzzClass, spec: unknown, world: FuzzWorld): fc.Arbitrary<RequestPlan> {
  const context = schemaContext(spec, world)
  const base = basePlan(operation, cls)
  switch (cls) {
    case 'auth':
      return fc.record({
        auth: operation.authenticated ? anyAuth : fc.constantFrom<AuthVariant>('missing', 'own', 'basic', 'huge', 'revoked'),
        segments: validSegments(operation),
        idempotencyKey: idempotencyKeyArbitrary,
        accept: acceptArbitrary,
        body: withValidBody(operation, context, world)
      }).map(({ auth, segments, idempotencyKey, accept, body }): RequestPlan => {
        const outcome = AUTH_OUTCOME[auth]
        return {
          ...base,
          auth,
          segments,
          headers: extraHeaders(idempotencyKey, accept),
          ...body,
          note: `Authorization: ${auth}`,
          ...(operation.authenticated && typeof outcome === 'number' ? { expectStatus: [outcome] } : {})
        }
      })
    case 'path': {
      const model: Record<string, fc.Arbitrary<SegmentPlan>> = {}
      for (const parameter of operation.pathParameters) model[parameter.name] = segmentArbitrary()
      return fc.tuple(fc.record(model) as fc.Arbitrary<Record<string, SegmentPlan>>, withValidBody(operation, context, world))
        .map(([segments, body]): RequestPlan => {
          const isUuid = (segment: SegmentPlan): boolean => segment.kind === 'raw' && UUID.test(segment.text)
          const kinds = Object.values(segments).map((segment) => isUuid(segment) ? 'unknown UUID' : segment.kind === 'raw' ? JSON.stringify(segment.text.slice(0, 40)) : `${segment.kind} object`)
          // Another organisation's object, or an unknown UUID, is a 404 (the body is valid, so nothing is refused first).
          const missing = Object.values(segments).every((segment) => segment.kind === 'other' || isUuid(segment))
          return { ...base, segments, ...body, note: `path: ${kinds.join(', ')}`, ...(missing ? { expectStatus: [404] } : {}) }
        })
    }
    case 'query':
      return fc.tuple(fc.oneof(queryStringArbitrary(operation, context), validQueryArbitrary(operation, context).map((query) => ({ query, cursor: false }))), fc.nat(), validSegments(operation), withValidBody(operation, context, world))
        .map(([{ query, cursor }, cursorIndex, segments, body]): RequestPlan => ({ ...base, segments, query, cursorIndex: cursor ? cursorIndex : undefined, ...body, note: 'query string' }))
    case 'valid':
      return fc.record({
        value: validBodyArbitrary(operation, context),
        contentType: jsonContentType,
        segments: validSegments(operation),
        query: validQueryArbitrary(operation, context),
        idempotencyKey: idempotencyKeyArbitrary
      }).map(({ value, contentType, segments, query, idempotencyKey }): RequestPlan => ({
        ...base, segments, query, headers: extraHeaders(idempotencyKey, undefined), contentType, body: jsonBody(value), note: 'valid body'
      }))
    case 'invalid':
      return fc.record({
        value: validBodyArbitrary(operation, context),
        mutations: fc.array(mutationArbitrary(false), { minLength: 1, maxLength: 3 }),
        segments: validSegments(operation)
      }).map(({ value, mutations, segments }): RequestPlan => {
        let root = toNode(value)
        const notes: string[] = []
        for (const mutation of mutations) {
          const applied = applyMutation(root, mutation)
          root = applied.root
          notes.push(applied.note)
        }
        return { ...base, segments, contentType: 'application/json', body: { kind: 'text', text: serialize(root) }, note: `invalid: ${notes.join('; ')}` }
      })
    case 'nasty':
      return fc.record({
        value: validBodyArbitrary(operation, context),
        style: fc.constantFrom('tree', 'tree', 'tree', 'malformed', 'truncated', 'bom', 'invalid-utf8', 'method'),
        mutations: fc.array(mutationArbitrary(true), { minLength: 1, maxLength: 2 }),
        malformed: fc.constantFrom(...MALFORMED_BODIES),
        cut: fc.nat(),
        invalid: fc.constantFrom(...INVALID_UTF8),
        oddType: anyContentType,
        jsonType: jsonContentType,
        // Mutated trees mostly go as JSON, so that they reach the parser and the validator.
        asJson: fc.nat({ max: 3 }),
        method: fc.constantFrom('PUT', 'POST', 'PATCH', 'DELETE', 'GET', 'OPTIONS', 'HEAD', 'TRACE'),
        segments: validSegments(operation)
      }).map(({ value, style, mutations, malformed, cut, invalid, oddType, jsonType, asJson, method, segments }): RequestPlan => {
        const valid = value === undefined ? '{"unexpected":"body"}' : JSON.stringify(value)
        const contentType = style === 'tree' && asJson > 0 ? jsonType : oddType
        const plan = { ...base, segments, contentType }
        // A JSON body the route reads (its own Content-Type, the caller's key) that cannot be parsed, or that
        // holds a prototype-polluting key, is a 400 — whatever else is wrong with it.
        const parsedAsJson = operation.jsonBody !== undefined && contentType !== undefined && JSON_TYPES.includes(contentType)
        const badRequest = (text: string): Pick<RequestPlan, 'expectStatus'> => parsedAsJson && (!parsesAsJson(text) || POLLUTING_KEY.test(text)) ? { expectStatus: [400] } : {}
        switch (style) {
          case 'malformed': return { ...plan, body: { kind: 'text', text: malformed }, note: `malformed JSON ${JSON.stringify(malformed.slice(0, 40))}`, ...badRequest(malformed) }
          case 'truncated': {
            const text = trimToLength(valid, cut % Math.max(valid.length, 1))
            return { ...plan, body: { kind: 'text', text }, note: 'truncated JSON', ...badRequest(text) }
          }
          case 'bom': return { ...plan, body: { kind: 'text', text: `\ufeff${valid}` }, note: 'BOM-prefixed JSON' }
          case 'invalid-utf8': {
            const bytes = Buffer.from(valid)
            const at = Math.min(bytes.length, cut % (bytes.length + 1))
            return { ...plan, body: { kind: 'bytes', bytes: [...bytes.subarray(0, at), ...invalid, ...bytes.subarray(at)] }, note: `invalid UTF-8 ${JSON.stringify(invalid)}`, ...(parsedAsJson ? { expectStatus: [400] } : {}) }
          }
          case 'method': return { ...plan, method, body: jsonBody(value), note: `method ${method}` }
          default: {
            let root = toNode(value ?? {})
            const notes: string[] = []
            for (const mutation of mutations) {
              const applied = applyMutation(root, mutation)
              root = applied.root
              notes.push(applied.note)
            }
            const text = serialize(root)
            return { ...plan, body: { kind: 'text', text }, note: `nasty: ${notes.join('; ')}`, ...badRequest(text) }
          }
        }
      })
    case 'multipart':
      return fc.record({
        form: multipartForms(operation, context, world).any,
        idempotencyKey: idempotencyKeyArbitrary,
        // Now and then the form under another Content-Type (or multipart/form-data without its boundary).
        override: fc.oneof(
          { arbitrary: fc.constant(null), weight: 10 },
          { arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'), weight: 1 }
        )
      }).map(({ form, idempotencyKey, override }): RequestPlan => ({
        ...base,
        headers: extraHeaders(idempotencyKey, undefined),
        contentType: override ?? undefined,
        body: { kind: 'multipart', build: form.plan },
        note: `multipart: ${form.note}${override === null ? '' : ` sent as ${override}`}`,
        ...(form.wellFormed && override === null && idempotencyKey === undefined ? { expectStatus: [202, 415, 422] } : {})
      }))
  }
}

// ---------------------------------------------------------------------------
// The curated corpus: every hand-picked edge case once per operation, run before the random plans
// (as fast-check examples), so that a known-nasty value is never left to chance.

const ALL_AUTH_VARIANTS = Object.keys(AUTH_OUTCOME) as AuthVariant[]

function curatedForm (parts: MultipartPart[], overrides: Partial<MultipartPlan> = {}): MultipartPlan {
  return { boundary: 'fuzz-boundary', headerBoundary: 'fuzz-boundary', parts, lineEnding: '\r\n', closing: 'normal', truncateAt: 0, preamble: '', epilogue: '', contentType: 'multipart/form-data', ...overrides }
}

export function corpusPlans (operation: SpecOperation, cls: FuzzClass, spec: unknown, world: FuzzWorld, seed: number): RequestPlan[] {
  const context = schemaContext(spec, world)
  const base = basePlan(operation, cls)
  // The smallest of a few valid bodies: the corpus is about everything but the body's size.
  const size = (candidate: { body: BodyPlan }): number => candidate.body.kind === 'text' ? candidate.body.text.length : 0
  const [valid] = fc.sample(withValidBody(operation, context, world), { numRuns: 8, seed }).sort((a, b) => size(a) - size(b))
  const body = valid ?? { body: { kind: 'none' } as BodyPlan, contentType: undefined }
  const [segments = {}] = fc.sample(validSegments(operation), { numRuns: 1, seed })
  const plans: RequestPlan[] = []
  switch (cls) {
    case 'auth':
      for (const auth of operation.authenticated ? ALL_AUTH_VARIANTS : ['missing', 'basic', 'huge'] as AuthVariant[]) {
        const outcome = AUTH_OUTCOME[auth]
        plans.push({ ...base, auth, segments, ...body, note: `corpus: Authorization ${auth}`, ...(operation.authenticated && typeof outcome === 'number' ? { expectStatus: [outcome] } : {}) })
      }
      break
    case 'path':
      for (const parameter of operation.pathParameters) {
        const choices: SegmentPlan[] = [{ kind: 'own', index: 0 }, { kind: 'other', index: 0 }, { kind: 'raw', text: NIL_UUID }, ...NON_UUID_SEGMENTS.map((text): SegmentPlan => ({ kind: 'raw', text }))]
        for (const segment of choices) {
          const missing = segment.kind === 'other' || (segment.kind === 'raw' && UUID.test(segment.text))
          plans.push({ ...base, segments: { ...segments, [parameter.name]: segment }, ...body, note: `corpus: ${parameter.name} ${segment.kind === 'raw' ? JSON.stringify(segment.text) : `${segment.kind} object`}`, ...(missing ? { expectStatus: [404] } : {}) })
        }
      }
      break
    case 'query': {
      if (operation.queryParameters.length === 0) {
        // Undeclared parameters are ignored; a few odd ones show it.
        for (const query of ['__proto__=1', 'constructor[prototype][x]=1', 'limit=1&limit=2', '%ZZ=%ZZ', 'a='.repeat(1000)]) plans.push({ ...base, segments, ...body, query, note: `corpus: ?${query.slice(0, 30)}` })
        break
      }
      for (const name of operation.queryParameters.map((parameter) => parameter.name)) {
        for (const value of ODD_QUERY_VALUES) plans.push({ ...base, segments, ...body, query: `${name}=${value}`, note: `corpus: ?${name}=${value.slice(0, 30)}` })
        plans.push({ ...base, segments, ...body, query: `${name}=1&${name}=2`, note: `corpus: ?${name} twice` })
      }
      for (const name of ODD_QUERY_NAMES) plans.push({ ...base, segments, ...body, query: `${name}=1`, note: `corpus: ?${name}=1` })
      break
    }
    case 'nasty': {
      const text = body.body.kind === 'text' ? body.body.text : '{"unexpected":"body"}'
      for (const contentType of [...JSON_TYPES, ...ODD_TYPES, undefined]) {
        plans.push({ ...base, segments, body: { kind: 'text', text }, contentType, note: `corpus: Content-Type ${JSON.stringify(contentType)}` })
      }
      if (operation.jsonBody === undefined) {
        // Many HTTP clients send Content-Type: application/json on every request, bodiless ones too.
        for (const text of ['', '{']) plans.push({ ...base, segments, body: { kind: 'text', text }, contentType: 'application/json', note: `corpus: application/json body ${JSON.stringify(text)} on ${operation.method}` })
      } else {
        for (const malformed of MALFORMED_BODIES) {
          plans.push({ ...base, segments, body: { kind: 'text', text: malformed }, contentType: 'application/json', note: `corpus: body ${JSON.stringify(malformed.slice(0, 40))}`, ...(!parsesAsJson(malformed) || POLLUTING_KEY.test(malformed) ? { expectStatus: [400] } : {}) })
        }
        for (const invalid of INVALID_UTF8) {
          plans.push({ ...base, segments, body: { kind: 'bytes', bytes: [...Buffer.from(text.slice(0, 1)), ...invalid, ...Buffer.from(text.slice(1))] }, contentType: 'application/json', note: `corpus: invalid UTF-8 ${JSON.stringify(invalid)}`, expectStatus: [400] })
        }
      }
      break
    }
    case 'invalid': {
      const value = body.body.kind === 'text' ? JSON.parse(body.body.text) as unknown : {}
      // Each nasty string and number once, in place of the leaves of a valid body in turn.
      const leaves = nodesOf(toNode(value)).filter((entry) => entry.node.kind === 'value' && entry.replace !== undefined).length
      const replacements = [...NASTY_STRINGS.map((text): [string, JsonNode] => [JSON.stringify(text).slice(0, 30), { kind: 'value', value: text }]), ...NASTY_NUMBERS.map((text): [string, JsonNode] => [text, { kind: 'literal', text }])]
      replacements.forEach(([label, replacement], index) => {
        const root = toNode(value)
        const target = nodesOf(root).filter((entry) => entry.node.kind === 'value' && entry.replace !== undefined)[index % Math.max(leaves, 1)]
        if (target?.replace === undefined) return
        target.replace(replacement)
        plans.push({ ...base, segments, body: { kind: 'text', text: serialize(root) }, contentType: 'application/json', note: `corpus: leaf ${index % leaves} set to ${label}` })
      })
      break
    }
    case 'multipart': {
      const file: MultipartPart = { name: 'file', filename: 'notes.txt', type: 'text/plain', content: { text: 'FZMARK00000001 corpus file text.' } }
      const forms: Array<[string, MultipartPlan]> = [
        ['a plain form', curatedForm([file])],
        ['no boundary parameter', curatedForm([file], { headerBoundary: null })],
        ['an empty boundary parameter', curatedForm([file], { headerBoundary: '' })],
        ['a different boundary in the header', curatedForm([file], { headerBoundary: 'other-boundary' })],
        ['no closing boundary', curatedForm([file], { closing: 'missing' })],
        ['cut in the middle', curatedForm([file], { closing: 'truncated', truncateAt: 60 })],
        ['LF line endings', curatedForm([file], { lineEnding: '\n' })],
        ['a 70-character boundary', curatedForm([file], { boundary: 'b'.repeat(70), headerBoundary: 'b'.repeat(70) })],
        ['a 71-character boundary', curatedForm([file], { boundary: 'b'.repeat(71), headerBoundary: 'b'.repeat(71) })],
        ['a 300-character boundary', curatedForm([file], { boundary: 'b'.repeat(300), headerBoundary: 'b'.repeat(300) })],
        ['a quoted boundary', curatedForm([file], { contentType: 'multipart/form-data-quoted' })],
        ['a boundary with spaces, unquoted', curatedForm([file], { boundary: 'b o u n d', headerBoundary: 'b o u n d' })],
        ['no parts', curatedForm([])],
        ['only fields', curatedForm([{ name: 'metadata', content: { text: '{"a":"b"}' } }])],
        ['the file under another name', curatedForm([{ ...file, name: 'upload' }])],
        ['a nameless part', curatedForm([{ ...file, name: undefined }])],
        ['two files', curatedForm([file, { ...file, filename: 'second.txt' }])],
        ['a file part without a filename', curatedForm([{ name: 'file', content: file.content }])],
        ['an empty file', curatedForm([{ ...file, content: { text: '' } }])],
        ['a PNG', curatedForm([{ ...file, filename: 'image.png', type: 'image/png', content: { bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13] } }])],
        ['metadata that is not JSON', curatedForm([file, { name: 'metadata', content: { text: '{' } }])],
        ['metadata with __proto__', curatedForm([file, { name: 'metadata', content: { text: '{"__proto__":{"x":"y"}}' } }])],
        ['chunk_size 1e3', curatedForm([file, { name: 'chunk_size', content: { text: '1e3' } }])],
        ['21 fields', curatedForm([file, ...Array.from({ length: 21 }, (_, index): MultipartPart => ({ name: `field${index}`, content: { text: 'x' } }))])]
      ]
      for (const [what, form] of forms) plans.push({ ...base, body: { kind: 'multipart', build: form }, contentType: undefined, note: `corpus: multipart with ${what}` })
      plans.push({ ...base, body: { kind: 'multipart', build: curatedForm([file]) }, contentType: 'multipart/form-data', note: 'corpus: multipart/form-data without a boundary' })
      break
    }
    case 'valid':
      break
  }
  return plans
}
