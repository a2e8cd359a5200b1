// Benchmark (issue #5): the compiled server on PostgreSQL under sustained load. Phase 1: a mixed workload (70 % POST /v1/query, 20 % document reads, 10 % one-document ingests) from a fixed number of connections — throughput, per-endpoint latency, errors, the server's RSS over time, every ingested document ready at the end. Phase 2: the default rate limit (60/min) with one organisation hammering and two polite ones — is the hammer held to its limit, and are the others unaffected?
//
// Env: BENCH_SECONDS (default 60: each phase's measured span; phase 2 first runs the polite orgs alone as long again),
// BENCH_CONNECTIONS (default 8), BENCH_SEED_DOCUMENTS (default 400), BENCH_WORKERS (JACK_WORKERS, default 2), BENCH_PIN=0 (no CPU pinning).
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import { seededRandom } from '../test/helpers/seeded-random.js'
import { Api, submitDocuments, waitUntilProcessed, type DocumentObject, type IngestDocument } from './lib/api.js'
import { loadDataset, type Dataset, type Question } from './lib/encyclopedia.js'
import { cpuSeconds, memoryMiB, postgresCpuSeconds } from './lib/proc.js'
import { formatInt, formatMs, loadLine, percentile, pinningLine, readInteger, table } from './lib/report.js'
import { buildIfStale, checkKey, createOrg, newBootstrapKey, pinBenchmark, progress, runMain, sleep, withServer, withStorage, type Server, type Storage } from './lib/server.js'

const SECONDS = readInteger('BENCH_SECONDS', 60, 5, 3600)
/**
 * Phase 1 is a closed loop: each connection sends its next request when the
 * last is answered. The point is throughput at saturation and whether memory
 * stays flat; an open loop at a fixed rate would need the capacity known in
 * advance, and on a shared 2-core machine a rate above it grows queues without
 * bound, in the client and in the server, which would read as a leak. 8
 * connections keep the server busy while staying under its PostgreSQL pool
 * (JACK_DB_POOL_SIZE 10), so requests queue in the server, not in the pool.
 */
const CONNECTIONS = readInteger('BENCH_CONNECTIONS', 8, 1, 256)
const SEED_DOCUMENTS = readInteger('BENCH_SEED_DOCUMENTS', 400, 1, 100_000)
const WORKERS = readInteger('BENCH_WORKERS', 2, 1, 64)
const WARM_UP_SECONDS = 5
const RSS_SAMPLE_MS = 5000
const SEED_TIMEOUT_MS = 300_000
/** Time after the load for every document ingested under it to be processed. */
const DRAIN_TIMEOUT_MS = 180_000
const REQUEST_TIMEOUT_MS = 30_000
/** A heap that settles stays within this of its post-warm-up size over a minute; a leak under ~200 req/s does not. */
const GOAL_RSS_RATIO = 1.5
/** Phase 1: counted like any limit (its statement is part of every request's cost) but never refusing. */
const UNLIMITED = 1_000_000
/** Phase 2: jack's default RATE_LIMIT_PER_MINUTE, set explicitly because bench/lib/server.ts turns the limit off otherwise. */
const DEFAULT_RATE_LIMIT = 60
const RATE_WINDOW_MS = 60_000
const HAMMER_PER_SECOND = 20
const POLITE_PER_MINUTE = 40
/** Requests each phase-2 organisation spends on its own documents before the measured spans (ingest + polls). */
const ORG_DOCUMENTS = 20
const ORG_POLL_MS = 1000
/** B and C count as unaffected when their p50 and p99 with A hammering stay within 2× their own alone (+ 5 ms, as a few-ms latency doubles on any scheduling hiccup). */
const SIMILAR_FACTOR = 2
const SIMILAR_SLACK_MS = 5

// ---------------------------------------------------------------------------------------------
// Documents and questions, from the encyclopedia question set (deterministic)

