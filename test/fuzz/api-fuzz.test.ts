// Property-based fuzzing of every operation in openapi.yaml: no 5xx, every response as the spec describes, no key or document text in the logs.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import YAML from 'yaml'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { specPath } from '../helpers/contract.js'
import { waitForDocument } from '../helpers/documents.js'
import { makeDocx, makePdf } from '../helpers/sample-files.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createApiKey } from '../../src/keys/api-key.js'
import { revokeApiKey } from '../../src/repositories/api-keys.repo.js'
import { classesFor, corpusPlans, readOperations, requestArbitrary, resolveRequest, type FuzzClass, type FuzzWorld, type RequestPlan, type ResolvedRequest, type Spec, type SpecOperation } from '../helpers/fuzz-requests.js'
import { checkLogLines, checkResponse, describeRequest, FailureLog, loggedErrors, type InjectedResponse } from '../helpers/fuzz-checks.js'

function envNumber (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got "${raw}"`)
  return value
}

const SEED = envNumber('FUZZ_SEED', 20260612) | 0
const RUNS = Math.max(1, envNumber('FUZZ_RUNS', 15))
const SLOW_MS = envNumber('FUZZ_SLOW_MS', 10_000)
/** FUZZ_VERBOSE=1 prints every request's plan and status (to see what the generators produce). */
const VERBOSE = process.env.FUZZ_VERBOSE === '1'
/** A regular expression over "<operationId> <class>", e.g. FUZZ_ONLY='ingestFile multipart'. */
const ONLY = process.env.FUZZ_ONLY === undefined || process.env.FUZZ_ONLY === '' ? undefined : new RegExp(process.env.FUZZ_ONLY)
// Random runs per class, relative to FUZZ_RUNS: multipart has the most moving parts, nasty bodies the most shapes.
const CLASS_WEIGHT: Record<FuzzClass, number> = { auth: 1, path: 1, query: 1, valid: 1, invalid: 1, nasty: 1.5, multipart: 3 }

function hash (text: string): number {
  let value = 2166136261
  for (const char of text) value = Math.imul(value ^ (char.codePointAt(0) ?? 0), 16777619)
  return value | 0
}

/** A small web server for URL ingest: pages holding a marker, and the odd answers a real site gives. */
async function startPageServer (t: Test): Promise<string> {
  const server = http.createServer((request, response) => {
    const [, kind = '', n = '0'] = (request.url ?? '/').split('/')
    const marker = `FZMARK${(hash(n) >>> 0).toString(16).padStart(8, '0')}`
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': type, ...headers })
      response.end(body)
    }
    switch (kind) {
      case 'text': return send(200, 'text/plain; charset=utf-8', `Fetched page ${marker}. Refunds are issued within 30 days.`)
      case 'markdown': return send(200, 'text/markdown', `# Heading\n\n${marker} remote work policy.`)
      case 'html': return send(200, 'text/html', `<html><head><title>t</title></head><body><article><h1>Policy</h1><p>${marker} employees may work remotely three days a week, with approval from their manager, as the policy says in full.</p></article></body></html>`)
      case 'empty': return send(200, 'text/plain', '')
      case 'binary': return send(200, 'application/octet-stream', Buffer.from([0, 1, 2, 3, 255, 254]))
      case 'redirect-file': return send(302, 'text/plain', '', { location: 'file:///etc/passwd' })
      case 'redirect-self': return send(302, 'text/plain', '', { location: request.url ?? '/' })
      case 'slow-ish': setTimeout(() => send(200, 'text/plain', `Slow page ${marker}.`), 200); return
      default: return send(404, 'text/plain', 'not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Config for the run: trace logs, URL ingest against the local page server, one attempt per job, and no rate limit in the way. */
function fuzzConfig (): Partial<Config> {
  const overrides: Record<string, unknown> = { logLevel: 'trace', workers: 1, urlAllowPrivate: true, jobMaxAttempts: 1, jobRetryBaseMs: 0 }
  // Thousands of requests a minute, many with bad keys, from one address: neither the rate limit nor the auth-failure throttle may get in the way.
  const defaults = loadConfig({}) as unknown as Record<string, unknown>
  for (const name of ['rateLimit', 'authFailureLimit']) {
    if (typeof defaults[name] === 'number') overrides[name] = 1_000_000
  }
  return overrides as Partial<Config>
}

async function ingestCorpus (app: FastifyInstance, key: string, texts: string[]): Promise<string[]> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/ingest',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ documents: texts.map((text, index) => ({ text, filename: `corpus-${index}.md`, metadata: { department: index % 2 === 0 ? 'HR' : 'legal', year: String(2020 + index) } })) })
  })
  if (response.statusCode !== 202) throw new Error(`set-up ingest failed: ${response.statusCode} ${response.body}`)
  return response.json<{ document_ids: string[] }>().document_ids
}

