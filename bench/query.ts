// Benchmark: query latency over HTTP at ~100,000 chunks in one organisation — POST /v1/query (extractive answers) for the 300 SciFact test queries without filters, with an equality filter (~10 % of documents) and with an $in/$or filter, plus POST /v1/search top_k 10, sequentially and with 4 concurrent clients; the BM25 SQL alone and EXPLAIN ANALYZE of the slowest query; on PostgreSQL and PGlite.
import { performance } from 'node:perf_hooks'
import { sql, type SQL } from 'drizzle-orm'
import type { Database, Db } from '../src/db/client.js'
import { chunkText } from '../src/ingest/chunker.js'
import { asOrgId } from '../src/org-id.js'
import { searchChunks } from '../src/search-index/search-chunks.js'
import { parseFilter } from '../src/retrieval/filters.js'
import { buildIfStale, checkKey, newBootstrapKey, pinBenchmark, progress, readBackends, runMain, sleep, withServer, withStorage, type Backend, type Storage } from './lib/server.js'
import { Api, BATCH_SIZE, countDocuments, IN_FLIGHT, settle, submitDocuments, waitUntilProcessed, type IngestDocument, type SearchResult } from './lib/api.js'
import { formatInt, formatMs, isEntryPoint, loadLine, percentile, pinningLine, readInteger, table } from './lib/report.js'
import { databaseSettings, vacuumAsOwner, loadCorpus, loadTestQueries, openBenchDatabase, tableState, type CorpusDocument, type TestQuery } from './retrieval.js'
import { rowsOf } from '../src/db/rows.js'
import { inOrg } from '../src/db/org-scope.js'

const TARGET_CHUNKS = readInteger('BENCH_CHUNKS', 100_000, 1000, 10_000_000)
const CHUNK_SIZE = readInteger('BENCH_CHUNK_SIZE', 128, 128, 4096)
const CHUNK_OVERLAP = Math.min(64, CHUNK_SIZE - 1)
/** No submission round starts after this (PGlite may be slow to fill); the report says when the fill stopped short. */
const FILL_BUDGET_MS = readInteger('BENCH_FILL_SECONDS', 600, 10, 86_400) * 1000
const WORKERS = readInteger('BENCH_WORKERS', 4, 1, 64)
const CONCURRENT_CLIENTS = readInteger('BENCH_CLIENTS', 4, 2, 64)
/** Documents per submission round; a round is sent only while fewer than BACKLOG_DOCUMENTS are still processing. */
const WAVE_DOCUMENTS = 250
/** Keeps the queue short, so the fill ends soon after the budget stops submitting (and PGlite's end-of-queue VACUUM runs about once). */
const BACKLOG_DOCUMENTS = 500
const WARM_UP_QUERIES = 20
/** Passes over the 300 queries in the concurrent run. */
const CONCURRENT_PASSES = 1
const QUERY_TOP_K = 6
const SEARCH_TOP_K = 10
const GOAL_P95_MS = 50
const FIRST_YEAR = 2015

type Metadata = Record<string, string>