/** Each article's sentences, in order: material for small documents that read like the encyclopedia's own. */
function articleSentences (dataset: Dataset): Array<{ article: string, sentences: string[] }> {
  const byArticle = new Map<string, string[]>()
  for (const paragraph of dataset.paragraphs) {
    const sentences = byArticle.get(paragraph.article) ?? []
    sentences.push(...paragraph.text.split(/(?<=[.!?])\s+(?=[A-Z0-9"“'(])/u))
    byArticle.set(paragraph.article, sentences)
  }
  return [...byArticle].map(([article, sentences]) => ({ article, sentences }))
}

/** A deterministic stream of small documents (~300–700 characters): 2–4 sentences of one article, in the article's order. */
function documentComposer (dataset: Dataset, seed: number, kind: string): () => IngestDocument {
  const articles = articleSentences(dataset)
  const random = seededRandom(seed)
  let count = 0
  return () => {
    const { article, sentences } = articles[Math.floor(random() * articles.length)] ?? { article: '', sentences: [] }
    const picked = new Set<number>()
    const wanted = Math.min(sentences.length, 2 + Math.floor(random() * 3))
    while (picked.size < wanted) picked.add(Math.floor(random() * sentences.length))
    const text = [...picked].sort((a, b) => a - b).map((index) => sentences[index]).join(' ')
    count++
    return { text, metadata: { article, kind }, filename: `${kind}-${count}.txt` }
  }
}

/** The set's paragraphs as they are, then composed documents up to `count`. */
function seedDocuments (dataset: Dataset, count: number): IngestDocument[] {
  const paragraphs = dataset.paragraphs.slice(0, count).map((paragraph) => ({ text: paragraph.text, metadata: { article: paragraph.article, kind: 'paragraph' }, filename: paragraph.id }))
  const compose = documentComposer(dataset, 1, 'seed')
  return [...paragraphs, ...Array.from({ length: count - paragraphs.length }, compose)]
}

function shuffled<T> (items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed)
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy
}

function cycle<T> (items: readonly T[]): () => T {
  let next = 0
  return () => items[next++ % items.length] as T
}

// ---------------------------------------------------------------------------------------------
// HTTP: one request through an undici pool, timed; statuses tallied per endpoint

interface HttpRequest {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
}

interface Reply {
  /** undefined: a network error or timeout. */
  status: number | undefined
  body: string
  ms: number
  /** The response carried RateLimit-Limit (absent when the store failed and the request was let through). */
  limited: boolean
}

/** Sends one request; `since` (performance.now()) is when it was due, so an open loop's latency includes any wait for its turn. */
async function send (pool: Pool, key: string, request: HttpRequest, since: number = performance.now()): Promise<Reply> {
  try {
    const response = await pool.request({
      method: request.method,
      path: request.path,
      headers: { authorization: `Bearer ${key}`, ...(request.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS
    })
    const body = await response.body.text()
    return { status: response.statusCode, body, ms: performance.now() - since, limited: response.headers['ratelimit-limit'] !== undefined }
  } catch (error) {
    return { status: undefined, body: error instanceof Error ? error.message : String(error), ms: performance.now() - since, limited: false }
  }
}

function isSuccess (reply: Reply): boolean {
  return reply.status !== undefined && reply.status >= 200 && reply.status < 300
}

function statusLabel (reply: Reply): string {
  return reply.status === undefined ? 'network error' : String(reply.status)
}

const KEPT_FAILURE_SAMPLES = 5

/** One endpoint's replies: latency of each, counts by status, and the first few failures' bodies to show what went wrong. */
class Tally {
  readonly latencies: number[] = []
  readonly statuses = new Map<string, number>()
  readonly failureSamples: string[] = []

  record (reply: Reply): void {
    this.latencies.push(reply.ms)
    const label = statusLabel(reply)
    this.statuses.set(label, (this.statuses.get(label) ?? 0) + 1)
    if (!isSuccess(reply) && this.failureSamples.length < KEPT_FAILURE_SAMPLES) this.failureSamples.push(`${label}: ${reply.body.slice(0, 300)}`)
  }

  get count (): number {
    return this.latencies.length
  }

  /** Non-2xx replies and network errors, by status. */
  failures (): Map<string, number> {
    return new Map([...this.statuses].filter(([label]) => !/^2\d\d$/.test(label)))
  }

  get failureCount (): number {
    return total(this.failures())
  }
}

function total (counts: ReadonlyMap<string, number>): number {
  return [...counts.values()].reduce((sum, count) => sum + count, 0)
}

function describeStatuses (statuses: ReadonlyMap<string, number>): string {
  return [...statuses].sort(([a], [b]) => a.localeCompare(b)).map(([label, count]) => `${label}×${count}`).join(', ')
}

// ---------------------------------------------------------------------------------------------
// Phase 1: the mixed workload

type Endpoint = 'POST /v1/query' | 'GET /v1/documents/{id}' | 'GET /v1/documents' | 'POST /v1/ingest'

/** Requests per 10 of each endpoint: 70 % questions, 20 % reads (half by ID, half the first page of the listing), 10 % one-document ingests. */
const MIX: ReadonlyArray<readonly [Endpoint, number]> = [['POST /v1/query', 7], ['GET /v1/documents/{id}', 1], ['GET /v1/documents', 1], ['POST /v1/ingest', 1]]
const ENDPOINTS = MIX.map(([endpoint]) => endpoint)

/** What the connections send next: the mix dealt from shuffled decks (so every 10 requests hold it exactly), with the document IDs known so far. */
class MixedWorkload {
  private deck: Endpoint[] = []
  private readonly random = seededRandom(7)
  private readonly nextQuestion: () => Question
  private readonly compose: () => IngestDocument
  private readonly documentIds: string[]
  /** IDs of the documents ingested by the workload (warm-up included), in order of acceptance. */
  readonly ingested: string[] = []

  constructor (dataset: Dataset, seedIds: readonly string[]) {
    this.nextQuestion = cycle(shuffled([...dataset.answerable, ...dataset.unanswerable], 3))
    this.compose = documentComposer(dataset, 2, 'load')
    this.documentIds = [...seedIds]
  }

  next (): { endpoint: Endpoint, request: HttpRequest } {
    if (this.deck.length === 0) this.deck = shuffled(MIX.flatMap(([endpoint, share]) => Array.from({ length: share }, () => endpoint)), Math.floor(this.random() * 2 ** 31))
    const endpoint = this.deck.pop() as Endpoint
    return { endpoint, request: this.request(endpoint) }
  }

  private request (endpoint: Endpoint): HttpRequest {
    switch (endpoint) {
      case 'POST /v1/query': return { method: 'POST', path: '/v1/query', body: { question: this.nextQuestion().question } }
      case 'GET /v1/documents/{id}': return { method: 'GET', path: `/v1/documents/${this.documentIds[Math.floor(this.random() * this.documentIds.length)] ?? ''}` }
      // The contract's listing as an existing client calls it: no parameters, the first (newest) 100.
      case 'GET /v1/documents': return { method: 'GET', path: '/v1/documents' }
      case 'POST /v1/ingest': return { method: 'POST', path: '/v1/ingest', body: { documents: [this.compose()] } }
    }
  }

  /** Remembers an accepted ingest's document, so later reads may fetch it and the end can check it is ready. */
  noteReply (endpoint: Endpoint, reply: Reply): void {
    if (endpoint !== 'POST /v1/ingest' || reply.status !== 202) return
    const { document_ids: ids } = JSON.parse(reply.body) as { document_ids: string[] }
    this.ingested.push(...ids)
    this.documentIds.push(...ids)
  }
}

interface LoadRun {
  tallies: Map<Endpoint, Tally>
  seconds: number
}

/** CONNECTIONS connections, each sending the workload's next request as soon as its last is answered, until `durationMs` has passed. */
async function runClosedLoop (pool: Pool, key: string, workload: MixedWorkload, durationMs: number): Promise<LoadRun> {
  const tallies = new Map(ENDPOINTS.map((endpoint) => [endpoint, new Tally()]))
  const started = performance.now()
  const deadline = started + durationMs
  const connection = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const { endpoint, request } = workload.next()
      const reply = await send(pool, key, request)
      workload.noteReply(endpoint, reply)
      tallies.get(endpoint)?.record(reply)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, connection))
  // Until the last request answered: each connection may finish one past the deadline.
  return { tallies, seconds: (performance.now() - started) / 1000 }
}

interface RssSample {
  seconds: number
  mib: number
}

/** VmRSS of the server every RSS_SAMPLE_MS from start() to stop(), both ends included. */
class RssSampler {
  readonly samples: RssSample[] = []
  private timer: NodeJS.Timeout | undefined
  private started = 0

  constructor (private readonly pid: number) {}

  start (): void {
    this.started = performance.now()
    this.sample()
    this.timer = setInterval(() => { this.sample() }, RSS_SAMPLE_MS)
  }

  stop (): void {
    clearInterval(this.timer)
    // The end sample replaces a periodic one taken just before it (a span that is a multiple of the interval).
    const last = this.samples.at(-1)
    if (last !== undefined && this.samples.length > 1 && (performance.now() - this.started) / 1000 - last.seconds < 1) this.samples.pop()
    this.sample()
  }

  private sample (): void {
    const mib = memoryMiB(this.pid, 'VmRSS')
    if (mib !== undefined) this.samples.push({ seconds: (performance.now() - this.started) / 1000, mib })
  }
}

interface Completeness {
  /** Documents ingested under load (warm-up included). */
  ingested: number
  ready: number
  /** Ingested documents still processing, failed, or missing from the listing, with why. */
  notReady: string[]
  /** Seconds from the end of the load until none was processing (or the timeout). */
  drainSeconds: number
}

/** Waits for the queue to drain, then checks each document the workload ingested is listed and ready: nothing lost. */
async function checkIngested (api: Api, ids: readonly string[]): Promise<Completeness> {
  const started = performance.now()
  try {
    await waitUntilProcessed(api, 'phase 1 drain', DRAIN_TIMEOUT_MS)
  } catch (error) {
    // The listing below names what is left.
    progress(`phase 1: ${error instanceof Error ? error.message : String(error)}`)
  }
  const drainSeconds = (performance.now() - started) / 1000
  const byId = new Map<string, DocumentObject>((await api.listAll()).map((document) => [document.id, document]))
  const notReady: string[] = []
  for (const id of ids) {
    const document = byId.get(id)
    if (document === undefined) notReady.push(`${id}: missing from GET /v1/documents`)
    else if (document.status !== 'ready') notReady.push(`${id}: ${document.status}${document.error_message === null ? '' : ` (${document.error_message})`}`)
  }
  return { ingested: ids.length, ready: ids.length - notReady.length, notReady, drainSeconds }
}

interface MixedResult {
  run: LoadRun
  rss: RssSample[]
  /** VmRSS after the drain, and the peak (VmHWM) over the server's life. */
  rssAfterDrain: number | undefined
  rssPeak: number | undefined
  /** Shares of one core over the measured span. */
  serverCpu: number | undefined
  postgresCpu: number | undefined
  completeness: Completeness
  seedDocuments: number
  warnings: string[]
  warningTotal: number
}

function cpuShare (before: number | undefined, after: number | undefined, seconds: number): number | undefined {
  return before === undefined || after === undefined ? undefined : (after - before) / seconds
}

/** A fresh PostgreSQL database and a server on it with `rateLimit` per minute and the bootstrap key checked, for `work`; its result with the server's warnings. */
async function withPhaseServer<T> (label: string, key: string, serverCpu: number | undefined, rateLimit: number, work: (server: Server, storage: Storage) => Promise<T>): Promise<{ result: T, warnings: string[], warningTotal: number }> {
  return await withStorage('postgres', async (storage) => {
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_WORKERS: String(WORKERS), RATE_LIMIT_PER_MINUTE: String(rateLimit) }
    progress(`${label}: starting the server (PostgreSQL, JACK_WORKERS=${WORKERS}, RATE_LIMIT_PER_MINUTE=${rateLimit})`)
    return await withServer(label, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      return await work(server, storage)
    })
  })
}

async function runMixedPhase (key: string, serverCpu: number | undefined, dataset: Dataset): Promise<MixedResult> {
  const { result, warnings, warningTotal } = await withPhaseServer('phase 1', key, serverCpu, UNLIMITED, async (server, storage) => {
    const api = new Api(server, key)
    const seeds = seedDocuments(dataset, SEED_DOCUMENTS)
    progress(`phase 1: seeding ${formatInt(seeds.length)} documents`)
    const seedIds = await submitDocuments(api, seeds)
    await waitUntilProcessed(api, 'phase 1 seed', SEED_TIMEOUT_MS)
    const pid = server.pid
    if (pid === undefined) throw new Error('the server has no pid to sample')
    const databaseName = storage.databaseName ?? ''
    const pool = new Pool(server.baseUrl, { connections: CONNECTIONS, pipelining: 1 })
    try {
      const workload = new MixedWorkload(dataset, seedIds)
      progress(`phase 1: warm-up, ${WARM_UP_SECONDS} s of the mix`)
      await runClosedLoop(pool, key, workload, WARM_UP_SECONDS * 1000)
      progress(`phase 1: measuring ${SECONDS} s of the mix on ${CONNECTIONS} connections`)
      const sampler = new RssSampler(pid)
      const serverCpuBefore = cpuSeconds(pid)
      const postgresCpuBefore = postgresCpuSeconds(databaseName)
      sampler.start()
      const run = await runClosedLoop(pool, key, workload, SECONDS * 1000)
      sampler.stop()
      const serverShare = cpuShare(serverCpuBefore, cpuSeconds(pid), run.seconds)
      const postgresShare = cpuShare(postgresCpuBefore, postgresCpuSeconds(databaseName), run.seconds)
      progress(`phase 1: ${formatInt(workload.ingested.length)} documents ingested under load; waiting for each to be ready`)
      const completeness = await checkIngested(api, workload.ingested)
      return { run, rss: sampler.samples, rssAfterDrain: memoryMiB(pid, 'VmRSS'), rssPeak: memoryMiB(pid, 'VmHWM'), serverCpu: serverShare, postgresCpu: postgresShare, completeness, seedDocuments: seeds.length }
    } finally {
      await pool.close()
    }
  })
  return { ...result, warnings, warningTotal }
}

// ---------------------------------------------------------------------------------------------
// Phase 2: the rate limit, one organisation hammering, two polite

type Span = 'setup' | 'alone' | 'with A'

interface LoggedRequest {
  /** Epoch milliseconds when sent: the rate limit's windows are aligned to the clock. */
  sentAt: number
  span: Span
  reply: Reply
}

/** One organisation's key and connections, and every request it sent (setup included), for its rate-limit accounting. */
class OrgClient {
  readonly log: LoggedRequest[] = []
  private readonly nextQuestion: () => Question

  constructor (readonly name: string, readonly article: string, private readonly key: string, private readonly pool: Pool, questions: readonly Question[]) {
    this.nextQuestion = cycle(questions)
  }

  async send (request: HttpRequest, span: Span, since?: number): Promise<Reply> {
    const sentAt = Date.now()
    const reply = await send(this.pool, this.key, request, since)
    this.log.push({ sentAt, span, reply })
    return reply
  }

  async ask (span: Span, since: number): Promise<void> {
    await this.send({ method: 'POST', path: '/v1/query', body: { question: this.nextQuestion().question } }, span, since)
  }

  /** Its article's paragraphs as documents, waited for with few requests: they count against the same limit. */
  async seed (dataset: Dataset): Promise<void> {
    const documents = dataset.paragraphs.filter((paragraph) => paragraph.article === this.article).slice(0, ORG_DOCUMENTS)
      .map((paragraph) => ({ text: paragraph.text, metadata: { article: paragraph.article }, filename: paragraph.id }))
    const accepted = await this.send({ method: 'POST', path: '/v1/ingest', body: { documents } }, 'setup')
    if (accepted.status !== 202) throw new Error(`${this.name}: POST /v1/ingest answered ${statusLabel(accepted)}: ${accepted.body}`)
    const deadline = performance.now() + SEED_TIMEOUT_MS
    for (;;) {
      await sleep(ORG_POLL_MS)
      const listing = await this.send({ method: 'GET', path: '/v1/documents?status=processing&limit=1' }, 'setup')
      if (listing.status !== 200) throw new Error(`${this.name}: GET /v1/documents answered ${statusLabel(listing)}: ${listing.body}`)
      if ((JSON.parse(listing.body) as unknown[]).length === 0) return
      if (performance.now() > deadline) throw new Error(`${this.name}: documents still processing after ${SEED_TIMEOUT_MS / 1000} s`)
    }
  }
}

/**
 * An open loop: `perSecond` questions from `startAt` (performance.now()) for
 * `durationMs`, each sent when due whatever the server's pace, first one
 * `offsetMs` in (so the polite orgs do not send in step). Latency counts from
 * when a request was due.
 */
async function askAtRate (org: OrgClient, perSecond: number, startAt: number, durationMs: number, offsetMs: number, spanOf: (at: number) => Span): Promise<void> {
  const total = Math.floor((durationMs / 1000) * perSecond)
  const requests: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const dueAt = startAt + offsetMs + (i * 1000) / perSecond
    const wait = dueAt - performance.now()
    if (wait > 0) await sleep(wait)
    requests.push(org.ask(spanOf(dueAt), dueAt))
  }
  await Promise.all(requests)
}

