// Benchmark: retrieval quality through the HTTP API — BEIR SciFact ingested over POST /v1/ingest, its 300 test queries through POST /v1/search (top_k 100): nDCG@10, Recall@100 and latency, against ts_rank_cd / ts_rank OR-query baselines computed in SQL over the same database, on PGlite and PostgreSQL.
//
// Also exports the SciFact loading and the direct database access that bench/query.ts uses.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { openDatabase, type Database } from '../src/db/client.js'
import { inOrg } from '../src/db/org-scope.js'
import { rowsOf } from '../src/db/rows.js'
import { asOrgId } from '../src/org-id.js'
import { Api, BATCH_SIZE, countDocuments, IN_FLIGHT, settle, submitDocuments, waitUntilProcessed, type SearchResult } from './lib/api.js'
import { formatInt, formatMs, isEntryPoint, loadLine, percentile, pinningLine, readInteger, table } from './lib/report.js'
import { buildIfStale, checkKey, newBootstrapKey, pinBenchmark, progress, readBackends, ROOT, runMain, withServer, withStorage, type Backend, type Storage } from './lib/server.js'

export const SCIFACT_DIR = process.env.BENCH_SCIFACT ?? path.resolve(ROOT, '..', 'shared', 'data', 'scifact')
const TOP_K = 100
const WARM_UP_QUERIES = 20
const GOAL_NDCG = 0.68

// ---------------------------------------------------------------------------------------------
// SciFact

export interface CorpusDocument {
  /** The SciFact corpus ID. */
  id: string
  /** title + "\n\n" + text */
  text: string
}

export interface TestQuery {
  id: string
  text: string
  /** Corpus ID → graded relevance (> 0) from qrels-test.tsv. */
  qrels: Map<string, number>
}

function readJsonl (file: string): unknown[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown)
}

export function loadCorpus (): CorpusDocument[] {
  const file = path.join(SCIFACT_DIR, 'corpus.jsonl')
  return readJsonl(file).map((row, index) => {
    const { _id: id, title, text } = row as { _id?: unknown, title?: unknown, text?: unknown }
    if (typeof id !== 'string' || typeof title !== 'string' || typeof text !== 'string') throw new Error(`${file} line ${index + 1}: expected string _id, title and text`)
    return { id, text: `${title}\n\n${text}` }
  })
}

/** The test queries: those of queries.jsonl whose ID has a positive judgement in qrels-test.tsv (a header line, then query-id, corpus-id, score). */
export function loadTestQueries (): TestQuery[] {
  const qrels = new Map<string, Map<string, number>>()
  const lines = fs.readFileSync(path.join(SCIFACT_DIR, 'qrels-test.tsv'), 'utf8').split('\n').slice(1)
  for (const line of lines) {
    if (line.trim() === '') continue
    const [queryId, corpusId, score] = line.trim().split('\t')
    const grade = Number(score)
    if (queryId === undefined || corpusId === undefined || !Number.isFinite(grade)) throw new Error(`qrels-test.tsv: malformed line "${line}"`)
    if (grade <= 0) continue
    const judged = qrels.get(queryId) ?? new Map<string, number>()
    judged.set(corpusId, grade)
    qrels.set(queryId, judged)
  }
  const queries: TestQuery[] = []
  for (const row of readJsonl(path.join(SCIFACT_DIR, 'queries.jsonl'))) {
    const { _id: id, text } = row as { _id?: unknown, text?: unknown }
    if (typeof id !== 'string' || typeof text !== 'string') continue
    const judged = qrels.get(id)
    if (judged !== undefined) queries.push({ id, text, qrels: judged })
  }
  if (queries.length !== qrels.size) throw new Error(`qrels-test.tsv judges ${qrels.size} queries, queries.jsonl has ${queries.length} of them`)
  return queries
}

// ---------------------------------------------------------------------------------------------
// Metrics (BEIR / pytrec_eval definitions: linear graded gain, log2 discount, ideal DCG from the qrels)

export function ndcgAt (k: number, ranking: readonly string[], qrels: ReadonlyMap<string, number>): number {
  let dcg = 0
  ranking.slice(0, k).forEach((id, index) => { dcg += (qrels.get(id) ?? 0) / Math.log2(index + 2) })
  const ideal = [...qrels.values()].sort((a, b) => b - a).slice(0, k).reduce((sum, gain, index) => sum + gain / Math.log2(index + 2), 0)
  return ideal === 0 ? 0 : dcg / ideal
}