interface Scenario {
  label: string
  filters: Record<string, unknown> | undefined
  /** The same filter in JS, to count the documents it matches and check every citation against it. */
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
// Filling the organisation: SciFact repeated, each copy distinct by metadata

interface PlannedDocument extends IngestDocument {
  chunks: number
}

/**
 * Copies of the corpus, document by document, until their chunks (counted with
 * the server's own chunker) reach TARGET_CHUNKS. Metadata: the SciFact ID, the
 * copy, and a year cycling over ten values, so year = one value holds 10 %.
 */
function planDocuments (corpus: readonly CorpusDocument[]): PlannedDocument[] {
  const counts = corpus.map((document) => chunkText(document.text, { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP }).length)
  const planned: PlannedDocument[] = []
  let chunks = 0
  for (let copy = 0; chunks < TARGET_CHUNKS; copy++) {
    for (const [index, document] of corpus.entries()) {
      if (chunks >= TARGET_CHUNKS) break
      const count = counts[index] ?? 0
      planned.push({ text: document.text, metadata: { doc_id: document.id, copy: String(copy), year: String(FIRST_YEAR + (planned.length % 10)) }, chunks: count })
      chunks += count
    }
  }
  return planned
}

interface FillResult {
  plannedDocuments: number
  plannedChunks: number
  submitted: number
  seconds: number
  /** The first request after the fill (on PGlite it waits for the worker's VACUUM of postings). */
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

async function processingCount (api: Api): Promise<number> {
  const { body } = await api.request<unknown[]>('GET', `/v1/documents?status=processing&limit=${BACKLOG_DOCUMENTS}`, 200)
  return body.length
}

async function fill (api: Api, backend: Backend, planned: readonly PlannedDocument[]): Promise<FillResult> {
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
  const seconds = (performance.now() - started) / 1000
  const settleMs = await settle(api)
  const counts = await countDocuments(api)
  const ready = counts.documents.filter((document) => document.status === 'ready')
  const selectivity = SCENARIOS.map((scenario) => {
    const matching = ready.filter((document) => scenario.matches(document.metadata))
    return {
      documents: matching.length / Math.max(1, ready.length),
      chunks: matching.reduce((sum, document) => sum + document.chunk_count, 0) / Math.max(1, counts.chunks)
    }
  })
  return {
    plannedDocuments: planned.length,
    plannedChunks: planned.reduce((sum, document) => sum + document.chunks, 0),
    submitted,
    seconds,
    settleMs,
    partial,
    ready: counts.ready,
    failed: counts.failed + counts.processing,
    chunks: counts.chunks,
    failures: counts.failures,
    selectivity
  }
}

// ---------------------------------------------------------------------------------------------
// Latency series over HTTP

interface Series {
  label: string
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
  /** The query text of the slowest request. */
  slowest: string
}

interface QueryResponse {
  answer: string
  citations: Array<{ metadata: Metadata }>
}

type Request = (query: TestQuery) => Promise<Metadata[]>

function queryRequest (api: Api, scenario: Scenario): Request {
  return async (query) => {
    const { body } = await api.request<QueryResponse>('POST', '/v1/query', 200, {
      question: query.text,
      ...(scenario.filters === undefined ? {} : { filters: scenario.filters })
    })
    return body.citations.map((citation) => citation.metadata)
  }
}

function searchRequest (api: Api): Request {
  return async (query) => {
    const { body } = await api.request<{ results: SearchResult[] }>('POST', '/v1/search', 200, { query: query.text, top_k: SEARCH_TOP_K })
    return body.results.map((result) => result.metadata)
  }
}

/** `queries` × `passes` requests from `clients` clients, each sending its next request when the last one is answered. */
async function runSeries (label: string, queries: readonly TestQuery[], request: Request, matches: Scenario['matches'], clients: number, passes: number): Promise<Series> {
  for (const query of queries.slice(0, WARM_UP_QUERIES)) await request(query)
  const work = Array.from({ length: passes }, () => queries).flat()
  const latencies: number[] = []
  let results = 0
  let empty = 0
  let violations = 0
  let slowest = { ms: -1, text: '' }
  let next = 0
  const started = performance.now()
  const client = async (): Promise<void> => {
    while (next < work.length) {
      const query = work[next++] as TestQuery
      const sent = performance.now()
      const metadata = await request(query)
      const ms = performance.now() - sent
      latencies.push(ms)
      if (ms > slowest.ms) slowest = { ms, text: query.text }
      results += metadata.length
      if (metadata.length === 0) empty++
      violations += metadata.filter((item) => !matches(item)).length
    }
  }
  await Promise.all(Array.from({ length: clients }, client))
  const wallSeconds = (performance.now() - started) / 1000
  return { label, requests: work.length, latencies, wallSeconds, meanResults: results / work.length, empty, violations, slowest: slowest.text }
}

// ---------------------------------------------------------------------------------------------
// The BM25 SQL alone, from this process, and EXPLAIN ANALYZE of one query

interface SqlTiming {
  label: string
  latencies: number[]
}

/** The same transaction, remembering the last statement it executed so the exact SQL searchChunks ran can be explained (a Proxy, so inOrg still sees a transaction). */
function capturing (db: Db): { db: Db, last: () => SQL | undefined } {
  let last: SQL | undefined
  const execute = async (query: SQL): Promise<unknown> => { last = query; return await db.execute(query) }
  const wrapper = new Proxy(db, { get: (target, property, receiver) => property === 'execute' ? execute : Reflect.get(target, property, receiver) as unknown })
  return { db: wrapper, last: () => last }
}

async function timeSql (database: Database, orgId: string, queries: readonly TestQuery[], scenario: Scenario): Promise<SqlTiming> {
  const filter = parseFilter(scenario.filters ?? {})
  const run = async (query: TestQuery): Promise<void> => { await searchChunks(database.db, asOrgId(orgId), { query: query.text, filter, topK: QUERY_TOP_K }) }
  for (const query of queries.slice(0, WARM_UP_QUERIES)) await run(query)
  const latencies: number[] = []
  for (const query of queries) {
    const started = performance.now()
    await run(query)
    latencies.push(performance.now() - started)
  }
  return { label: `searchChunks, ${scenario.label}, top_k ${QUERY_TOP_K}`, latencies }
}

interface Explained {
  query: string
  lexemes: number
  postings: number
  plan: string[]
}

async function explain (database: Database, orgId: string, query: string): Promise<Explained> {
  // In the organisation's transaction, as jack runs it: row-level security shows nothing outside one.
  return await inOrg(database.db, asOrgId(orgId), async (tx) => {
    const { db, last } = capturing(tx)
    await searchChunks(db, asOrgId(orgId), { query, filter: parseFilter({}), topK: QUERY_TOP_K })
    const statement = last()
    if (statement === undefined) throw new Error('searchChunks ran no statement')
    const plan = rowsOf<Record<string, string>>(await tx.execute(sql`explain (analyze, buffers) ${statement}`)).map((row) => Object.values(row)[0] ?? '')
    const [terms] = rowsOf<{ lexemes: number | string, postings: number | string }>(await tx.execute(sql`
      with q as (select lexeme collate "C" as lexeme from unnest(to_tsvector('english', ${query}::text)))
      select (select count(*) from q) as lexemes,
             (select count(*) from postings p where p.org_id = ${orgId} and p.lexeme in (select lexeme from q)) as postings`))
    return { query, lexemes: Number(terms?.lexemes), postings: Number(terms?.postings), plan }
  })
}

// ---------------------------------------------------------------------------------------------

interface BackendResult {
  backend: Backend
  fill: FillResult
  series: Series[]
  concurrent: Series
  sql: SqlTiming[]
  explained: Explained | undefined
  /** PostgreSQL only: the same after VACUUM ANALYZE, which autovacuum would have done had it been on. */
  sqlVacuumed: SqlTiming[]
  explainedVacuumed: Explained | undefined
  stateBefore: string | undefined
  stateAfter: string
  settings: string
  warnings: string[]
  warningTotal: number
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined, planned: readonly PlannedDocument[], queries: readonly TestQuery[]): Promise<BackendResult> {
  return await withStorage(backend, async (storage: Storage) => {
    progress(`${backend}: starting server with JACK_WORKERS=${WORKERS}`)
    // One organisation sends far more than the default 60 requests a minute.
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_WORKERS: String(WORKERS), RATE_LIMIT_PER_MINUTE: '0' }
    const { result, warnings, warningTotal } = await withServer(backend, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      const api = new Api(server, key)
      progress(`${backend}: filling the org with ${formatInt(planned.length)} documents (chunk_size ${CHUNK_SIZE}, overlap ${CHUNK_OVERLAP}), at most ${BACKLOG_DOCUMENTS} processing at a time`)
      const filled = await fill(api, backend, planned)
      progress(`${backend}: ${formatInt(filled.ready)} documents ready, ${formatInt(filled.chunks)} chunks, ${filled.failed} failed, in ${filled.seconds.toFixed(0)} s`)
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
      const { body: probe } = await api.request<{ org_id: string }>('POST', '/v1/search', 200, { query: 'probe', top_k: 1 })
      const series: Series[] = []
      for (const scenario of SCENARIOS) {
        progress(`${backend}: POST /v1/query, ${scenario.label}, sequential`)
        series.push(await runSeries(`POST /v1/query, ${scenario.label}`, queries, queryRequest(api, scenario), scenario.matches, 1, 1))
      }
      progress(`${backend}: POST /v1/search top_k ${SEARCH_TOP_K}, sequential`)
      series.push(await runSeries(`POST /v1/search top_k ${SEARCH_TOP_K}, no filter`, queries, searchRequest(api), () => true, 1, 1))
      progress(`${backend}: POST /v1/query, no filter, ${CONCURRENT_CLIENTS} concurrent clients`)
      const concurrent = await runSeries(`POST /v1/query, no filter, ${CONCURRENT_CLIENTS} clients`, queries, queryRequest(api, unfilteredScenario), unfilteredScenario.matches, CONCURRENT_CLIENTS, CONCURRENT_PASSES)
      return { filled, series, concurrent, stateBefore, orgId: probe.org_id }
    })

    progress(`${backend}: server stopped; the BM25 SQL alone from this process`)
    const database = await openBenchDatabase(backend, storage)
    try {
      const stateAfter = await tableState(database)
      const settings = await databaseSettings(database)
      const timings: SqlTiming[] = []
      // Unfiltered only: the HTTP series show what filters add, and each series costs minutes at this size.
      timings.push(await timeSql(database, result.orgId, queries, unfilteredScenario))
      const slowest = result.series[0]?.slowest
      const explained = backend === 'postgres' && slowest !== undefined ? await explain(database, result.orgId, slowest) : undefined
      const sqlVacuumed: SqlTiming[] = []
      let explainedVacuumed: Explained | undefined
      if (backend === 'postgres') {
        progress(`${backend}: VACUUM ANALYZE, then the BM25 SQL again`)
        await vacuumAsOwner(storage)
        sqlVacuumed.push(await timeSql(database, result.orgId, queries, unfilteredScenario))
        if (slowest !== undefined) explainedVacuumed = await explain(database, result.orgId, slowest)
      }
      return { backend, fill: result.filled, series: result.series, concurrent: result.concurrent, sql: timings, explained, sqlVacuumed, explainedVacuumed, stateBefore: result.stateBefore, stateAfter, settings, warnings, warningTotal }
    } finally {
      await database.close()
    }
  })
}