/**
 * How many of `sentAt` (epoch ms, ascending) the documented sliding-window
 * counter accepts, each assumed to arrive when sent: a request fits when
 * previous minute's count × (1 − elapsed share of this minute) + this minute's
 * count + 1 ≤ limit, minutes aligned to the clock, refused requests not counted.
 * Written from README's description, not from the server's code, so the two are checked against each other.
 */
function simulateAccepted (sentAt: readonly number[], limit: number): boolean[] {
  const counts = new Map<number, number>()
  return sentAt.map((at) => {
    const minute = Math.floor(at / RATE_WINDOW_MS) * RATE_WINDOW_MS
    const previous = counts.get(minute - RATE_WINDOW_MS) ?? 0
    const current = counts.get(minute) ?? 0
    const fits = previous * (1 - (at - minute) / RATE_WINDOW_MS) + current + 1 <= limit + 1e-9
    if (fits) counts.set(minute, current + 1)
    return fits
  })
}

interface OrgResult {
  name: string
  role: string
  rate: string
  /** Requests in the measured spans (setup excluded). */
  sent: number
  ok: number
  refused: number
  /** Replies neither 2xx nor 429 (network errors included), by status. */
  failures: Map<string, number>
  /** 2xx replies without RateLimit-Limit: the limit was not applied (its store failed open). */
  unlimited: number
  /** 2xx latencies in each span. */
  alone: number[]
  withA: number[]
  /** The simulated counter's accepted count over the measured spans. */
  expectedOk: number
  setupRequests: number
  /** Clock minutes the measured spans touch: no minute holds more than the limit, so ok ≤ limit × this. */
  minutesTouched: number
}

