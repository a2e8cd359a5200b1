// Benchmark: query latency of jack's segment index (issue #11) over HTTP, one organisation filled towards BENCH_CHUNKS chunks (default 100,000; the issue asks for 100,000 and 1,000,000) on PostgreSQL and PGlite, checked against an exhaustive BM25 oracle and compared with LanceDB's full-text search on the same chunks.
//
// Per backend (BENCH_BACKENDS, default both), on fresh storage:
// 1. Fill: SciFact repeated (copies distinct by metadata: doc_id, copy, and a year
//    cycling over ten values), 128-token chunks with overlap 64. BENCH_FILL=http sends
//    it through POST /v1/ingest in rounds while the spawned server's workers process it
//    (the real ingest path); BENCH_FILL=direct (the default above 200,000 chunks) runs
//    jack's own ingest code in this process before the server starts — insertDocuments
//    (what the route calls) and an IngestWorker configured as `jack serve` configures it
//    (bench/lib/direct-fill.ts) — until the queue is empty and its merger idle. Either
//    way the fill's seconds and chunks/s are printed. Merges: the direct fill waits for
//    its worker's merger and counts every merge (the worker logs them at debug, and at
//    info from 1 s); after an HTTP fill the server's merges are watched on PostgreSQL
//    until no merge has held its lock for 2 s, then the server is stopped (which drops
//    the merges its merger had not begun — on PGlite, whose directory cannot be watched
//    from outside, all those after the queue ran dry) and jack's IndexMerger finishes
//    them in this process. Either way the series run on a server started afresh on a
//    fully merged index, its cache cold.
// 2. Over HTTP, sequentially: POST /v1/search top_k 10 without warm-up on the server's
//    cold index cache (its first requests), then for each of the three filter cases (no
//    filter; year = one value, ~10 %; an $or of $in and an and-ed $gte) POST /v1/search
//    top_k 10 and POST /v1/query (extractive, top_k 6), each after 20 warm-up requests;
//    then both unfiltered with 4 concurrent clients. p50 / p95 / max / mean, req/s.
//    Goal: p95 ≤ 50 ms for every sequential series, on PostgreSQL at 1,000,000 chunks and
//    on PGlite at 100,000 (at other sizes the line says it is indicative only).
// 3. Server stopped, database reopened in this process: searchChunks timed in-process
//    (the engine without HTTP or JSON) — the first pass on a fresh process cache (every
//    posting list read from the database) and warm passes per filter case. This replaces
//    the old "BM25 SQL alone" and EXPLAIN ANALYZE of the exhaustive statement, which the
//    segment index no longer has (a query is a few small statements now).
// 4. The exhaustive oracle (bench/lib/bm25-oracle.ts), built from the database's own
//    text analysis of every ready chunk, not from the segments: each /v1/search top 10
//    of step 2 (warm sequential series) must be the oracle's top 10 under the same
//    filter (applied in JS to the documents' metadata), ties at the 10th score either
//    way, in order, with the exact relevance. Goal: agreement 300 / 300 in every case.
// Then, with no server running, LanceDB's full-text search (bench/lib/lancedb-baseline.ts)
// on the same planned chunks, queries and filters; its p50/p95 beside jack's /v1/search
// and the ratio jack p95 ÷ LanceDB p95 (goal: within 2×). BENCH_LANCEDB=0 skips it; it is
// skipped with a note when @lancedb/lancedb is not installed (npm install --no-save).
// Direct fills and LanceDB run on every CPU; otherwise the client is pinned to CPU 1 and the
// server to CPU 0 (PostgreSQL unpinned).
//
// Settings: BENCH_CHUNKS, BENCH_BACKENDS (pglite,postgres), BENCH_FILL (http | direct),
// BENCH_FILL_SECONDS (no fill round starts after it; 600 s over HTTP, 3600 s direct),
// BENCH_WORKERS (JACK_WORKERS, 4), BENCH_CLIENTS (4), BENCH_LANCEDB (0 skips it). The exit
// code is 1 when the run itself is unsound (a document failed, a hit broke its filter,
// something logged a warning, org_chunk_stats disagreed with the chunks); the goals are
// reported, not enforced.
//
// RESULTS (2 cores; figures to be filled in from full runs, none measured here yet):
//   PostgreSQL, 1,000,000 chunks: fill —; /v1/search p95 — / — / — ms, /v1/query p95 — / — / — ms; agreement — / 300 ×3; LanceDB ratio —
//   PGlite, 100,000 chunks:       fill —; /v1/search p95 — / — / — ms, /v1/query p95 — / — / — ms; agreement — / 300 ×3; LanceDB ratio —
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import type { Database } from '../src/db/client.js'
import { inOrg } from '../src/db/org-scope.js'
import { rowsOf } from '../src/db/rows.js'
import { chunkText } from '../src/ingest/chunker.js'
import { asOrgId, type OrgId } from '../src/org-id.js'
import { parseFilter } from '../src/retrieval/filters.js'
import { searchChunks } from '../src/search-index/search-chunks.js'
import { Api, BATCH_SIZE, countDocuments, IN_FLIGHT, settle, submitDocuments, waitUntilProcessed, type IngestDocument, type SearchResult } from './lib/api.js'
import { buildOracle, judge, queryLexemes, type Bm25Oracle, type OracleHit, type ReturnedHit, type Verdict } from './lib/bm25-oracle.js'
import { withAllCpus } from './lib/cpu-affinity.js'
import { directFill, finishMerges, type MergeLog } from './lib/direct-fill.js'
import { lanceScenarios, measureLanceDb, type LanceChunk, type LanceResult } from './lib/lancedb-baseline.js'
import { formatInt, formatMs, isEntryPoint, loadLine, percentile, pinningLine, readInteger, table } from './lib/report.js'
import { buildIfStale, checkKey, newBootstrapKey, pinBenchmark, progress, readBackends, runMain, sleep, withServer, withStorage, type Backend, type Storage } from './lib/server.js'
import { databaseSettings, loadCorpus, loadTestQueries, openBenchDatabase, tableState, vacuumAsOwner, type CorpusDocument, type TestQuery } from './retrieval.js'

type FillMode = 'http' | 'direct'