export function recallAt (k: number, ranking: readonly string[], qrels: ReadonlyMap<string, number>): number {
  return qrels.size === 0 ? 0 : ranking.slice(0, k).filter((id) => (qrels.get(id) ?? 0) > 0).length / qrels.size
}

/** Documents in the order of their best chunk: the first occurrence of each ID. */
export function rankDocuments (ids: ReadonlyArray<string | undefined>): string[] {
  return [...new Set(ids.filter((id): id is string => id !== undefined))]
}

// ---------------------------------------------------------------------------------------------
// Opening the benchmark's database directly (PGlite: only once the server has stopped and released the directory)

export async function openBenchDatabase (backend: Backend, storage: Storage): Promise<Database> {
  if (backend === 'pglite') {
    const dataDir = storage.env.JACK_DATA_DIR
    if (dataDir === undefined) throw new Error('PGlite storage without JACK_DATA_DIR')
    return await openDatabase({ dataDir, migrate: false })
  }
  const databaseUrl = storage.env.DATABASE_URL
  if (databaseUrl === undefined) throw new Error('PostgreSQL storage without DATABASE_URL')
  return await openDatabase({ databaseUrl, dataDir: '', poolSize: 2, migrate: false })
}

/**
 * VACUUM ANALYZE of a PostgreSQL benchmark database as its owner: jack's own
 * connections serve as jack_app, which owns no table and so may not vacuum one.
 */
export async function vacuumAsOwner (storage: Storage): Promise<void> {
  const databaseUrl = storage.env.DATABASE_URL
  if (databaseUrl === undefined) throw new Error('PostgreSQL storage without DATABASE_URL')
  const owner = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  try {
    await owner.unsafe('vacuum analyze')
  } finally {
    await owner.end()
  }
}

/**
 * Visibility and vacuum state of the tables a search reads — jack's index
 * (index_segments, index_terms: drizzle/0009), the chunks and the documents:
 * PGlite never vacuums or analyses by itself (jack's worker does,
 * src/db/maintenance.ts), PostgreSQL's autovacuum may have by now.
 */
export async function tableState (database: Database): Promise<string> {
  const rows = rowsOf<Record<string, string | number | null>>(await database.db.execute(sql`
    select c.relname as name, pg_total_relation_size(c.oid) as bytes, c.relpages as pages, c.relallvisible as all_visible,
           s.n_live_tup as live, s.n_dead_tup as dead,
           coalesce(s.vacuum_count, 0) + coalesce(s.autovacuum_count, 0) as vacuums,
           coalesce(s.analyze_count, 0) + coalesce(s.autoanalyze_count, 0) as analyses,
           s.autovacuum_count as autovacuums
    from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
    where c.relname in ('index_segments', 'index_terms', 'chunks', 'documents') and c.relkind = 'r'
    order by c.relname`))
  return rows.map((row) => `${String(row.name)} ${formatInt(Number(row.bytes) / 2 ** 20)} MiB, ` +
    `relpages ${String(row.pages)} / all-visible ${String(row.all_visible)}, vacuums ${String(row.vacuums ?? '?')} (auto ${String(row.autovacuums ?? '?')}), analyses ${String(row.analyses ?? '?')}`).join('; ')
}

/** Settings that change what the figures mean (autovacuum, JIT, memory); PGlite's are its compiled-in defaults. */
export async function databaseSettings (database: Database): Promise<string> {
  const rows = rowsOf<{ name: string, setting: string }>(await database.db.execute(sql`
    select name, current_setting(name) as setting from pg_settings
    where name in ('server_version', 'autovacuum', 'jit', 'shared_buffers', 'work_mem', 'random_page_cost', 'effective_cache_size')
    order by name`))
  return rows.map(({ name, setting }) => `${name}=${setting}`).join(', ')
}

// ---------------------------------------------------------------------------------------------
// The measurements

interface Evaluation {
  label: string
  ndcg: number
  recall: number
  latencies: number[]
  /** Queries with no result at all. */
  empty: number
}

type Ranker = (query: TestQuery) => Promise<Array<string | undefined>>

async function evaluate (label: string, queries: readonly TestQuery[], ranker: Ranker): Promise<Evaluation> {
  for (const query of queries.slice(0, WARM_UP_QUERIES)) await ranker(query)
  const latencies: number[] = []
  let ndcg = 0
  let recall = 0
  let empty = 0
  for (const query of queries) {
    const started = performance.now()
    const ids = await ranker(query)
    latencies.push(performance.now() - started)
    if (ids.length === 0) empty++
    const ranking = rankDocuments(ids)
    ndcg += ndcgAt(10, ranking, query.qrels)
    recall += recallAt(100, ranking, query.qrels)
  }
  return { label, ndcg: ndcg / queries.length, recall: recall / queries.length, latencies, empty }
}