function summariseOrg (org: OrgClient, role: string, rate: string): OrgResult {
  const log = [...org.log].sort((a, b) => a.sentAt - b.sentAt)
  const expected = simulateAccepted(log.map((entry) => entry.sentAt), DEFAULT_RATE_LIMIT)
  const measured = log.map((entry, index) => ({ ...entry, expected: expected[index] === true })).filter((entry) => entry.span !== 'setup')
  const failures = new Map<string, number>()
  for (const { reply } of measured) {
    if (isSuccess(reply) || reply.status === 429) continue
    const label = statusLabel(reply)
    failures.set(label, (failures.get(label) ?? 0) + 1)
  }
  const okIn = (span: Span): number[] => measured.filter((entry) => entry.span === span && isSuccess(entry.reply)).map((entry) => entry.reply.ms)
  const first = measured[0]?.sentAt ?? 0
  const last = measured.at(-1)?.sentAt ?? 0
  return {
    name: org.name,
    role,
    rate,
    sent: measured.length,
    ok: measured.filter((entry) => isSuccess(entry.reply)).length,
    refused: measured.filter((entry) => entry.reply.status === 429).length,
    failures,
    unlimited: measured.filter((entry) => isSuccess(entry.reply) && !entry.reply.limited).length,
    alone: okIn('alone'),
    withA: okIn('with A'),
    expectedOk: measured.filter((entry) => entry.expected).length,
    setupRequests: log.length - measured.length,
    minutesTouched: measured.length === 0 ? 0 : Math.floor(last / RATE_WINDOW_MS) - Math.floor(first / RATE_WINDOW_MS) + 1
  }
}