const TARGET_CHUNKS = readInteger('BENCH_CHUNKS', 100_000, 1000, 10_000_000)
const CHUNK_SIZE = readInteger('BENCH_CHUNK_SIZE', 128, 128, 4096)
const CHUNK_OVERLAP = Math.min(64, CHUNK_SIZE - 1)
/** Above this many chunks the fill is direct unless BENCH_FILL says otherwise. */
const DIRECT_FILL_ABOVE = 200_000
const FILL_MODE = readFillMode()
/** No submission round starts after this (an HTTP fill on PGlite may be slow); the report says when the fill stopped short. */
/** PostgreSQL: VACUUM ANALYZE after the fill, as autovacuum would (BENCH_VACUUM=0: measure the tables as the fill left them). */
const VACUUM_AFTER_FILL = process.env.BENCH_VACUUM !== '0'
const FILL_BUDGET_MS = readInteger('BENCH_FILL_SECONDS', FILL_MODE === 'direct' ? 3600 : 600, 10, 86_400) * 1000
const WORKERS = readInteger('BENCH_WORKERS', 4, 1, 64)
const CONCURRENT_CLIENTS = readInteger('BENCH_CLIENTS', 4, 2, 64)
const RUN_LANCEDB = process.env.BENCH_LANCEDB !== '0'
/** Documents per submission round; a round is sent only while fewer than BACKLOG_DOCUMENTS are still processing. */
const WAVE_DOCUMENTS = 250
/** Keeps the queue short, so the fill ends soon after the budget stops submitting (and PGlite's end-of-queue VACUUM runs about once). */
const BACKLOG_DOCUMENTS = 500
const WARM_UP_QUERIES = 20
/** Passes over the 300 queries in the concurrent runs. */
const CONCURRENT_PASSES = 1
const QUERY_TOP_K = 6
const SEARCH_TOP_K = 10
const GOAL_P95_MS = 50
const GOAL_CHUNKS: Record<Backend, number> = { postgres: 1_000_000, pglite: 100_000 }
const GOAL_LANCEDB_RATIO = 2
const FIRST_YEAR = 2015
/** Ordinals of documents read per page when the oracle reads the chunks. */
const ORACLE_PAGE_ORDINALS = 10_000
/** After an HTTP fill on PostgreSQL: the series start once no merge has held its lock for this long. */
const MERGE_QUIET_MS = 2000
/** Disagreements shown in full per backend and case. */
const SHOWN_DISAGREEMENTS = 3

function readFillMode (): FillMode {
  const raw = process.env.BENCH_FILL?.trim()
  if (raw === undefined || raw === '') return TARGET_CHUNKS > DIRECT_FILL_ABOVE ? 'direct' : 'http'
  if (raw !== 'http' && raw !== 'direct') throw new Error(`BENCH_FILL must be http or direct, got "${raw}"`)
  return raw
}

type Metadata = Record<string, string>

interface Scenario {
  label: string
  filters: Record<string, unknown> | undefined
  /** The same filter in JS, to count the documents it matches, check every citation against it, and filter the oracle. */
  matches: (metadata: Metadata) => boolean
}

const unfilteredScenario: Scenario = { label: 'no filter', filters: undefined, matches: () => true }

const SCENARIOS: Scenario[] = [
  unfilteredScenario,
  { label: `year = "${FIRST_YEAR + 5}"`, filters: { year: String(FIRST_YEAR + 5) }, matches: (m) => m.year === String(FIRST_YEAR + 5) },
  {
    label: `$or [year $in [${FIRST_YEAR + 1}, ${FIRST_YEAR + 2}]; copy = 0 and year $gte ${FIRST_YEAR + 8}]`,
    filters: { $or: [{ year: { $in: [String(FIRST_YEAR + 1), String(FIRST_YEAR + 2)] } }, { copy: '0', year: { $gte: String(FIRST_YEAR + 8) } }] },
    matches: (m) => m.year === String(FIRST_YEAR + 1) || m.year === String(FIRST_YEAR + 2) || (m.copy === '0' && (m.year ?? '') >= String(FIRST_YEAR + 8))
  }
]

// ---------------------------------------------------------------------------------------------
// The plan: SciFact repeated, each copy distinct by metadata

interface PlannedDocument extends IngestDocument {
  chunks: number
  /** The server's own chunker's chunks of the text (shared by the copies of one abstract), for LanceDB. */
  chunkTexts: readonly string[]
}

/**
 * Copies of the corpus, document by document, until their chunks (counted with
 * the server's own chunker) reach TARGET_CHUNKS. Metadata: the SciFact ID, the
 * copy, and a year cycling over ten values, so year = one value holds 10 %.
 */
function planDocuments (corpus: readonly CorpusDocument[]): PlannedDocument[] {
  const chunked = corpus.map((document) => chunkText(document.text, { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP }).map((chunk) => chunk.text))
  const planned: PlannedDocument[] = []
  let chunks = 0
  for (let copy = 0; chunks < TARGET_CHUNKS; copy++) {
    for (const [index, document] of corpus.entries()) {
      if (chunks >= TARGET_CHUNKS) break
      const texts = chunked[index] ?? []
      planned.push({ text: document.text, metadata: { doc_id: document.id, copy: String(copy), year: String(FIRST_YEAR + (planned.length % 10)) }, chunks: texts.length, chunkTexts: texts })
      chunks += texts.length
    }
  }
  return planned
}

function * plannedChunks (planned: readonly PlannedDocument[]): Generator<LanceChunk> {
  for (const document of planned) {
    for (const text of document.chunkTexts) yield { text, copy: document.metadata.copy ?? '', year: document.metadata.year ?? '' }
  }
}

// ---------------------------------------------------------------------------------------------
// Filling the organisation

interface FillResult {
  mode: FillMode
  plannedDocuments: number
  plannedChunks: number
  submitted: number
  /** The whole fill: first document sent until processed and (direct; HTTP on PostgreSQL) merged. */
  seconds: number
  /** Until no document was processing. */
  drainSeconds: number
  /** Direct: then until the worker's merger was idle. HTTP: the merges the stopped server had left, finished by jack's merger in this process. */
  mergeTailSeconds: number
  /** HTTP on PostgreSQL: from the queue's end until no merge lock was held for MERGE_QUIET_MS (included), the server still running. */
  serverMergeTailSeconds: number | undefined
  /** Direct: stopping the worker and closing the database (not in `seconds`). */
  closeSeconds: number | undefined
  /** Direct on PGlite: jack's end-of-queue VACUUM (ANALYZE) run after the worker stopped (not in `seconds`). */
  maintenanceSeconds: number | undefined
  /** Direct: every merge of the fill; HTTP: those finished in this process after the server stopped. */
  merges: MergeLog
  /** The first request to the server after the fill (HTTP on PGlite: it waits for the worker's end-of-queue VACUUM). */
  settleMs: number
  /** The fill stopped short of the plan because of the time budget. */
  partial: boolean
  ready: number
  failed: number
  chunks: number
  failures: string[]
  /** Share of ready documents and of their chunks each scenario's filter matches. */
  selectivity: Array<{ documents: number, chunks: number }>
}