/**
 * PostgreSQL's own full-text ranking over the chunks: the query's lexemes ORed, matched through the GIN index on tsv,
 * best TOP_K chunks. Run as jack runs its own queries: in the organisation's transaction, under row-level security.
 */
function tsRanker (database: Database, orgId: string, rank: 'ts_rank_cd' | 'ts_rank'): Ranker {
  const rankFunction = sql.raw(rank)
  return async (query) => rowsOf<{ doc_id: string | null }>(await inOrg(database.db, asOrgId(orgId), async (tx) => await tx.execute(sql`
    with q as materialized (select replace(plainto_tsquery('english', ${query.text}::text)::text, '&', '|')::tsquery as q)
    select d.metadata ->> 'doc_id' as doc_id
    from q
    cross join chunks c
    join documents d on d.org_id = c.org_id and d.id = c.document_id
    where c.org_id = ${orgId} and d.status = 'ready' and c.tsv @@ q.q
    order by ${rankFunction}(c.tsv, q.q) desc, d.seq, c.chunk_index
    limit ${TOP_K}`))).map((row) => row.doc_id ?? undefined)
}

interface BackendResult {
  backend: Backend
  documents: number
  chunks: number
  ingestSeconds: number
  settleMs: number
  failed: number
  failures: string[]
  http: Evaluation
  baselines: Evaluation[]
  tableState: string
  settings: string
  warnings: string[]
  warningTotal: number
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined, corpus: readonly CorpusDocument[], queries: readonly TestQuery[], workers: number): Promise<BackendResult> {
  return await withStorage(backend, async (storage) => {
    progress(`${backend}: starting server with JACK_WORKERS=${workers}`)
    // The run sends ~350 requests a minute from one organisation.
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_WORKERS: String(workers), RATE_LIMIT_PER_MINUTE: '0' }
    const { result, warnings, warningTotal } = await withServer(backend, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      const api = new Api(server, key)
      progress(`${backend}: ingesting ${formatInt(corpus.length)} documents`)
      const started = performance.now()
      await submitDocuments(api, corpus.map((document) => ({ text: document.text, metadata: { doc_id: document.id } })))
      progress(`${backend}: all accepted after ${((performance.now() - started) / 1000).toFixed(1)} s; waiting until ready`)
      await waitUntilProcessed(api, backend, 30 * 60_000)
      const ingestSeconds = (performance.now() - started) / 1000
      const settleMs = await settle(api)
      const counts = await countDocuments(api)
      progress(`${backend}: ${formatInt(counts.ready)} ready (${formatInt(counts.chunks)} chunks), ${counts.failed} failed, in ${ingestSeconds.toFixed(1)} s; ${queries.length} queries through POST /v1/search`)
      let orgId: string | undefined
      const http = await evaluate('BM25 (jack), POST /v1/search over HTTP', queries, async (query) => {
        const { body } = await api.request<{ results: SearchResult[], org_id: string }>('POST', '/v1/search', 200, { query: query.text, top_k: TOP_K })
        orgId = body.org_id
        return body.results.map((hit) => hit.metadata.doc_id)
      })
      if (orgId === undefined) throw new Error('no search response named the org')
      return { counts, ingestSeconds, settleMs, http, orgId }
    })

    // The server has stopped (PGlite's directory is free again); the baselines rank over the very same rows.
    progress(`${backend}: server stopped; ts_rank_cd / ts_rank baselines in SQL`)
    const database = await openBenchDatabase(backend, storage)
    try {
      const state = await tableState(database)
      const settings = await databaseSettings(database)
      const baselines: Evaluation[] = []
      baselines.push(await evaluate('ts_rank_cd, OR tsquery (SQL, GIN on tsv)', queries, tsRanker(database, result.orgId, 'ts_rank_cd')))
      baselines.push(await evaluate('ts_rank, OR tsquery (SQL, GIN on tsv)', queries, tsRanker(database, result.orgId, 'ts_rank')))
      return {
        backend,
        documents: result.counts.ready,
        chunks: result.counts.chunks,
        ingestSeconds: result.ingestSeconds,
        settleMs: result.settleMs,
        failed: result.counts.failed + result.counts.processing,
        failures: result.counts.failures,
        http: result.http,
        baselines,
        tableState: state,
        settings,
        warnings,
        warningTotal
      }
    } finally {
      await database.close()
    }
  })
}