interface RateLimitResult {
  orgs: OrgResult[]
  warnings: string[]
  warningTotal: number
}

const ORG_ROLES = [
  { name: 'A', role: 'hammers', rate: `${HAMMER_PER_SECOND}/s (${HAMMER_PER_SECOND * 60}/min)` },
  { name: 'B', role: 'polite', rate: `${POLITE_PER_MINUTE}/min` },
  { name: 'C', role: 'polite', rate: `${POLITE_PER_MINUTE}/min` }
] as const

async function runRateLimitPhase (key: string, serverCpu: number | undefined, dataset: Dataset): Promise<RateLimitResult> {
  const { result, warnings, warningTotal } = await withPhaseServer('phase 2', key, serverCpu, DEFAULT_RATE_LIMIT, async (server, storage) => {
    const articles = [...new Set(dataset.paragraphs.map((paragraph) => paragraph.article))]
    const pools: Pool[] = []
    try {
      const orgs: OrgClient[] = []
      for (const [index, { name }] of ORG_ROLES.entries()) {
        const article = articles[index] ?? ''
        const created = await createOrg(storage.env, `bench-load org ${name}`)
        const pool = new Pool(server.baseUrl, { connections: name === 'A' ? 4 : 2, pipelining: 1 })
        pools.push(pool)
        orgs.push(new OrgClient(name, article, created.key, pool, dataset.answerable.filter((question) => question.paragraph?.article === article)))
      }
      progress(`phase 2: orgs ${orgs.map((org) => org.name).join(', ')} created with the CLI; seeding ${ORG_DOCUMENTS} documents each`)
      await Promise.all(orgs.map(async (org) => { await org.seed(dataset) }))
      const [hammer, ...polite] = orgs as [OrgClient, OrgClient, OrgClient]
      const durationMs = SECONDS * 1000
      const startAt = performance.now() + 100
      const spanOf = (at: number): Span => at < startAt + durationMs ? 'alone' : 'with A'
      progress(`phase 2: B and C at ${POLITE_PER_MINUTE}/min each, ${SECONDS} s alone, then ${SECONDS} s while A sends ${HAMMER_PER_SECOND}/s`)
      const politeInterval = 60_000 / POLITE_PER_MINUTE
      await Promise.all([
        ...polite.map(async (org, index) => { await askAtRate(org, POLITE_PER_MINUTE / 60, startAt, 2 * durationMs, (index * politeInterval) / polite.length, spanOf) }),
        askAtRate(hammer, HAMMER_PER_SECOND, startAt + durationMs, durationMs, 0, () => 'with A')
      ])
      return orgs.map((org, index) => summariseOrg(org, ORG_ROLES[index]?.role ?? '', ORG_ROLES[index]?.rate ?? ''))
    } finally {
      await Promise.all(pools.map(async (pool) => { await pool.close() }))
    }
  })
  return { orgs: result, warnings, warningTotal }
}