const EMPTY_COUNTS: Pick<FillResult, 'ready' | 'failed' | 'chunks' | 'failures' | 'selectivity'> = { ready: 0, failed: 0, chunks: 0, failures: [], selectivity: [] }

async function processingCount (api: Api): Promise<number> {
  const { body } = await api.request<unknown[]>('GET', `/v1/documents?status=processing&limit=${BACKLOG_DOCUMENTS}`, 200)
  return body.length
}

async function httpFill (api: Api, backend: Backend, planned: readonly PlannedDocument[]): Promise<{ submitted: number, partial: boolean, drainSeconds: number }> {
  const started = performance.now()
  const elapsed = (): number => performance.now() - started
  let submitted = 0
  let partial = false
  let reported = started
  while (submitted < planned.length && !partial) {
    while (await processingCount(api) >= BACKLOG_DOCUMENTS && elapsed() <= FILL_BUDGET_MS) await sleep(250)
    if (elapsed() > FILL_BUDGET_MS) {
      partial = true
      progress(`${backend}: fill budget of ${FILL_BUDGET_MS / 1000} s reached; no more documents after ${formatInt(submitted)} of ${formatInt(planned.length)}`)
      break
    }
    const wave = planned.slice(submitted, submitted + WAVE_DOCUMENTS)
    await submitDocuments(api, wave.map(({ text, metadata }) => ({ text, metadata })), { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP })
    submitted += wave.length
    if (performance.now() - reported > 15_000) {
      reported = performance.now()
      const plannedChunks = planned.slice(0, submitted).reduce((sum, document) => sum + document.chunks, 0)
      progress(`${backend}: ${formatInt(submitted)} / ${formatInt(planned.length)} documents accepted (~${formatInt(plannedChunks)} chunks) after ${(elapsed() / 1000).toFixed(0)} s`)
    }
  }
  await waitUntilProcessed(api, backend, 30 * 60_000)
  return { submitted, partial, drainSeconds: elapsed() / 1000 }
}

/** PostgreSQL, while the server runs: waits until no advisory lock in the benchmark's database (a merge holds its organisation's for its transaction) has been seen for MERGE_QUIET_MS; returns the seconds waited. */
async function waitForMerges (database: Database, backend: Backend): Promise<number> {
  const started = performance.now()
  let quietSince = started
  let reported = started
  while (performance.now() - quietSince < MERGE_QUIET_MS) {
    const [row] = rowsOf<{ n: number | string }>(await database.db.execute(sql`
      select count(*) as n from pg_locks
      where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`))
    const now = performance.now()
    if (Number(row?.n ?? 0) > 0) quietSince = now
    if (now - started > 30 * 60_000) throw new Error(`${backend}: merges still running 30 minutes after the fill`)
    if (now - reported > 15_000) {
      reported = now
      progress(`${backend}: merges still running ${((now - started) / 1000).toFixed(0)} s after the last document`)
    }
    await sleep(50)
  }
  return (performance.now() - started) / 1000
}

/** What GET /v1/documents says the fill left, and the filters' selectivity over it. */
async function fillCounts (api: Api): Promise<Pick<FillResult, 'ready' | 'failed' | 'chunks' | 'failures' | 'selectivity'>> {
  const counts = await countDocuments(api)
  const ready = counts.documents.filter((document) => document.status === 'ready')
  const selectivity = SCENARIOS.map((scenario) => {
    const matching = ready.filter((document) => scenario.matches(document.metadata))
    return {
      documents: matching.length / Math.max(1, ready.length),
      chunks: matching.reduce((sum, document) => sum + document.chunk_count, 0) / Math.max(1, counts.chunks)
    }
  })
  return { ready: counts.ready, failed: counts.failed + counts.processing, chunks: counts.chunks, failures: counts.failures, selectivity }
}

/** The organisation's segments by level, its term rows and their size: what the fill and its merges built. */
async function indexState (database: Database, orgId: OrgId): Promise<string> {
  return await inOrg(database.db, orgId, async (tx) => {
    const levels = rowsOf<{ level: number, segments: number | string, chunks: number | string }>(await tx.execute(sql`
      select level, count(*) as segments, sum(chunk_count) as chunks from index_segments
      where org_id = ${orgId} and base_ordinal is not null group by level order by level`))
    const [terms] = rowsOf<{ rows: number | string, bytes: number | string }>(await tx.execute(sql`
      select (select count(*) from index_terms where org_id = ${orgId}) as rows, pg_total_relation_size('index_terms') as bytes`))
    const segments = levels.reduce((sum, row) => sum + Number(row.segments), 0)
    return `${segments} live segments (${levels.map((row) => `level ${row.level}: ${row.segments} holding ${formatInt(Number(row.chunks))} chunks`).join(', ')}), ` +
      `${formatInt(Number(terms?.rows ?? 0))} index_terms rows, index_terms ${formatInt(Number(terms?.bytes ?? 0) / 2 ** 20)} MiB`
  })
}

// ---------------------------------------------------------------------------------------------
// Latency series over HTTP

interface Series {
  label: string
  clients: number
  requests: number
  latencies: number[]
  /** Wall time of the timed requests, for throughput. */
  wallSeconds: number
  /** Mean citations (query) or results (search) per response. */
  meanResults: number
  /** Responses with no citation or result. */
  empty: number
  /** Citations or results whose metadata does not satisfy the filter. */
  violations: number
  /** The hits of each query, by query (sequential series; the last response for a query otherwise). */
  hits: ReturnedHit[][]
}

interface QueryResponse {
  answer: string
  citations: Array<{ metadata: Metadata, document_id: string, chunk_index: number, score: number }>
}

interface Hit extends ReturnedHit {
  metadata: Metadata
}

type Request = (query: TestQuery) => Promise<Hit[]>

function withFilters (scenario: Scenario): Record<string, unknown> {
  return scenario.filters === undefined ? {} : { filters: scenario.filters }
}

function queryRequest (api: Api, scenario: Scenario): Request {
  return async (query) => {
    const { body } = await api.request<QueryResponse>('POST', '/v1/query', 200, { question: query.text, ...withFilters(scenario) })
    return body.citations.map((citation) => ({ documentId: citation.document_id, chunkIndex: citation.chunk_index, relevance: citation.score, metadata: citation.metadata }))
  }
}