t.test('API fuzz: every operation of openapi.yaml', async (t) => {
  t.comment(`FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}${ONLY === undefined ? '' : ` FUZZ_ONLY=${ONLY.source}`} (set them to reproduce a run or to fuzz longer)`)
  const spec = YAML.parse(fs.readFileSync(specPath, 'utf8')) as Spec
  const operations = readOperations(spec)
  t.ok(operations.length >= 10, `${operations.length} operations read from openapi.yaml`)

  const setupStarted = Date.now()
  // The log check itself must work: a line with a key and one with document text are both caught.
  const probeKey = `jack_${'ab'.repeat(24)}`
  t.same(checkLogLines([`{"msg":"x","headers":{"authorization":"Bearer ${probeKey}"}}`, '{"msg":"y","text":"FZMARK0123abcd"}'], [probeKey]).map((problem) => problem.kind), ['key-in-log', 'text-in-log'], 'the log check finds a key and a marker')

  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { app, database } = await buildTestApp(t, { config: fuzzConfig(), logStream })
  const pageServer = await startPageServer(t)

  // The world: two organisations, spare keys to revoke, documents to find, delete and patch.
  const orgA = await createOrgWithKey(database, 'fuzz A')
  const orgB = await createOrgWithKey(database, 'fuzz B')
  const revoked = await createApiKey(database.db, orgA.orgId, 'revoked')
  await revokeApiKey(database.db, orgA.orgId, revoked.record.id)
  app.keyVerifier.forget(revoked.record.id)
  const spareA = await Promise.all([1, 2].map(async (n) => await createApiKey(database.db, orgA.orgId, `spare ${n}`)))
  const spareB = await Promise.all([1].map(async (n) => await createApiKey(database.db, orgB.orgId, `spare ${n}`)))
  const secrets = new Set([orgA.key, orgB.key, revoked.key, ...spareA.map((spare) => spare.key), ...spareB.map((spare) => spare.key)])

  const corpus = [
    'FZMARK0000c0a1 Remote work policy. Employees may work remotely up to 3 days per week with manager approval.',
    'FZMARK0000c0a2 Refund policy. Customers may return any item within 30 days of purchase for a full refund.',
    'FZMARK0000c0a3 Passwords must be at least 14 characters long and are never shared.',
    'FZMARK0000c0a4 Hotel costs are reimbursed up to 180 euros per night in capital cities.'
  ]
  const corpusA = await ingestCorpus(app, orgA.key, corpus)
  const disposableA = await ingestCorpus(app, orgA.key, corpus.map((text) => `${text} (a copy to delete)`))
  const corpusB = await ingestCorpus(app, orgB.key, corpus.slice(0, 2).map((text) => text.replace('FZMARK0000c0a', 'FZMARK0000c0b')))
  for (const id of corpusA) t.equal((await waitForDocument(app, orgA.key, id)).status, 'ready', 'corpus document ready')
  const sampleFiles = [
    { name: 'sample.pdf', type: 'application/pdf', content: Buffer.from(await makePdf(['FZMARK0000f001 A PDF about the refund policy.'])) },
    { name: 'sample.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', content: Buffer.from(await makeDocx(['FZMARK0000f002 A DOCX about remote work.'])) }
  ]

  const world: FuzzWorld = {
    ownKey: orgA.key,
    otherOrgKey: orgB.key,
    revokedKey: revoked.key,
    own: { document_id: [...disposableA], key_id: [revoked.record.id, ...spareA.map((spare) => spare.record.id)] },
    other: { document_id: [...corpusB], key_id: spareB.map((spare) => spare.record.id) },
    cursors: [],
    pageServer,
    sampleFiles
  }

  const failures = new FailureLog()
  let requests = 0
  let logChecked = 0

  /** Sends one request, checks it, and lets the world learn from the answer (new documents, keys, cursors). */
  async function send (operation: SpecOperation, plan: RequestPlan): Promise<{ request: ResolvedRequest, response: InjectedResponse | undefined }> {
    const request = resolveRequest(plan, world)
    const linesBefore = lines.length
    const started = performance.now()
    let response: InjectedResponse | undefined
    let thrown: unknown
    try {
      response = await app.inject({ method: request.method as 'GET', url: request.url, headers: request.headers, ...(request.payload === undefined ? {} : { payload: request.payload }) })
    } catch (error) {
      thrown = error
    }
    const elapsed = performance.now() - started
    requests++
    const newLines = lines.slice(linesBefore)
    const problems = response === undefined
      ? [{ kind: 'inject-threw', problem: String(thrown) }]
      : checkResponse(operation, plan, request, response, elapsed, SLOW_MS)
    problems.push(...checkLogLines(newLines, secrets))
    logChecked = lines.length
    for (const problem of problems) {
      failures.add({
        operation: operation.id,
        cls: plan.cls,
        kind: problem.kind,
        problem: problem.problem,
        note: plan.note,
        request: describeRequest(request, world),
        size: (request.payload?.length ?? 0) + request.url.length,
        status: response?.statusCode ?? 0,
        causes: problem.kind === '5xx' ? loggedErrors(newLines) : []
      })
    }
    if (response !== undefined) learn(operation, request, response)
    if (VERBOSE) t.comment(`${operation.id} [${plan.cls}] ${plan.note} → ${response?.statusCode ?? 'threw'} ${response?.body.slice(0, 120) ?? ''}`)
    return { request, response }
  }

  function learn (operation: SpecOperation, request: ResolvedRequest, response: InjectedResponse): void {
    const caller = request.headers.authorization?.includes(world.otherOrgKey) === true ? 'other' : 'own'
    const remember = (pool: Record<string, string[]>, name: string, id: string): void => {
      const ids = (pool[name] ??= [])
      ids.push(id)
      if (ids.length > 200) ids.splice(0, ids.length - 200)
    }
    if (response.statusCode === 202) {
      for (const id of JSON.parse(response.body).document_ids as string[]) remember(world[caller], 'document_id', id)
    }
    if (response.statusCode === 201 && operation.id === 'createKey') {
      const created = JSON.parse(response.body) as { id: string, key: string }
      secrets.add(created.key)
      remember(world[caller], 'key_id', created.id)
    }
    const link = response.headers.link
    if (caller === 'own' && typeof link === 'string') {
      const cursor = /[?&]cursor=([^&>]+)/.exec(link)?.[1]
      if (cursor !== undefined && world.cursors.length < 50) world.cursors.push(decodeURIComponent(cursor))
    }
  }

  // Seed a cursor or two, so listings can page from a real one.
  await send(operations.find((operation) => operation.id === 'listDocuments') ?? operations[0] as SpecOperation, { cls: 'query', note: 'seed a cursor', method: 'GET', template: '/v1/documents', segments: {}, query: 'limit=1', cursorIndex: undefined, auth: 'own', headers: {}, contentType: undefined, body: { kind: 'none' } })

  t.comment(`set-up (app, organisations, corpus ready, sample files): ${Date.now() - setupStarted} ms`)
  const started = Date.now()
  const statusCounts = new Map<string, Map<number, number>>()
  for (const operation of operations) {
    for (const cls of classesFor(operation)) {
      const name = `${operation.id} ${cls}`
      if (ONLY !== undefined && !ONLY.test(name)) continue
      // Query strings matter little to an operation that declares no parameters.
      const weight = cls === 'query' && operation.queryParameters.length === 0 ? 0.2 : CLASS_WEIGHT[cls]
      const numRuns = Math.max(1, Math.round(RUNS * weight))
      const counts = new Map<number, number>()
      statusCounts.set(name, counts)
      const classStarted = Date.now()
      const seed = SEED ^ hash(name)
      // The curated corpus first (each hand-picked edge case once), then random plans. The property never
      // throws: every problem goes to the failure log, which keeps the smallest example of each.
      const corpus = corpusPlans(operation, cls, spec, world, seed)
      await fc.assert(fc.asyncProperty(requestArbitrary(operation, cls, spec, world), async (plan) => {
        const { response } = await send(operation, plan)
        const status = response?.statusCode ?? 0
        counts.set(status, (counts.get(status) ?? 0) + 1)
      }), { seed, numRuns: corpus.length + numRuns, examples: corpus.map((plan) => [plan]), endOnFailure: true })
      t.comment(`${name}: ${corpus.length} corpus + ${numRuns} random in ${Date.now() - classStarted} ms, statuses ${[...counts].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ')}`)
    }
  }
  const fuzzMs = Date.now() - started

  // Let the worker finish what the run queued (its log lines are checked too), then sweep the whole log.
  const drainStarted = Date.now()
  const deadline = drainStarted + 30_000
  for (const key of [orgA.key, orgB.key]) {
    while (Date.now() < deadline) {
      const pending = await app.inject({ method: 'GET', url: '/v1/documents?status=processing&limit=1', headers: { authorization: `Bearer ${key}` } })
      if (pending.statusCode !== 200 || pending.json<unknown[]>().length === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  for (const problem of checkLogLines(lines.slice(logChecked), secrets)) {
    failures.add({ operation: 'worker', cls: 'background', kind: problem.kind, problem: problem.problem, note: 'logged after the requests', request: '(background processing)', size: 0, status: 0, causes: [] })
  }

  t.comment(`${requests} requests (corpus and random) in ${Math.round(fuzzMs / 1000)} s over ${operations.length} operations; queue drained in ${Date.now() - drainStarted} ms; ${lines.length} log lines checked`)
  t.ok(lines.length > requests, 'requests were logged at trace level')
  t.ok(lines.some((line) => line.includes('"document processed"')), 'the worker processed documents (its log lines were checked too)')
  for (const [name, counts] of statusCounts) {
    const successes = [...counts].filter(([status]) => status >= 200 && status < 300).reduce((sum, [, count]) => sum + count, 0)
    if (name.endsWith(' valid')) t.ok(successes > 0, `${name}: some generated bodies are accepted (${successes})`)
  }
  const found = failures.list()
  for (const failure of found) {
    t.fail(`${failure.operation} [${failure.cls}] ${failure.kind}: ${failure.problem}`, {
      diagnostic: true,
      seen: failure.count,
      what: failure.note,
      request: failure.request,
      ...(failure.causes.length > 0 ? { logged: failure.causes } : {})
    })
  }
  if (found.length === 0) t.pass('no 5xx, every response as openapi.yaml describes, no key or document text in the log')
})

t.test('bodies nested thousands deep are handled in linear time', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database, 'nesting')
  const time = async (depth: number): Promise<number> => {
    const payload = `{"question":"x","filters":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`
    const started = performance.now()
    const response = await app.inject({ method: 'POST', url: '/v1/query', headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json' }, payload })
    t.ok(response.statusCode < 500, `depth ${depth}: ${response.statusCode}`)
    return performance.now() - started
  }
  await time(100)
  // The fastest of three, so that a moment of load on a shared machine does not set the bar.
  const shallow = Math.min(await time(500), await time(500), await time(500))
  const deep = await time(12_000)
  t.comment(`depth 500: ${Math.round(shallow)} ms; depth 12000: ${Math.round(deep)} ms`)
  // Linear work grows 24×; allow twice that (and a 10 ms floor for timer noise). Quadratic work grows 576×.
  t.ok(deep < 48 * Math.max(shallow, 10), `24× deeper costs at most about 24× more (${Math.round(shallow)} → ${Math.round(deep)} ms)`)
})