// ---------------------------------------------------------------------------------------------
// Report

function ratio (value: number, base: number): string {
  return Number.isFinite(value) && Number.isFinite(base) && base > 0 ? `${(value / base).toFixed(2)}×` : '—'
}

/** Math.max(...values) without spreading tens of thousands of arguments. */
function maxOf (values: readonly number[]): number {
  return values.reduce((max, value) => Math.max(max, value), Number.NEGATIVE_INFINITY)
}

function latencyPair (latencies: readonly number[]): string {
  return latencies.length === 0 ? '—' : `${formatMs(percentile(latencies, 50))} / ${formatMs(percentile(latencies, 99))}`
}

function similar (withA: readonly number[], alone: readonly number[]): boolean {
  if (withA.length === 0 || alone.length === 0) return false
  return [50, 99].every((p) => percentile(withA, p) <= SIMILAR_FACTOR * percentile(alone, p) + SIMILAR_SLACK_MS)
}

/** The simulated count can differ from the server's by a request or two at each point where acceptance flips (send time vs the server's clock), hence a tolerance. */
function tolerance (expected: number): number {
  return Math.max(2, Math.ceil(expected * 0.05))
}

interface Verdicts {
  errors: number
  rssRatio: number | undefined
  complete: boolean
  hammerHeld: boolean
  politeUnaffected: boolean
  warnings: number
}