function searchRequest (api: Api, scenario: Scenario): Request {
  return async (query) => {
    const { body } = await api.request<{ results: SearchResult[] }>('POST', '/v1/search', 200, { query: query.text, top_k: SEARCH_TOP_K, ...withFilters(scenario) })
    return body.results.map((result) => ({ documentId: result.document_id, chunkIndex: result.chunk_index, relevance: result.score, metadata: result.metadata }))
  }
}

/** `queries` × `passes` requests from `clients` clients, each sending its next request when the last one is answered, after `warmUp` untimed ones. */
async function runSeries (label: string, queries: readonly TestQuery[], request: Request, matches: Scenario['matches'], options: { clients: number, passes: number, warmUp: number }): Promise<Series> {
  for (const query of queries.slice(0, options.warmUp)) await request(query)
  const work = Array.from({ length: options.passes }, () => queries.map((query, index) => ({ query, index }))).flat()
  const latencies: number[] = []
  const hits: ReturnedHit[][] = queries.map(() => [])
  let results = 0
  let empty = 0
  let violations = 0
  let next = 0
  const started = performance.now()
  const client = async (): Promise<void> => {
    while (next < work.length) {
      const { query, index } = work[next++] as { query: TestQuery, index: number }
      const sent = performance.now()
      const returned = await request(query)
      latencies.push(performance.now() - sent)
      hits[index] = returned.map(({ documentId, chunkIndex, relevance }) => ({ documentId, chunkIndex, relevance }))
      results += returned.length
      if (returned.length === 0) empty++
      violations += returned.filter((hit) => !matches(hit.metadata)).length
    }
  }
  await Promise.all(Array.from({ length: options.clients }, client))
  const wallSeconds = (performance.now() - started) / 1000
  return { label, clients: options.clients, requests: work.length, latencies, wallSeconds, meanResults: results / work.length, empty, violations, hits }
}

interface HttpSeries {
  cold: Series
  /** Per scenario: POST /v1/search and POST /v1/query, sequential. */
  search: Series[]
  query: Series[]
  concurrent: Series[]
}

async function runHttpSeries (api: Api, backend: Backend, queries: readonly TestQuery[]): Promise<HttpSeries> {
  const sequential = { clients: 1, passes: 1, warmUp: WARM_UP_QUERIES }
  progress(`${backend}: POST /v1/search top_k ${SEARCH_TOP_K}, no filter, cold index cache`)
  const cold = await runSeries(`POST /v1/search top_k ${SEARCH_TOP_K}, no filter, cold (the server's first requests, no warm-up)`, queries, searchRequest(api, unfilteredScenario), () => true, { ...sequential, warmUp: 0 })
  const search: Series[] = []
  const query: Series[] = []
  for (const scenario of SCENARIOS) {
    progress(`${backend}: POST /v1/search and /v1/query, ${scenario.label}, sequential`)
    search.push(await runSeries(`POST /v1/search top_k ${SEARCH_TOP_K}, ${scenario.label}`, queries, searchRequest(api, scenario), scenario.matches, sequential))
    query.push(await runSeries(`POST /v1/query, ${scenario.label}`, queries, queryRequest(api, scenario), scenario.matches, sequential))
  }
  progress(`${backend}: no filter, ${CONCURRENT_CLIENTS} concurrent clients`)
  const concurrentOptions = { clients: CONCURRENT_CLIENTS, passes: CONCURRENT_PASSES, warmUp: WARM_UP_QUERIES }
  const concurrent = [
    await runSeries(`POST /v1/search top_k ${SEARCH_TOP_K}, no filter`, queries, searchRequest(api, unfilteredScenario), () => true, concurrentOptions),
    await runSeries('POST /v1/query, no filter', queries, queryRequest(api, unfilteredScenario), () => true, concurrentOptions)
  ]
  return { cold, search, query, concurrent }
}

// ---------------------------------------------------------------------------------------------
// The engine in-process, and the oracle

interface EngineTiming {
  pass: string
  scenario: string
  latencies: number[]
}

/** searchChunks from this process on a fresh database handle (so a fresh index cache): a cold pass unfiltered, then a warm pass per filter case. */
async function timeEngine (database: Database, orgId: OrgId, queries: readonly TestQuery[]): Promise<EngineTiming[]> {
  const timings: EngineTiming[] = []
  const pass = async (label: string, scenario: Scenario): Promise<void> => {
    const filter = parseFilter(scenario.filters ?? {})
    const latencies: number[] = []
    for (const query of queries) {
      const started = performance.now()
      await searchChunks(database.db, orgId, { query: query.text, filter, topK: SEARCH_TOP_K })
      latencies.push(performance.now() - started)
    }
    timings.push({ pass: label, scenario: scenario.label, latencies })
  }
  await pass('cold: first pass, fresh process cache', unfilteredScenario)
  for (const scenario of SCENARIOS) await pass('warm', scenario)
  return timings
}

interface Disagreement {
  query: string
  verdict: Verdict
  expected: OracleHit[]
  returned: ReturnedHit[]
  exact: number[]
  ordinals: Array<number | undefined>
}

interface Agreement {
  scenario: string
  /** Chunks the filter lets through, as the oracle counts them. */
  allowedChunks: number
  agreed: number
  compared: number
  setDiffers: number
  orderDiffers: number
  scoreDiffers: number
  /** Mean oracle hits per query (top 10, fewer when fewer chunks match). */
  meanHits: number
  disagreements: Disagreement[]
}

interface OracleResult {
  chunkCount: number
  totalLength: number
  statsChunkCount: number
  statsTotalLength: number
  postings: number
  lexemes: number
  seconds: number
  agreements: Agreement[]
}

