// The invariants every fuzzed response and log line must hold, and a failure log that keeps the smallest reproduction of each distinct failure.
import { checkAgainstSpec } from './contract.js'
import { MARKER_PATTERN, type FuzzWorld, type RequestPlan, type ResolvedRequest, type SpecOperation } from './fuzz-requests.js'

export interface Problem {
  kind: string
  problem: string
}

export interface InjectedResponse {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

const FULL_KEY = /jack_[0-9a-f]{48}/
const INVALID_CREDENTIALS = '{"detail":"Invalid authentication credentials"}'
const REVOKED = '{"detail":"API key has been revoked"}'
// A stack frame, a source path, or SQL text in an error detail: the cause of a failure, which belongs in the log only.
const LEAKY_DETAIL = /\n\s+at |node_modules|\.[jt]s:\d+|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate\b.+\bset\b|syntax error at|violates .* constraint|relation "|column "|invalid input syntax/i

function templatePattern (template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`)
}

/**
 * The URL to look the operation up by. The raw path is matched against the
 * template as sent (`/v1/documents/..` is a getDocument request, though URL
 * parsing would make it `/v1/`).
 */
function specUrl (operation: SpecOperation, url: string): string {
  const path = url.split('?')[0] ?? url
  return templatePattern(operation.template).test(path) ? operation.template.replace(/\{[^}]+\}/g, 'x') : url
}

export function checkResponse (operation: SpecOperation, plan: RequestPlan, request: ResolvedRequest, response: InjectedResponse, elapsedMs: number, slowMs: number): Problem[] {
  const problems: Problem[] = []
  const { statusCode: status, body } = response
  const contentType = String(response.headers['content-type'] ?? '')
  if (status >= 500) problems.push({ kind: '5xx', problem: `${status} ${body.slice(0, 200)}` })
  const spec = checkAgainstSpec(request.method, specUrl(operation, request.url), status, contentType === '' ? undefined : contentType, body)
  if (!spec.ok) problems.push({ kind: 'spec', problem: spec.problem ?? 'does not match openapi.yaml' })
  if (status >= 400 && request.method !== 'HEAD') {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = undefined
    }
    const isErrorBody = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) &&
      Object.keys(parsed).length === 1 && typeof (parsed as { detail?: unknown }).detail === 'string'
    if (!isErrorBody || !contentType.startsWith('application/json')) {
      problems.push({ kind: 'error-body', problem: `${status} error body is not exactly {"detail": string} (${contentType}): ${body.slice(0, 200)}` })
    } else if (LEAKY_DETAIL.test((parsed as { detail: string }).detail)) {
      problems.push({ kind: 'leaky-detail', problem: `${status} detail looks like a stack trace or SQL: ${body.slice(0, 300)}` })
    }
    if (status === 401 && body !== INVALID_CREDENTIALS) problems.push({ kind: 'auth-body', problem: `401 body ${body.slice(0, 200)}` })
    if (status === 403 && body !== REVOKED) problems.push({ kind: 'auth-body', problem: `403 body ${body.slice(0, 200)}` })
  }
  if (FULL_KEY.test(body) && !(operation.id === 'createKey' && status === 201 && request.method === 'POST')) {
    problems.push({ kind: 'key-in-response', problem: `${status} response holds a full API key` })
  }
  if (plan.expectStatus !== undefined && !plan.expectStatus.includes(status)) {
    problems.push({ kind: 'unexpected-status', problem: `expected ${plan.expectStatus.join(' or ')}, got ${status}: ${body.slice(0, 200)}` })
  }
  if (elapsedMs > slowMs) problems.push({ kind: 'slow', problem: `answered in ${Math.round(elapsedMs)} ms (limit ${slowMs} ms)` })
  return problems
}

/** Where in a parsed log line the strings matching `test` are, e.g. `busboyOptions.headers.authorization`. */
function pathsWhere (value: unknown, test: (text: string) => boolean, path = ''): string[] {
  if (typeof value === 'string') return test(value) ? [path === '' ? '(the line)' : path] : []
  if (value === null || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([key, child]) => pathsWhere(child, test, path === '' ? key : `${path}.${key}`))
}

/** Log lines must hold no full API key (of any kind: the pattern, not only the keys we know) and no document text (its marker). */
export function checkLogLines (lines: string[], knownKeys: Iterable<string>): Problem[] {
  const problems: Problem[] = []
  const keys = [...knownKeys]
  const hasKey = (text: string): boolean => FULL_KEY.test(text) || keys.some((known) => text.includes(known.slice(16)))
  const hasMarker = (text: string): boolean => MARKER_PATTERN.test(text)
  for (const line of lines) {
    const key = hasKey(line)
    const marker = hasMarker(line)
    if (!key && !marker) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      parsed = line
    }
    const message = typeof parsed === 'object' && parsed !== null ? String((parsed as { msg?: unknown }).msg ?? '') : ''
    const level = typeof parsed === 'object' && parsed !== null ? String((parsed as { level?: unknown }).level ?? '') : ''
    if (key) problems.push({ kind: 'key-in-log', problem: `level ${level} log line "${message}" holds an API key at ${pathsWhere(parsed, hasKey).join(', ')}: ${redact(line, keys).slice(0, 400)}` })
    if (marker) problems.push({ kind: 'text-in-log', problem: `level ${level} log line "${message}" holds document text at ${pathsWhere(parsed, hasMarker).join(', ')}: ${redact(line, keys).slice(0, 400)}` })
  }
  return problems
}

function redact (text: string, keys: string[]): string {
  let out = text.replace(new RegExp(FULL_KEY.source, 'g'), (key) => `${key.slice(0, 16)}…`)
  for (const key of keys) out = out.split(key.slice(16)).join('…')
  return out
}

/** The causes the error handler logged for a 5xx, to tell distinct bugs apart. */
export function loggedErrors (lines: string[]): string[] {
  const found: string[] = []
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: number, err?: { type?: string, message?: string, code?: string } }
      if ((entry.level ?? 0) >= 50 && entry.err !== undefined) found.push(`${entry.err.type ?? 'Error'}${entry.err.code === undefined ? '' : ` ${entry.err.code}`}: ${entry.err.message ?? ''}`.slice(0, 300))
    } catch {}
  }
  return found
}

/** A request as a reader can replay it; keys shown by role, long bodies shortened. */
export function describeRequest (request: ResolvedRequest, world: FuzzWorld): string {
  const roles: Array<[string, string]> = [[world.ownKey, '<own key>'], [world.otherOrgKey, '<other org key>'], [world.revokedKey, '<revoked key>']]
  const hide = (text: string): string => roles.reduce((out, [key, role]) => out.split(key).join(role), text)
  const lines = [`${request.method} ${hide(request.url).slice(0, 300)}${request.url.length > 300 ? `… (${request.url.length} characters)` : ''}`]
  for (const [name, value] of Object.entries(request.headers)) lines.push(`  ${name}: ${hide(JSON.stringify(value).slice(1, -1)).slice(0, 200)}`)
  if (request.payload !== undefined) {
    const text = request.payload.toString('utf8')
    const exact = Buffer.from(text, 'utf8').equals(request.payload)
    const shown = exact ? JSON.stringify(text) : `base64:${request.payload.toString('base64')}`
    lines.push(`  body (${request.payload.length} bytes${exact ? '' : ', not UTF-8'}): ${shown.length > 900 ? `${shown.slice(0, 600)} … ${shown.slice(-200)}` : shown}`)
  }
  return lines.join('\n')
}

export interface Failure {
  signature: string
  operation: string
  cls: string
  kind: string
  problem: string
  note: string
  request: string
  size: number
  status: number
  causes: string[]
  count: number
}

/** Keeps, for each distinct failure, its smallest reproduction and how often it was seen. */
export class FailureLog {
  private readonly failures = new Map<string, Failure>()

  add (failure: Omit<Failure, 'signature' | 'count'>): void {
    const subject = failure.kind.endsWith('-in-log') ? failure.problem.split(': ')[0] ?? failure.problem : failure.problem
    const normalised = `${subject} ${failure.causes.join(' ')}`
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
      .replace(/FZMARK[0-9a-f]{8}/g, '<marker>')
      .replace(/"[^"]{20,}"/g, '"…"')
      .replace(/\d+/g, 'N')
      .slice(0, 160)
    const logged = failure.kind.endsWith('-in-log')
    // Per operation, class and status (one root cause may show in several classes; better twice than hidden),
    // but a log leak once per operation and log message.
    const signature = logged ? `${failure.operation} ${failure.kind} ${normalised}` : `${failure.operation} ${failure.cls} ${failure.kind} ${failure.status} ${normalised}`
    const existing = this.failures.get(signature)
    if (existing === undefined) this.failures.set(signature, { ...failure, signature, count: 1 })
    else {
      existing.count++
      if (failure.size < existing.size) Object.assign(existing, failure, { count: existing.count })
    }
  }

  list (): Failure[] {
    return [...this.failures.values()]
  }
}