function reportMixed (result: MixedResult, lines: string[]): Pick<Verdicts, 'errors' | 'rssRatio' | 'complete'> {
  const { run } = result
  const total = [...run.tallies.values()].reduce((sum, tally) => sum + tally.count, 0)
  const rows = ENDPOINTS.map((endpoint) => {
    const tally = run.tallies.get(endpoint) ?? new Tally()
    return [endpoint, formatInt(tally.count), `${((100 * tally.count) / Math.max(1, total)).toFixed(1)} %`, (tally.count / run.seconds).toFixed(1),
      formatMs(percentile(tally.latencies, 50)), formatMs(percentile(tally.latencies, 99)), formatMs(maxOf(tally.latencies)), String(tally.failureCount)]
  })
  const all = [...run.tallies.values()].flatMap((tally) => tally.latencies)
  const errors = [...run.tallies.values()].reduce((sum, tally) => sum + tally.failureCount, 0)
  rows.push(['**all**', formatInt(total), '100 %', `**${(total / run.seconds).toFixed(1)}**`, formatMs(percentile(all, 50)), formatMs(percentile(all, 99)), formatMs(maxOf(all)), `**${errors}**`])
  lines.push(`## Phase 1: mixed load, ${SECONDS} s, ${CONNECTIONS} connections (closed loop), one server on PostgreSQL`, '')
  lines.push(...table(['endpoint', 'requests', 'share', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors'], rows), '')
  for (const [endpoint, tally] of run.tallies) {
    if (tally.failureCount === 0) continue
    lines.push(`ERRORS on ${endpoint}: ${describeStatuses(tally.failures())}`, ...tally.failureSamples.map((sample) => `  ${sample}`))
  }

  const start = result.rss[0]?.mib
  const end = result.rss.at(-1)?.mib
  const rssRatio = start === undefined || end === undefined ? undefined : end / start
  lines.push(`Server RSS (VmRSS, MiB) every ${RSS_SAMPLE_MS / 1000} s of the measured span: ${result.rss.map((sample) => `${sample.seconds.toFixed(0)} s ${sample.mib.toFixed(0)}`).join(' · ')}`)
  lines.push(`RSS start ${start?.toFixed(0) ?? '—'} MiB (after seeding and ${WARM_UP_SECONDS} s warm-up) → end ${end?.toFixed(0) ?? '—'} MiB: **${rssRatio === undefined ? '—' : `${rssRatio.toFixed(2)}×`}**; ` +
    `after the ingest queue drained ${result.rssAfterDrain?.toFixed(0) ?? '—'} MiB; peak over the server's life (VmHWM) ${result.rssPeak?.toFixed(0) ?? '—'} MiB.`)
  const share = (value: number | undefined): string => value === undefined ? '—' : `${(100 * value).toFixed(0)} %`
  lines.push(`CPU over the measured span (share of one core): server ${share(result.serverCpu)}, its PostgreSQL processes ${share(result.postgresCpu)}.`)
  const { completeness } = result
  lines.push(`Ingested under load (warm-up included): ${formatInt(completeness.ingested)} documents; ready ${formatInt(completeness.ready)}; the queue drained ${completeness.drainSeconds.toFixed(1)} s after the load stopped.`)
  if (completeness.notReady.length > 0) lines.push(`NOT READY (${completeness.notReady.length}):`, ...completeness.notReady.slice(0, 20).map((line) => `  ${line}`))
  lines.push('')
  lines.push(`Seeded first: ${formatInt(result.seedDocuments)} documents (the encyclopedia set's ${Math.min(result.seedDocuments, 199)} paragraphs, then 2–4-sentence excerpts of its articles); ingests under load are such excerpts, one per request. ` +
    'Questions: the set\'s 330 (300 answerable, 30 not), extractive answers (no LLM). Reads: a random known document by ID; the listing\'s first page with no parameters (100 newest). ' +
    `Rate limit RATE_LIMIT_PER_MINUTE=${UNLIMITED}: counted on every request, never refusing. Latency = send → full body, closed loop (a slow reply delays that connection's next request, so tails are understated against an open loop); req/s = replies ÷ wall time until the last reply.`)
  return { errors, rssRatio, complete: completeness.notReady.length === 0 && completeness.ingested > 0 }
}

function reportRateLimit (result: RateLimitResult, lines: string[]): Pick<Verdicts, 'errors' | 'hammerHeld' | 'politeUnaffected'> {
  lines.push('', `## Phase 2: rate limit ${DEFAULT_RATE_LIMIT}/min per organisation (the default), org A hammering, B and C polite`, '')
  const rows = result.orgs.map((org) => [
    org.name, org.role, org.rate, formatInt(org.sent), formatInt(org.ok), formatInt(org.refused), String(total(org.failures)),
    `${formatInt(org.expectedOk)} ± ${tolerance(org.expectedOk)}`, formatInt(DEFAULT_RATE_LIMIT * org.minutesTouched),
    latencyPair(org.alone), latencyPair(org.withA), `${ratio(percentile(org.withA, 50), percentile(org.alone, 50))} / ${ratio(percentile(org.withA, 99), percentile(org.alone, 99))}`
  ])
  lines.push(...table(['org', 'role', 'rate', 'sent', '2xx', '429', 'errors', 'expected 2xx', 'hard max 2xx', `p50 / p99 ms, alone (${SECONDS} s)`, `p50 / p99 ms, with A (${SECONDS} s)`, 'with A ÷ alone'], rows), '')

  let errors = 0
  let hammerHeld = false
  let politeUnaffected = true
  for (const org of result.orgs) {
    const failed = total(org.failures)
    if (failed > 0) lines.push(`ERRORS for org ${org.name}: ${describeStatuses(org.failures)}`)
    if (org.unlimited > 0) lines.push(`WARNING: ${org.unlimited} of org ${org.name}'s 2xx replies had no RateLimit-Limit header: the limit was not applied (store failing open?)`)
    if (org.role === 'hammers') {
      // A's 429s are the point; anything else from it is an error.
      errors += failed
      hammerHeld = org.ok <= DEFAULT_RATE_LIMIT * org.minutesTouched && Math.abs(org.ok - org.expectedOk) <= tolerance(org.expectedOk) && org.unlimited === 0
      lines.push(`Org A: ${formatInt(org.ok)} of ${formatInt(org.sent)} accepted over its ${SECONDS} s; the sliding-window counter, simulated over A's send times (its ${org.setupRequests} setup requests included), accepts ${formatInt(org.expectedOk)}; ` +
        `no clock minute may hold more than ${DEFAULT_RATE_LIMIT}, so at most ${DEFAULT_RATE_LIMIT} × ${org.minutesTouched} minutes touched = ${DEFAULT_RATE_LIMIT * org.minutesTouched}: held to its limit: ${hammerHeld ? 'yes' : 'NO'}.`)
    } else {
      // A polite org's 429 is the failure this phase looks for.
      errors += failed + org.refused
      const unaffected = org.refused === 0 && failed === 0 && org.unlimited === 0 && similar(org.withA, org.alone)
      if (!unaffected) politeUnaffected = false
      lines.push(`Org ${org.name}: ${org.refused} refused (simulated counter: ${org.sent - org.expectedOk}); p50 / p99 ${latencyPair(org.alone)} ms alone, ${latencyPair(org.withA)} ms with A (${org.alone.length} / ${org.withA.length} replies): unaffected: ${unaffected ? 'yes' : 'NO'}.`)
    }
  }
  lines.push('')
  lines.push(`Orgs created with \`jack orgs create\`; each first ingests ${ORG_DOCUMENTS} paragraphs of its own article (one request) and polls every ${ORG_POLL_MS / 1000} s until they are ready — those setup requests count against its limit too. ` +
    `Then POST /v1/query (extractive) in open loops: B and C at ${POLITE_PER_MINUTE}/min each, evenly spaced and out of step, for ${SECONDS} s alone then ${SECONDS} s with A at ${HAMMER_PER_SECOND}/s; latency counts from when each request was due. ` +
    `"Expected 2xx": README's algorithm replayed over the org's own send times, ± ${tolerance(0)} (or 5 %) for send-vs-server clock at each minute edge. ` +
    `B/C "unaffected": no 429, and p50 and p99 with A ≤ ${SIMILAR_FACTOR}× alone + ${SIMILAR_SLACK_MS} ms (at ${POLITE_PER_MINUTE}/min a span holds few requests, so p99 is near the maximum).`)
  return { errors, hammerHeld, politeUnaffected }
}

function met (ok: boolean): string {
  return ok ? 'met' : 'NOT MET'
}

/** Each goal: what it asks, whether it was met, and the figure it was judged on (if any). */
function goals (verdicts: Verdicts): Array<[string, boolean, string?]> {
  return [
    ['errors = 0', verdicts.errors === 0, String(verdicts.errors)],
    [`RSS end/start ≤ ${GOAL_RSS_RATIO}×`, verdicts.rssRatio !== undefined && verdicts.rssRatio <= GOAL_RSS_RATIO, verdicts.rssRatio === undefined ? 'not measured' : `${verdicts.rssRatio.toFixed(2)}×`],
    ['every document ingested under load ready', verdicts.complete],
    ['A held to its limit', verdicts.hammerHeld],
    ['B and C unaffected', verdicts.politeUnaffected],
    ['server warnings = 0', verdicts.warnings === 0, String(verdicts.warnings)]
  ]
}

function report (mixed: MixedResult, rateLimit: RateLimitResult, pinning: string): boolean {
  const lines: string[] = []
  const phase1 = reportMixed(mixed, lines)
  const phase2 = reportRateLimit(rateLimit, lines)
  const warnings = [...mixed.warnings, ...rateLimit.warnings]
  const warningTotal = mixed.warningTotal + rateLimit.warningTotal
  if (warningTotal > 0) lines.push('', `WARNING: the server logged ${warningTotal} lines at warn or above:`, ...warnings.slice(0, 20).map((line) => `  ${line}`))
  lines.push('', pinning, loadLine(), '')
  const judged = goals({ ...phase1, ...phase2, errors: phase1.errors + phase2.errors, warnings: warningTotal })
  lines.push(`Goals: ${judged.map(([goal, ok, figure]) => `${goal}: ${met(ok)}${figure === undefined ? '' : ` (${figure})`}`).join(' · ')}`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return judged.every(([, ok]) => ok)
}

async function main (): Promise<number> {
  buildIfStale()
  const dataset = loadDataset()
  // BENCH_PIN=0 leaves placement to the scheduler (when other work on the machine is pinned to CPU 0 too).
  const serverCpu = process.env.BENCH_PIN === '0' ? undefined : pinBenchmark()
  const pinning = pinningLine(serverCpu)
  progress(pinning)
  const key = newBootstrapKey()
  const mixed = await runMixedPhase(key, serverCpu, dataset)
  const rateLimit = await runRateLimitPhase(key, serverCpu, dataset)
  return report(mixed, rateLimit, pinning) ? 0 : 1
}

await runMain(main)