async function checkAgainstOracle (database: Database, orgId: OrgId, backend: Backend, queries: readonly TestQuery[], search: readonly Series[]): Promise<OracleResult> {
  const lexemes: string[][] = []
  for (const query of queries) lexemes.push(await queryLexemes(database, query.text))
  const union = [...new Set(lexemes.flat())]
  progress(`${backend}: building the exhaustive oracle (${formatInt(union.length)} query lexemes)`)
  const oracle: Bm25Oracle = await buildOracle(database, orgId, union, ORACLE_PAGE_ORDINALS, backend)
  progress(`${backend}: oracle read ${formatInt(oracle.chunkCount)} chunks, ${formatInt(oracle.postings)} postings in ${oracle.seconds.toFixed(0)} s`)
  const agreements = SCENARIOS.map((scenario, index): Agreement => {
    const series = search[index] as Series
    const { allowed, chunks } = scenario.filters === undefined ? { allowed: undefined, chunks: oracle.chunkCount } : oracle.allowList(scenario.matches)
    const agreement: Agreement = { scenario: scenario.label, allowedChunks: chunks, agreed: 0, compared: 0, setDiffers: 0, orderDiffers: 0, scoreDiffers: 0, meanHits: 0, disagreements: [] }
    queries.forEach((query, queryIndex) => {
      const returned = series.hits[queryIndex] ?? []
      const { verdict, expected, exact, ordinals } = judge(oracle, lexemes[queryIndex] ?? [], allowed, SEARCH_TOP_K, returned)
      agreement.compared++
      agreement.meanHits += expected.length / queries.length
      if (verdict.agrees) agreement.agreed++
      if (verdict.setDiffers) agreement.setDiffers++
      if (verdict.orderDiffers) agreement.orderDiffers++
      if (verdict.scoreDiffers) agreement.scoreDiffers++
      if (!verdict.agrees && agreement.disagreements.length < SHOWN_DISAGREEMENTS) agreement.disagreements.push({ query: query.text, verdict, expected, returned, exact, ordinals })
    })
    return agreement
  })
  return {
    chunkCount: oracle.chunkCount,
    totalLength: oracle.totalLength,
    statsChunkCount: oracle.statsChunkCount,
    statsTotalLength: oracle.statsTotalLength,
    postings: oracle.postings,
    lexemes: union.length,
    seconds: oracle.seconds,
    agreements
  }
}

// ---------------------------------------------------------------------------------------------