function report (results: readonly BackendResult[], corpusSize: number, queries: number, workers: number, pinning: string): boolean {
  const lines: string[] = []
  lines.push(`BEIR SciFact retrieval through jack's HTTP API: ${queries} test queries, top_k ${TOP_K} chunks, documents ranked by their best chunk (first occurrence of doc_id); nDCG@10 and Recall@100 as in BEIR (graded gains from qrels-test.tsv, log2 discount).`)
  lines.push('')
  const rows: string[][] = []
  for (const result of results) {
    for (const evaluation of [result.http, ...result.baselines]) {
      rows.push([
        result.backend,
        evaluation.label,
        evaluation.ndcg.toFixed(3),
        evaluation.recall.toFixed(3),
        formatMs(percentile(evaluation.latencies, 50)),
        formatMs(percentile(evaluation.latencies, 95)),
        formatMs(Math.max(...evaluation.latencies)),
        String(evaluation.empty)
      ])
    }
  }
  lines.push(...table(['backend', 'ranking', 'nDCG@10', 'Recall@100', 'p50 ms', 'p95 ms', 'max ms', 'no results'], rows))
  lines.push('')
  for (const result of results) {
    const met = result.http.ndcg >= GOAL_NDCG && result.failed === 0
    lines.push(`Goal (${result.backend}): nDCG@10 ≥ ${GOAL_NDCG} through the HTTP API: ${met ? 'met' : 'NOT MET'} — ${result.http.ndcg.toFixed(3)}`)
  }
  lines.push('')
  for (const result of results) {
    lines.push(`${result.backend}: ingested ${formatInt(result.documents)} of ${formatInt(corpusSize)} documents → ${formatInt(result.chunks)} chunks (default chunk_size 512 / overlap 64) in ${result.ingestSeconds.toFixed(1)} s (POST /v1/ingest, ${BATCH_SIZE} per request, ${IN_FLIGHT} in flight, JACK_WORKERS=${workers}); ` +
      `the first request after it took ${formatMs(result.settleMs)} ms (on PGlite it may wait for the worker's VACUUM (ANALYZE) of the search index once the queue runs dry); measured as ingested, no VACUUM/ANALYZE run by the benchmark.`)
    lines.push(`${result.backend}: table state at the baseline run: ${result.tableState}.`)
    lines.push(`${result.backend}: settings: ${result.settings}${result.backend === 'pglite' ? ' (as PGlite reports them; it runs no autovacuum process whatever the setting says)' : ''}.`)
  }
  lines.push('')
  lines.push(`Latency: HTTP rows = one POST /v1/search (top_k ${TOP_K}) from the client to the full response body, sequential, after ${WARM_UP_QUERIES} warm-up queries, server running; SQL rows = the baseline statement alone through Drizzle from this process, after the server stopped (PGlite: the data directory reopened in this process).`)
  lines.push('Vacuum: PGlite has no autovacuum; jack\'s worker vacuums and analyses the search index (index_terms, index_segments, index_deletions, index_deleted_terms) and analyses org_chunk_stats, documents and chunks itself when the queue runs dry after 100 documents (or 5 minutes) made ready since the last time (src/db/maintenance.ts, src/ingest/worker.ts). PostgreSQL is left to its autovacuum setting (above). relpages / all-visible are as of the last VACUUM or ANALYZE (0 / 0: never); PGlite does not keep the vacuum counters across the restart. Quality does not depend on any of it, latency does.')
  lines.push(pinning)
  lines.push(loadLine())
  let valid = true
  for (const result of results) {
    if (result.failed > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${result.failed} documents failed or never became ready:`, ...result.failures.map((line) => `  ${line}`))
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
  const workers = readInteger('BENCH_WORKERS', 2, 1, 64)
  const corpus = loadCorpus()
  const queries = loadTestQueries()
  progress(`SciFact: ${formatInt(corpus.length)} documents, ${queries.length} test queries (${SCIFACT_DIR})`)
  const serverCpu = pinBenchmark()
  const pinning = pinningLine(serverCpu)
  progress(pinning)
  const key = newBootstrapKey()
  const results: BackendResult[] = []
  for (const backend of readBackends()) results.push(await runBackend(backend, key, serverCpu, corpus, queries, workers))
  return report(results, corpus.length, queries.length, workers, pinning) ? 0 : 1
}

if (isEntryPoint(import.meta.url)) await runMain(main)