function seriesRow (backend: Backend, series: Series, clients: number): string[] {
  const mean = series.latencies.reduce((sum, ms) => sum + ms, 0) / Math.max(1, series.latencies.length)
  return [
    backend,
    series.label,
    String(clients),
    String(series.requests),
    formatMs(percentile(series.latencies, 50)),
    formatMs(percentile(series.latencies, 95)),
    formatMs(Math.max(...series.latencies)),
    formatMs(mean),
    (series.requests / series.wallSeconds).toFixed(1),
    series.meanResults.toFixed(1),
    String(series.empty),
    String(series.violations)
  ]
}

function report (results: readonly BackendResult[], queries: number, pinning: string): boolean {
  const lines: string[] = []
  lines.push(`Query latency over HTTP with one organisation filled towards ${formatInt(TARGET_CHUNKS)} chunks (actual counts below): ${queries} SciFact test queries, POST /v1/query (extractive answer, top_k ${QUERY_TOP_K}) and POST /v1/search (top_k ${SEARCH_TOP_K}); ${WARM_UP_QUERIES} warm-up requests before each series.`)
  lines.push('')
  for (const result of results) {
    const { fill: filled } = result
    lines.push(`${result.backend}: ${formatInt(filled.ready)} documents ready → ${formatInt(filled.chunks)} chunks (SciFact repeated, chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}), filled in ${filled.seconds.toFixed(0)} s` +
      (filled.partial
        ? ` — PARTIAL: the ${FILL_BUDGET_MS / 1000} s fill budget stopped it at ${formatInt(filled.submitted)} of ${formatInt(filled.plannedDocuments)} planned documents (${formatInt(filled.plannedChunks)} chunks)`
        : '') +
      `; filter selectivity: ${SCENARIOS.slice(1).map((scenario, index) => {
        const share = filled.selectivity[index + 1]
        return `${scenario.label} ${((share?.documents ?? 0) * 100).toFixed(1)} % of documents (${((share?.chunks ?? 0) * 100).toFixed(1)} % of chunks)`
      }).join(', ')}.`)
  }
  lines.push('')
  const rows: string[][] = []
  for (const result of results) {
    for (const series of result.series) rows.push(seriesRow(result.backend, series, 1))
    rows.push(seriesRow(result.backend, result.concurrent, CONCURRENT_CLIENTS))
  }
  lines.push(...table(['backend', 'series', 'clients', 'requests', 'p50 ms', 'p95 ms', 'max ms', 'mean ms', 'req/s', 'results/resp', 'empty', 'filter violations'], rows))
  lines.push('')
  lines.push('The BM25 SQL alone (searchChunks from this process through Drizzle, sequential, after the server stopped; PGlite reopened in this process):')
  lines.push('')
  const sqlRows: string[][] = []
  for (const result of results) {
    for (const [state, timings] of [['as ingested', result.sql], ['after VACUUM ANALYZE', result.sqlVacuumed]] as const) {
      for (const timing of timings) {
        sqlRows.push([result.backend, state, timing.label, formatMs(percentile(timing.latencies, 50)), formatMs(percentile(timing.latencies, 95)), formatMs(Math.max(...timing.latencies))])
      }
    }
  }
  lines.push(...table(['backend', 'tables', 'statement', 'p50 ms', 'p95 ms', 'max ms'], sqlRows))
  lines.push('')

  let valid = true
  const postgresResult = results.find((result) => result.backend === 'postgres')
  if (postgresResult === undefined) {
    lines.push(`Goal: PostgreSQL p95 ≤ ${GOAL_P95_MS} ms for the extractive path: not measured (PostgreSQL not in BENCH_BACKENDS).`)
  } else {
    const p95s = postgresResult.series.slice(0, SCENARIOS.length).map((series) => percentile(series.latencies, 95))
    const met = p95s.every((p95) => p95 <= GOAL_P95_MS) && !postgresResult.fill.partial && postgresResult.fill.chunks >= TARGET_CHUNKS
    lines.push(`Goal: PostgreSQL p95 ≤ ${GOAL_P95_MS} ms for the extractive path: ${met ? 'met' : 'NOT MET'} — POST /v1/query p95 ` +
      SCENARIOS.map((scenario, index) => `${formatMs(p95s[index] ?? Number.NaN)} ms ${scenario.label}`).join(', ') +
      ` at ${formatInt(postgresResult.fill.chunks)} chunks (all three sequential series must be within the goal).`)
  }
  lines.push('')
  for (const result of results) {
    if (result.stateBefore !== undefined) lines.push(`${result.backend}: tables before the series: ${result.stateBefore}.`)
    lines.push(`${result.backend}: tables after the series: ${result.stateAfter}.`)
    lines.push(`${result.backend}: settings: ${result.settings}${result.backend === 'pglite' ? ' (as PGlite reports them; it runs no autovacuum process whatever the setting says)' : ''}.`)
  }
  lines.push('HTTP series are measured as ingested: the benchmark runs no VACUUM or ANALYZE before them. PGlite has no autovacuum, but jack\'s worker vacuums and analyses the search tables itself whenever the queue runs dry (so at the end of the fill); PostgreSQL is left to its autovacuum setting (above). relpages / all-visible are as of the last VACUUM or ANALYZE (0 / 0: never); PGlite does not keep the vacuum counters across the restart.')
  for (const result of results) lines.push(`${result.backend}: the first request after the fill took ${formatMs(result.fill.settleMs)} ms (on PGlite it waits for the worker's end-of-ingest VACUUM (ANALYZE) of postings).`)
  lines.push(`Fill: POST /v1/ingest, ${BATCH_SIZE} documents per request, ${IN_FLIGHT} in flight, rounds of ${WAVE_DOCUMENTS} documents sent while fewer than ${BACKLOG_DOCUMENTS} are processing, no round started after ${FILL_BUDGET_MS / 1000} s; server JACK_WORKERS=${WORKERS}, LOG_LEVEL=warn. Latency = client send → full response body; "empty" = responses without citations/results; "filter violations" = citations whose metadata fails the filter (must be 0).`)
  lines.push(`Concurrent run: ${CONCURRENT_CLIENTS} clients, ${CONCURRENT_PASSES} pass(es) over the queries, each client sending its next request when its last is answered; req/s = requests ÷ wall time of the series (for sequential rows about 1000 ÷ mean ms).`)
  lines.push(pinning)
  lines.push(loadLine())

  for (const result of results) {
    for (const [state, explained] of [['as ingested', result.explained], ['after VACUUM ANALYZE', result.explainedVacuumed]] as const) {
      if (explained === undefined) continue
      lines.push('')
      lines.push(`EXPLAIN (ANALYZE, BUFFERS) on ${result.backend}, ${state}, of the slowest unfiltered /v1/query's BM25 statement (top_k ${QUERY_TOP_K}): "${explained.query}" — ${explained.lexemes} lexemes, ${formatInt(explained.postings)} postings:`)
      lines.push('```', ...explained.plan, '```')
    }
  }

  for (const result of results) {
    if (result.fill.failed > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${result.fill.failed} documents failed or never became ready:`, ...result.fill.failures.map((line) => `  ${line}`))
    }
    const violations = [...result.series, result.concurrent].reduce((sum, series) => sum + series.violations, 0)
    if (violations > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${violations} citations did not satisfy their request's filter`)
    }
    if (result.warningTotal > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): the server logged ${result.warningTotal} lines at warn or above:`, ...result.warnings.slice(0, 20).map((line) => `  ${line}`))
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  return valid
}

async function main (): Promise<number> {
  buildIfStale()
  const corpus = loadCorpus()
  const queries = loadTestQueries()
  progress(`planning ~${formatInt(TARGET_CHUNKS)} chunks from ${formatInt(corpus.length)} SciFact documents`)
  const planned = planDocuments(corpus)
  progress(`${formatInt(planned.length)} documents, ${formatInt(planned.reduce((sum, document) => sum + document.chunks, 0))} chunks at chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}`)
  const serverCpu = pinBenchmark()
  const pinning = pinningLine(serverCpu)
  progress(pinning)
  const key = newBootstrapKey()
  const results: BackendResult[] = []
  for (const backend of readBackends()) results.push(await runBackend(backend, key, serverCpu, planned, queries))
  return report(results, queries.length, pinning) ? 0 : 1
}

if (isEntryPoint(import.meta.url)) await runMain(main)