interface BackendResult {
  backend: Backend
  fill: FillResult
  http: HttpSeries
  engine: EngineTiming[]
  oracle: OracleResult
  indexState: string
  stateBefore: string | undefined
  stateAfter: string
  settings: string
  warnings: string[]
  warningTotal: number
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined, planned: readonly PlannedDocument[], queries: readonly TestQuery[]): Promise<BackendResult> {
  return await withStorage(backend, async (storage: Storage) => {
    // One organisation sends far more than the default 60 requests a minute.
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_WORKERS: String(WORKERS), RATE_LIMIT_PER_MINUTE: '0' }
    const plannedChunkCount = planned.reduce((sum, document) => sum + document.chunks, 0)
    const fillWarnings: string[] = []
    let fillWarningTotal = 0
    let fill: FillResult
    let orgId: OrgId
    if (FILL_MODE === 'direct') {
      progress(`${backend}: direct fill in this process (insertDocuments + IngestWorker, JACK_WORKERS=${WORKERS}) of ${formatInt(planned.length)} documents, ~${formatInt(plannedChunkCount)} chunks`)
      const direct = await withAllCpus(serverCpu, async () => await directFill(planned, {
        env,
        chunkSize: CHUNK_SIZE,
        chunkOverlap: CHUNK_OVERLAP,
        waveDocuments: WAVE_DOCUMENTS,
        backlogDocuments: BACKLOG_DOCUMENTS,
        budgetMs: FILL_BUDGET_MS,
        label: backend
      }))
      fillWarnings.push(...direct.warnings)
      fillWarningTotal += direct.warningTotal
      for (const line of direct.warnings) progress(`${backend}: fill warning: ${line}`)
      progress(`${backend}: direct fill done in ${(direct.drainSeconds + direct.mergeTailSeconds).toFixed(0)} s (${direct.merges.count} merges, ${(direct.merges.totalMs / 1000).toFixed(0)} s merging)`)
      orgId = direct.orgId
      fill = {
        mode: 'direct',
        plannedDocuments: planned.length,
        plannedChunks: plannedChunkCount,
        submitted: direct.submitted,
        seconds: direct.drainSeconds + direct.mergeTailSeconds,
        drainSeconds: direct.drainSeconds,
        mergeTailSeconds: direct.mergeTailSeconds,
        serverMergeTailSeconds: undefined,
        closeSeconds: direct.closeSeconds,
        maintenanceSeconds: direct.maintenanceSeconds,
        merges: direct.merges,
        settleMs: Number.NaN,
        partial: direct.partial,
        ...EMPTY_COUNTS
      }
    } else {
      progress(`${backend}: starting the server for an HTTP fill with JACK_WORKERS=${WORKERS}`)
      const filled = await withServer(backend, env, serverCpu, async (server) => {
        await checkKey(server.baseUrl, key)
        const api = new Api(server, key)
        progress(`${backend}: filling the org over HTTP with ${formatInt(planned.length)} documents (chunk_size ${CHUNK_SIZE}, overlap ${CHUNK_OVERLAP}), at most ${BACKLOG_DOCUMENTS} processing at a time`)
        const sent = await httpFill(api, backend, planned)
        // PostgreSQL: the server's merges are watched to their end; PGlite's directory is the server's alone (see below).
        let serverMergeTailSeconds: number | undefined
        if (backend === 'postgres') {
          const database = await openBenchDatabase(backend, storage)
          try {
            serverMergeTailSeconds = await waitForMerges(database, backend)
          } finally {
            await database.close()
          }
        }
        const settleMs = await settle(api)
        const { body: probe } = await api.request<{ org_id: string }>('POST', '/v1/search', 200, { query: 'probe', top_k: 1 })
        return { sent, serverMergeTailSeconds, settleMs, orgId: asOrgId(probe.org_id) }
      })
      fillWarnings.push(...filled.warnings)
      fillWarningTotal += filled.warningTotal
      orgId = filled.result.orgId
      // Stopping the server dropped the merges its merger had not begun (on PGlite all those after the queue ran dry): finish them as its merger would have.
      progress(`${backend}: server stopped; finishing its merges in this process`)
      const tail = await finishMerges(env, orgId)
      fillWarnings.push(...tail.warnings)
      fillWarningTotal += tail.warningTotal
      const { sent, serverMergeTailSeconds, settleMs } = filled.result
      fill = {
        mode: 'http',
        plannedDocuments: planned.length,
        plannedChunks: plannedChunkCount,
        submitted: sent.submitted,
        seconds: sent.drainSeconds + (serverMergeTailSeconds ?? 0) + tail.seconds,
        drainSeconds: sent.drainSeconds,
        mergeTailSeconds: tail.seconds,
        serverMergeTailSeconds,
        closeSeconds: undefined,
        maintenanceSeconds: undefined,
        merges: tail.merges,
        settleMs,
        partial: sent.partial,
        ...EMPTY_COUNTS
      }
    }

    // Merges leave dead rows behind them; PostgreSQL's autovacuum (on by default, off on this machine's cluster:
    // see the settings line) reclaims them. Vacuumed here as it would be, unless BENCH_VACUUM=0.
    if (backend === 'postgres' && VACUUM_AFTER_FILL) {
      progress(`${backend}: VACUUM ANALYZE as the database's owner, as autovacuum would`)
      await vacuumAsOwner(storage)
    }
    progress(`${backend}: starting the server for the series with JACK_WORKERS=${WORKERS}`)
    const { result, warnings, warningTotal } = await withServer(backend, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      const api = new Api(server, key)
      const settleMs = await settle(api)
      Object.assign(fill, await fillCounts(api))
      if (fill.mode === 'direct') fill.settleMs = settleMs
      progress(`${backend}: ${formatInt(fill.ready)} documents ready, ${formatInt(fill.chunks)} chunks, ${fill.failed} failed, filled in ${fill.seconds.toFixed(0)} s (${formatInt(fill.chunks / fill.seconds)} chunks/s)`)
      // PostgreSQL can be looked at while the server runs; PGlite's directory is the server's alone.
      let stateBefore: string | undefined
      if (backend === 'postgres') {
        const database = await openBenchDatabase(backend, storage)
        try {
          stateBefore = await tableState(database)
        } finally {
          await database.close()
        }
      }
      const http = await runHttpSeries(api, backend, queries)
      return { http, stateBefore }
    })

    progress(`${backend}: server stopped; searchChunks in-process and the oracle`)
    const database = await openBenchDatabase(backend, storage)
    try {
      const stateAfter = await tableState(database)
      const settings = await databaseSettings(database)
      const index = await indexState(database, orgId)
      const engine = await timeEngine(database, orgId, queries)
      const oracle = await checkAgainstOracle(database, orgId, backend, queries, result.http.search)
      return {
        backend,
        fill,
        http: result.http,
        engine,
        oracle,
        indexState: index,
        stateBefore: result.stateBefore,
        stateAfter,
        settings,
        warnings: [...fillWarnings, ...warnings],
        warningTotal: fillWarningTotal + warningTotal
      }
    } finally {
      await database.close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// The report

function mean (values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length)
}

function seriesRow (backend: Backend, series: Series): string[] {
  return [
    backend,
    series.label,
    String(series.clients),
    String(series.requests),
    formatMs(percentile(series.latencies, 50)),
    formatMs(percentile(series.latencies, 95)),
    formatMs(Math.max(...series.latencies)),
    formatMs(mean(series.latencies)),
    (series.requests / series.wallSeconds).toFixed(1),
    series.meanResults.toFixed(1),
    String(series.empty),
    String(series.violations)
  ]
}

function mergeSummary (merges: MergeLog): string {
  return `${merges.count} merges, ${(merges.totalMs / 1000).toFixed(1)} s merging in all, the longest ${formatInt(merges.maxMs)} ms, ${merges.slow.length} of at least 1 s` +
    (merges.slow.length === 0 ? '' : ` (${merges.slow.slice(0, 12).map((merge) => `${merge.segments} segments / ${formatInt(merge.chunks)} chunks ${formatInt(merge.ms)} ms`).join('; ')}${merges.slow.length > 12 ? '; …' : ''})`)
}

function fillLine (result: BackendResult): string {
  const { fill } = result
  const rate = `${formatInt(fill.chunks / fill.seconds)} chunks/s`
  const how = fill.mode === 'direct'
    ? `direct fill in the benchmark's process (insertDocuments + IngestWorker, JACK_WORKERS=${WORKERS}, every CPU): ${fill.seconds.toFixed(0)} s = queue drained in ${fill.drainSeconds.toFixed(0)} s + merges finished ${fill.mergeTailSeconds.toFixed(1)} s later, ${rate}; ` +
      `then ${(fill.closeSeconds ?? 0).toFixed(1)} s to stop the worker and close the database` +
      (fill.maintenanceSeconds === undefined ? '' : ` and ${fill.maintenanceSeconds.toFixed(1)} s for jack's end-of-queue VACUUM (ANALYZE) of the search index (run after the worker stopped, as the server's worker runs it when its queue runs dry)`) +
      `; ${mergeSummary(fill.merges)}`
    : `HTTP fill (POST /v1/ingest, server JACK_WORKERS=${WORKERS}, pinned): ${fill.seconds.toFixed(0)} s = queue drained in ${fill.drainSeconds.toFixed(0)} s` +
      (fill.serverMergeTailSeconds === undefined ? '' : ` + the server's merges done ${fill.serverMergeTailSeconds.toFixed(1)} s later (no merge lock for ${MERGE_QUIET_MS / 1000} s, included)`) +
      ` + ${fill.mergeTailSeconds.toFixed(1)} s for the merges left when the server stopped, finished by jack's IndexMerger in this process (${mergeSummary(fill.merges)}), ${rate}`
  return `${result.backend}: ${formatInt(fill.ready)} documents ready → ${formatInt(fill.chunks)} chunks (SciFact repeated, chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}); ${how}` +
    (fill.partial
      ? ` — PARTIAL: the ${FILL_BUDGET_MS / 1000} s fill budget stopped it at ${formatInt(fill.submitted)} of ${formatInt(fill.plannedDocuments)} planned documents (${formatInt(fill.plannedChunks)} chunks)`
      : '') +
    `; filter selectivity: ${SCENARIOS.slice(1).map((scenario, index) => {
      const share = fill.selectivity[index + 1]
      return `${scenario.label} ${((share?.documents ?? 0) * 100).toFixed(1)} % of documents (${((share?.chunks ?? 0) * 100).toFixed(1)} % of chunks)`
    }).join(', ')}.`
}

function goalLine (result: BackendResult): { line: string, met: boolean } {
  // met: within the goal at the goal's size.
  const goalChunks = GOAL_CHUNKS[result.backend]
  const sequential = [...result.http.search, ...result.http.query]
  const p95s = sequential.map((series) => percentile(series.latencies, 95))
  const met = p95s.every((p95) => p95 <= GOAL_P95_MS)
  const atSize = result.fill.chunks >= goalChunks && !result.fill.partial
  const scale = atSize
    ? ''
    : ` — this run has ${formatInt(result.fill.chunks)} chunks${result.fill.partial ? ' (partial fill)' : ''}, the goal is stated at ${formatInt(goalChunks)}: indicative only`
  const figures = (series: readonly Series[], name: string): string => `${name} p95 ${series.map((item) => formatMs(percentile(item.latencies, 95))).join(' / ')} ms`
  return {
    line: `Goal (${result.backend}): p95 ≤ ${GOAL_P95_MS} ms at ${formatInt(goalChunks)} chunks for every sequential series: ${met ? 'met' : 'NOT MET'} — ` +
      `${figures(result.http.search, '/v1/search')}, ${figures(result.http.query, '/v1/query')} (${SCENARIOS.map((scenario) => scenario.label).join(' / ')})${scale}.`,
    met: met && atSize
  }
}

function hitLabel (oracle: readonly OracleHit[], hit: OracleHit): string {
  return `#${oracle.indexOf(hit) + 1} ordinal ${hit.ordinal} ${hit.score.toFixed(6)}`
}

function disagreementLines (backend: Backend, agreement: Agreement): string[] {
  const lines: string[] = []
  for (const disagreement of agreement.disagreements) {
    lines.push(`Disagreement (${backend}, ${agreement.scenario}): "${disagreement.query}" — ${disagreement.verdict.problems.slice(0, 6).join('; ')}`)
    lines.push(`  oracle top ${SEARCH_TOP_K}: ${disagreement.expected.map((hit) => hitLabel(disagreement.expected, hit)).join(', ')}`)
    lines.push(`  /v1/search: ${disagreement.returned.map((hit, index) => `#${index + 1} ${hit.documentId}/${hit.chunkIndex} (ordinal ${disagreement.ordinals[index] ?? '?'}, exact ${(disagreement.exact[index] ?? Number.NaN).toFixed(6)}, relevance ${hit.relevance.toFixed(6)})`).join(', ')}`)
  }
  return lines
}

function lanceLines (lance: LanceResult | undefined, results: readonly BackendResult[]): string[] {
  if (lance === undefined) return [RUN_LANCEDB ? 'LanceDB baseline: not run (see the line above: @lancedb/lancedb is not installed).' : 'LanceDB baseline: skipped (BENCH_LANCEDB=0).']
  const lines: string[] = []
  lines.push(`LanceDB ${lance.version} full-text search (embedded, on disk; no server running, every CPU) over the ${formatInt(lance.chunks)} planned chunks, the same ${lance.queries} queries, top ${lance.topK}, sequential, ${WARM_UP_QUERIES} warm-up queries; build ${lance.buildSeconds.toFixed(1)} s (write + compact ${lance.loadSeconds.toFixed(1)} s, indexes ${lance.indexSeconds.toFixed(1)} s). jack = POST /v1/search top_k ${SEARCH_TOP_K} over HTTP, sequential (above).`)
  lines.push('')
  const rows: string[][] = []
  let met = true
  lance.series.forEach((series, index) => {
    for (const result of results) {
      const jack = result.http.search[index]
      if (jack === undefined) continue
      const jackP95 = percentile(jack.latencies, 95)
      const ratio = jackP95 / series.p95Ms
      if (!(ratio <= GOAL_LANCEDB_RATIO)) met = false
      const engine = result.engine.find((timing) => timing.pass === 'warm' && timing.scenario === SCENARIOS[index]?.label)
      const engineP95 = engine === undefined ? Number.NaN : percentile(engine.latencies, 95)
      rows.push([
        series.label,
        `${formatInt(series.matchingChunks)} (${((100 * series.matchingChunks) / Math.max(1, lance.chunks)).toFixed(1)} %)`,
        formatMs(series.p50Ms),
        formatMs(series.p95Ms),
        result.backend,
        formatMs(percentile(jack.latencies, 50)),
        formatMs(jackP95),
        `${ratio.toFixed(1)}×`,
        formatMs(engineP95),
        Number.isFinite(engineP95) ? `${(engineP95 / series.p95Ms).toFixed(1)}×` : '—'
      ])
    }
  })
  lines.push(...table(['case', 'LanceDB matching chunks', 'LanceDB p50 ms', 'LanceDB p95 ms', 'jack backend', 'jack /v1/search p50 ms', 'jack /v1/search p95 ms', 'jack p95 ÷ LanceDB p95', 'jack searchChunks warm p95 ms', 'in-process p95 ÷ LanceDB p95'], rows))
  lines.push('')
  const mismatched = results.filter((result) => result.fill.chunks !== lance.chunks)
  lines.push(`Goal: jack's /v1/search p95 within ${GOAL_LANCEDB_RATIO}× LanceDB's in every case: ${met ? 'met' : 'NOT MET'}. (LanceDB is timed in-process, jack over HTTP with JSON; the in-process columns are searchChunks' warm passes above, the engine alone, for scale.)` +
    (mismatched.length === 0 ? '' : ` (Chunk counts differ: ${mismatched.map((result) => `${result.backend} holds ${formatInt(result.fill.chunks)}`).join(', ')}.)`))
  return lines
}

function report (results: readonly BackendResult[], lance: LanceResult | undefined, queries: number, pinning: string): boolean {
  const lines: string[] = []
  lines.push(`Query latency over HTTP with one organisation filled towards ${formatInt(TARGET_CHUNKS)} chunks (actual counts below): ${queries} SciFact test queries, POST /v1/search (top_k ${SEARCH_TOP_K}) and POST /v1/query (extractive answer, top_k ${QUERY_TOP_K}); ${WARM_UP_QUERIES} warm-up requests before each series but the cold one.`)
  lines.push('')
  for (const result of results) lines.push(fillLine(result))
  lines.push('')
  const rows: string[][] = []
  for (const result of results) {
    rows.push(seriesRow(result.backend, result.http.cold))
    result.http.search.forEach((search, index) => {
      rows.push(seriesRow(result.backend, search))
      const query = result.http.query[index]
      if (query !== undefined) rows.push(seriesRow(result.backend, query))
    })
    for (const series of result.http.concurrent) rows.push(seriesRow(result.backend, series))
  }
  lines.push(...table(['backend', 'series', 'clients', 'requests', 'p50 ms', 'p95 ms', 'max ms', 'mean ms', 'req/s', 'results/resp', 'empty', 'filter violations'], rows))
  lines.push('')
  // Goals are reported, not enforced: the exit code says whether the run itself is sound (no failed document, no filter violation, no warning, exact statistics).
  let valid = true
  for (const result of results) lines.push(goalLine(result).line)
  lines.push('')

  lines.push(`The engine alone: searchChunks top_k ${SEARCH_TOP_K} from this process after the server stopped (PGlite reopened here), sequential, no warm-up; the cold pass on a fresh process cache (every posting list and segment read from the database, whose own caches are as the server left them), then a warm pass per case.`)
  lines.push('')
  const engineRows: string[][] = []
  for (const result of results) {
    for (const timing of result.engine) {
      engineRows.push([result.backend, timing.pass, timing.scenario, String(timing.latencies.length), formatMs(percentile(timing.latencies, 50)), formatMs(percentile(timing.latencies, 95)), formatMs(Math.max(...timing.latencies)), formatMs(mean(timing.latencies))])
    }
  }
  lines.push(...table(['backend', 'pass', 'case', 'queries', 'p50 ms', 'p95 ms', 'max ms', 'mean ms'], engineRows))
  lines.push('')

  lines.push(`Exhaustive oracle (in-memory BM25 from the chunks' own analysis, not from the segments; bench/lib/bm25-oracle.ts) against the sequential /v1/search top ${SEARCH_TOP_K} of each case: agreement = queries whose top ${SEARCH_TOP_K} is the oracle's (ties at the ${SEARCH_TOP_K}th score either way), in order, with the exact relevance.`)
  lines.push('')
  const agreementRows: string[][] = []
  let agreementMet = true
  for (const result of results) {
    for (const agreement of result.oracle.agreements) {
      if (agreement.agreed !== agreement.compared) agreementMet = false
      agreementRows.push([result.backend, agreement.scenario, formatInt(agreement.allowedChunks), `${agreement.agreed} / ${agreement.compared}`, String(agreement.setDiffers), String(agreement.orderDiffers), String(agreement.scoreDiffers), agreement.meanHits.toFixed(1)])
    }
  }
  lines.push(...table(['backend', 'case', 'chunks passing', 'agreement', 'set differs', 'order differs', 'relevance differs', 'oracle hits/query'], agreementRows))
  lines.push('')
  for (const result of results) {
    const { oracle } = result
    const drift = oracle.chunkCount !== oracle.statsChunkCount || oracle.totalLength !== oracle.statsTotalLength
    if (drift) valid = false
    lines.push(`${result.backend}: oracle built in ${oracle.seconds.toFixed(1)} s from ${formatInt(oracle.chunkCount)} ready chunks (total length ${formatInt(oracle.totalLength)}) and ${formatInt(oracle.postings)} postings of the queries' ${formatInt(oracle.lexemes)} lexemes; ` +
      `org_chunk_stats says ${formatInt(oracle.statsChunkCount)} chunks, total length ${formatInt(oracle.statsTotalLength)}${drift ? ' — MISMATCH' : ' (the same)'}.`)
    for (const agreement of result.oracle.agreements) lines.push(`${result.backend}, ${agreement.scenario}: agreement: ${agreement.agreed} / ${agreement.compared}`)
  }
  lines.push(`Goal: agreement ${queries} / ${queries} in every case: ${agreementMet ? 'met' : 'NOT MET'}.`)
  for (const result of results) {
    for (const agreement of result.oracle.agreements) lines.push(...disagreementLines(result.backend, agreement))
  }
  lines.push('')

  lines.push(...lanceLines(lance, results))
  lines.push('')

  for (const result of results) {
    lines.push(`${result.backend}: search index after the series: ${result.indexState}.`)
    if (result.stateBefore !== undefined) lines.push(`${result.backend}: tables before the series: ${result.stateBefore}.`)
    lines.push(`${result.backend}: tables after the series: ${result.stateAfter}.`)
    lines.push(`${result.backend}: settings: ${result.settings}${result.backend === 'pglite' ? ' (as PGlite reports them; it runs no autovacuum process whatever the setting says)' : ''}.`)
    const settleWhere = result.fill.mode === 'direct'
      ? 'the server started after the direct fill'
      : `the fill's server once its queue was empty${result.backend === 'pglite' ? ', waiting for its worker\'s end-of-queue VACUUM (ANALYZE) of the search index' : ''}`
    lines.push(`${result.backend}: the first request after the fill took ${formatMs(result.fill.settleMs)} ms (${settleWhere}).`)
  }
  lines.push(`HTTP fill: POST /v1/ingest, ${BATCH_SIZE} documents per request, ${IN_FLIGHT} in flight; both fills insert rounds of ${WAVE_DOCUMENTS} documents while fewer than ${BACKLOG_DOCUMENTS} are processing, no round after ${FILL_BUDGET_MS / 1000} s. Server JACK_WORKERS=${WORKERS}, LOG_LEVEL=warn. Latency = client send → full response body; "empty" = responses without citations/results; "filter violations" = hits whose metadata fails the filter (must be 0).`)
  lines.push(`Concurrent runs: ${CONCURRENT_CLIENTS} clients, ${CONCURRENT_PASSES} pass(es) over the queries, each client sending its next request when its last is answered; req/s = requests ÷ wall time of the series (for sequential rows about 1000 ÷ mean ms).`)
  lines.push(pinning)
  lines.push(loadLine())

  for (const result of results) {
    if (result.fill.failed > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${result.fill.failed} documents failed or never became ready:`, ...result.fill.failures.map((line) => `  ${line}`))
    }
    const all = [result.http.cold, ...result.http.search, ...result.http.query, ...result.http.concurrent]
    const violations = all.reduce((sum, series) => sum + series.violations, 0)
    if (violations > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${violations} hits did not satisfy their request's filter`)
    }
    if (result.warningTotal > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): the fill or the server logged ${result.warningTotal} lines at warn or above:`, ...result.warnings.slice(0, 20).map((line) => `  ${line}`))
    }
  }
  if (!agreementMet) lines.push('WARNING: some /v1/search rankings differ from the exhaustive oracle (the disagreements are listed above).')
  process.stdout.write(`${lines.join('\n')}\n`)
  return valid
}

async function main (): Promise<number> {
  buildIfStale()
  const corpus = loadCorpus()
  const queries = loadTestQueries()
  progress(`planning ~${formatInt(TARGET_CHUNKS)} chunks from ${formatInt(corpus.length)} SciFact documents; fill: ${FILL_MODE}`)
  const planned = planDocuments(corpus)
  progress(`${formatInt(planned.length)} documents, ${formatInt(planned.reduce((sum, document) => sum + document.chunks, 0))} chunks at chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}`)
  const serverCpu = pinBenchmark()
  const pinning = pinningLine(serverCpu)
  progress(pinning)
  const key = newBootstrapKey()
  const results: BackendResult[] = []
  for (const backend of readBackends()) results.push(await runBackend(backend, key, serverCpu, planned, queries))
  let lance: LanceResult | undefined
  if (RUN_LANCEDB) {
    progress('LanceDB baseline on the same chunks (no server running)')
    lance = await withAllCpus(serverCpu, async () => await measureLanceDb(plannedChunks(planned), queries.map((query) => query.text), lanceScenarios(FIRST_YEAR), { warmUp: WARM_UP_QUERIES, topK: SEARCH_TOP_K }))
  }
  return report(results, lance, queries.length, pinning) ? 0 : 1
}

if (isEntryPoint(import.meta.url)) await runMain(main)
