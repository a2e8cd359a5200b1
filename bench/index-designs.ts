// Benchmark: index designs for exact BM25 at scale, side by side on one corpus — the exhaustive SQL jack ran before issue #11, design A (compressed posting blocks in PostgreSQL, block-max WAND in the application, cold and cached), the engine jack ships now (src/search-index/: searchChunks over per-organisation segments, block-max WAND) and design B (block-max pruning over ordinal ranges inside one SQL statement) — with agreement against an exhaustive oracle, filters, fresh ingests and deletes.
//
// The corpus goes in through jack's write path (finishJob writes each
// document's segment; the benchmark then merges them as the worker's
// IndexMerger would). The old layout is the benchmark's own: bench_postings,
// the dropped postings table's columns, key and row-level security, filled from
// the stored chunks with what the old triggers wrote, and the old exhaustive
// scorer pointed at it (bench/lib/bench-postings.ts). The oracle and designs
// A and B are built from bench_postings; every design's hits are checked
// against the oracle by (document, chunk).
//
// RESULTS, from the previous session's run at 1,000,005 chunks on PostgreSQL
// (BENCH_CHUNKS=1000000; 300 SciFact test queries, top 10, in-process, no
// HTTP; every series agreed with the exhaustive oracle on 300/300 queries).
// That run predates the shipped engine: it measured the baseline as jack's
// searchChunks over the postings table, and has no "jack now" series.
// - baseline, exhaustive SQL: p50 536 / p95 1,354 ms.
// - design A, one segment: cold p50 15 / p95 43 ms; cached encoded 9.8 / 25;
//   cached decoded 10 / 30.
// - design A, 10 segments: cold 25 / 56, cached 15 / 34; 1 + 10 fresh
//   segments 12–15 / 31–37 ms.
// - design A, filtered: year = one value (10 %) with an SQL allow-list p95
//   104–114 ms, $or 90–165 ms; with the filter checked on the hits instead:
//   year p95 109–114, $or 90–106.
// - design B: p50 384 / p95 4,280 ms unfiltered, filtered p95 993–2,003 ms:
//   rejected.
// Design A became src/search-index/. Goal: p95 ≤ 50 ms over HTTP at 1,000,000
// chunks on PostgreSQL.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { inOrg } from '../src/db/org-scope.js'
import { rowsOf } from '../src/db/rows.js'
import { asOrgId, type OrgId } from '../src/org-id.js'
import { deleteDocument } from '../src/repositories/documents.repo.js'
import { indexCacheFor, searchChunks } from '../src/search-index/search-chunks.js'
import { EMPTY_FILTER, parseFilter, type Filter } from '../src/retrieval/filters.js'
import { addDocumentPostings, BENCH_POSTINGS, benchPostingsExist, buildBenchPostings, deleteDocumentPostings, searchExhaustiveSql } from './lib/bench-postings.js'
import { describeIndex, JACK_INDEX_TABLES, settleMerges, summariseIndex } from './lib/jack-index.js'
import { formatInt, formatMs, isEntryPoint, loadLine, percentile, readInteger, table } from './lib/report.js'
import { MAINTENANCE_URL, progress, readBackends, runMain, withStorage, type Backend, type Storage } from './lib/server.js'
import { loadCorpus, loadTestQueries, type TestQuery } from './retrieval.js'
import {
  assignOrdinals, CHUNK_OVERLAP, chunkLexemes, CHUNK_SIZE, corpusStatistics, createBenchOrg, createOrdinalsTable, dropOrdinals, FIRST_YEAR, ingestDocuments,
  openBench, ORDINALS_TABLE, planDocuments, queryLexemes, readBatchPostings, readPostings, relationBytes, vacuumAnalyze,
  type BenchDatabase, type DocumentEntry, type MemoryIndex, type Metadata, type PlannedDocument
} from './index-designs/corpus.js'
import { agrees, ExhaustiveRanker, indexStatistics, type Eligibility, type Hit, type Statistics } from './index-designs/oracle.js'
import { activateSegments, buildSegment, createSegmentTables, markDeleted, mergeSegments, SEGMENT_TABLES, segmentPayloadBytes, SegmentSearcher, type CacheMode, type SegmentSpec } from './index-designs/segments.js'
import { addPostings, buildPrefixIndex, deletePostings, PREFIX_TABLES, sealPostings, searchPrefixes } from './index-designs/impact-prefixes.js'

const TARGET_CHUNKS = readInteger('BENCH_CHUNKS', 100_000, 1000, 10_000_000)
const TOP_K = readInteger('BENCH_TOP_K', 10, 1, 1000)
const BLOCK_SIZE = readInteger('BENCH_BLOCK_SIZE', 128, 8, 65_536)
/** Other block sizes to compare (design A, unfiltered); default at ≤ 200k chunks only. */
const BLOCK_SWEEP = (process.env.BENCH_BLOCK_SWEEP ?? (TARGET_CHUNKS <= 200_000 ? '64,256' : '')).split(',').map((value) => value.trim()).filter((value) => value !== '').map(Number)
const SEGMENT_SPLIT = readInteger('BENCH_SEGMENTS', 10, 2, 1000)
/** Design B's prefix sizes, tried in turn before the exhaustive fallback. */
const PREFIX_SIZES = (process.env.BENCH_PREFIXES ?? '256,4096').split(',').map((value) => Number(value.trim())).filter((value) => Number.isInteger(value) && value > 0)
const WORKERS = readInteger('BENCH_WORKERS', 4, 1, 32)
const CACHE_LIMIT_BYTES = readInteger('BENCH_CACHE_MB', 2048, 1, 65_536) * 2 ** 20
/** all: the baseline on every scenario and lifecycle step; unfiltered: its first series only (it costs seconds a query at 1M); none. */
const BASELINE = process.env.BENCH_BASELINE ?? 'all'
const FRESH_BATCHES = readInteger('BENCH_FRESH_BATCHES', 10, 1, 100)
const FRESH_DOCUMENTS = readInteger('BENCH_FRESH_DOCUMENTS', 50, 1, 10_000)
const DELETED_DOCUMENTS = readInteger('BENCH_DELETES', 20, 1, 1000)
const WARM_UP = 20
const GOAL_P95_MS = 50
/** PostgreSQL only: measure on this existing benchmark database (filled by an earlier BENCH_FILL_ONLY=1 run) instead of a fresh one, and keep it. */
const REUSE_DATABASE = process.env.BENCH_DATABASE
/**
 * Ingest, merge, fill bench_postings, VACUUM ANALYZE, print the database's
 * name and stop, keeping it; measuring can then be repeated. (The 1M fill took
 * ~30 min with the old triggers; it now includes jack's merges, timed in the
 * build table.)
 */
const FILL_ONLY = process.env.BENCH_FILL_ONLY === '1'
/** Which parts run: baseline, a (design A's main series), jack (the shipped searchChunks), a-verify (filters checked on the hits), a-cached-filter (allow-lists cached per filter), a-variants (block sizes, split segments), b, lifecycle (needs b). */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'baseline,a,jack,a-verify,a-cached-filter,a-variants,b,lifecycle').split(',').map((part) => part.trim()))
/** Dropped when a kept database is measured again; bench_postings and bench_fill belong to the fill and stay. */
const BENCH_TABLES = ['bench_b_sealed', 'bench_b_ranges', 'bench_b_postings', 'bench_b_top', 'bench_b_terms', 'bench_a_deleted', 'bench_a_terms', 'bench_a_segments', ORDINALS_TABLE]
/** What the fill writes, vacuumed and analysed once it is done (PostgreSQL's autovacuum, or jack's worker on PGlite, would by then). */
const FILL_TABLES = [BENCH_POSTINGS, 'chunks', 'documents', 'org_chunk_stats', ...JACK_INDEX_TABLES]
const BASELINE_DESIGN = 'baseline: exhaustive SQL (jack before issue #11)'
const JACK_DESIGN = 'jack now: searchChunks (segments + block-max WAND)'

// ---------------------------------------------------------------------------------------------
// Scenarios: as bench/query.ts, matched in JS too so the oracle knows which chunks each allows

interface Scenario {
  label: string
  filter: Filter
  matches: (metadata: Metadata) => boolean
}

const SCENARIOS: Scenario[] = [
  { label: 'no filter', filter: EMPTY_FILTER, matches: () => true },
  { label: `year = "${FIRST_YEAR + 5}" (10 %)`, filter: parseFilter({ year: String(FIRST_YEAR + 5) }), matches: (m) => m.year === String(FIRST_YEAR + 5) },
  {
    label: '$or [year $in 2 years; copy 0 and year ≥ …]',
    filter: parseFilter({ $or: [{ year: { $in: [String(FIRST_YEAR + 1), String(FIRST_YEAR + 2)] } }, { copy: '0', year: { $gte: String(FIRST_YEAR + 8) } }] }),
    matches: (m) => m.year === String(FIRST_YEAR + 1) || m.year === String(FIRST_YEAR + 2) || (m.copy === '0' && (m.year ?? '') >= String(FIRST_YEAR + 8))
  }
]

function allowedOrdinals (index: MemoryIndex, scenario: Scenario): Uint8Array | undefined {
  if (scenario.filter.all.length === 0 && scenario.filter.anyOf.length === 0) return undefined
  const allowed = new Uint8Array(index.ordinalCount)
  for (const entry of index.documents) if (scenario.matches(entry.metadata)) allowed.fill(1, entry.firstOrdinal, entry.firstOrdinal + entry.chunkCount)
  return allowed
}

// ---------------------------------------------------------------------------------------------
// Series: one design, one scenario, 300 queries after a warm-up

interface Answer {
  hits: Hit[]
  /** Work of this query in the design's own unit (postings, blocks…), by name. */
  work: Record<string, number>
}

interface Series {
  design: string
  scenario: string
  latencies: number[]
  work: Map<string, number[]>
  agreed: number
  queries: number
  /** Hits that were deleted chunks (must be 0). */
  deletedReturned: number
  note: string
}

interface OracleRun {
  hits: Hit[][]
  postings: number[]
  latencies: number[]
}

interface Context {
  bench: BenchDatabase
  orgId: OrgId
  queries: readonly TestQuery[]
  lexemes: string[][]
  index: MemoryIndex
  ranker: ExhaustiveRanker
}

function runOracle (context: Context, statistics: Statistics, eligibility: Eligibility): OracleRun {
  const run: OracleRun = { hits: [], postings: [], latencies: [] }
  for (const lexemes of context.lexemes) {
    const started = performance.now()
    const { hits, postings } = context.ranker.search(lexemes, statistics, TOP_K, eligibility)
    run.latencies.push(performance.now() - started)
    run.hits.push(hits)
    run.postings.push(postings)
  }
  return run
}

async function runSeries (context: Context, design: string, scenario: string, oracle: OracleRun, statistics: Statistics, eligibility: Eligibility, answer: (query: TestQuery, index: number) => Promise<Answer>, note = ''): Promise<Series> {
  const { queries } = context
  for (const [index, query] of queries.slice(0, WARM_UP).entries()) await answer(query, index)
  const series: Series = { design, scenario, latencies: [], work: new Map(), agreed: 0, queries: queries.length, deletedReturned: 0, note }
  for (const [index, query] of queries.entries()) {
    const started = performance.now()
    const result = await answer(query, index)
    series.latencies.push(performance.now() - started)
    for (const [name, value] of Object.entries(result.work)) {
      const values = series.work.get(name) ?? []
      values.push(value)
      series.work.set(name, values)
    }
    const lexemes = context.lexemes[index] ?? []
    if (agrees(oracle.hits[index] ?? [], result.hits, (ordinal) => context.ranker.score(lexemes, statistics, ordinal), eligibility)) series.agreed++
    if (eligibility.deleted !== undefined) series.deletedReturned += result.hits.filter((hit) => eligibility.deleted?.[hit.ordinal] === 1).length
  }
  progress(`${design}, ${scenario}: p50 ${formatMs(percentile(series.latencies, 50))} / p95 ${formatMs(percentile(series.latencies, 95))} ms, agreement ${series.agreed}/${series.queries}`)
  return series
}

function ordinalOf (byId: Map<string, DocumentEntry>, documentId: string, chunkIndex: number): number {
  const entry = byId.get(documentId)
  if (entry === undefined) throw new Error(`a hit names an unknown document ${documentId}`)
  return entry.firstOrdinal + chunkIndex
}

/** The old exhaustive SQL over bench_postings (bench/lib/bench-postings.ts). */
function baselineAnswer (context: Context, filter: Filter, oracle: OracleRun): (query: TestQuery, index: number) => Promise<Answer> {
  const byId = new Map(context.index.documents.map((entry) => [entry.id, entry]))
  return async (query, index) => {
    const hits = await searchExhaustiveSql(context.bench.database.db, context.orgId, { query: query.text, filter, topK: TOP_K })
    return {
      hits: hits.map((hit) => ({ ordinal: ordinalOf(byId, hit.documentId, hit.chunkIndex), score: hit.score })),
      // Exhaustive: every posting of every query term, read twice (df counted, then scored).
      work: { postings: oracle.postings[index] ?? 0 }
    }
  }
}

/**
 * jack's searchChunks over its own segments, as the server calls it: its
 * process-wide cache of posting lists and segment documents (one per database
 * handle, JACK_INDEX_CACHE_MB's default) lives on from query to query and
 * series to series. Its hits are mapped to the oracle's ordinals by (document, chunk).
 */
function jackAnswer (context: Context, filter: Filter): (query: TestQuery) => Promise<Answer> {
  const byId = new Map(context.index.documents.map((entry) => [entry.id, entry]))
  return async (query) => {
    const hits = await searchChunks(context.bench.database.db, context.orgId, { query: query.text, filter, topK: TOP_K })
    return { hits: hits.map((hit) => ({ ordinal: ordinalOf(byId, hit.documentId, hit.chunkIndex), score: hit.score })), work: {} }
  }
}

function withNote (series: Series, note: string): Series {
  series.note = note
  return series
}

/** The state of jack's cache after a series, as its note. */
function jackCacheNote (context: Context): string {
  const cache = indexCacheFor(context.bench.database.db)
  return `jack's cache (limit ${formatInt(cache.limitBytes / 2 ** 20)} MiB) now ${(cache.bytes / 2 ** 20).toFixed(1)} MiB, ${formatInt(cache.hits)} hits / ${formatInt(cache.misses)} misses so far`
}

function segmentAnswer (searcher: SegmentSearcher, filter: Filter): (query: TestQuery) => Promise<Answer> {
  return async (query) => {
    const outcome = await searcher.search(query.text, TOP_K, filter)
    return {
      hits: outcome.hits.map((hit) => ({ ordinal: hit.ordinal, score: hit.score })),
      work: {
        blocks: outcome.counters.blocksDecoded,
        postings: outcome.counters.postingsDecoded,
        scored: outcome.counters.chunksScored,
        ...(searcher.filterStrategy === 'verify' ? { 'verify rounds': outcome.verifyRounds, checked: outcome.verified } : {}),
        'KB fetched': outcome.bytesFetched / 1024,
        'state ms': outcome.stateMs,
        'fetch ms': outcome.fetchMs,
        'filter ms': outcome.filterMs,
        'rank ms': outcome.rankMs,
        'chunks ms': outcome.chunksMs
      }
    }
  }
}

function prefixAnswer (context: Context, filter: Filter): (query: TestQuery) => Promise<Answer> {
  return async (query) => {
    const outcome = await searchPrefixes(context.bench.database.db, context.orgId, query.text, TOP_K, filter, PREFIX_SIZES)
    return {
      hits: outcome.hits.map((hit) => ({ ordinal: hit.ordinal, score: hit.score })),
      work: {
        'prefix rows': outcome.prefixRows,
        candidates: outcome.candidates,
        probes: outcome.probes,
        'fallback postings': outcome.fallbackPostings,
        'answered at': outcome.attempts[outcome.attempts.length - 1] ?? 0,
        'rank ms': outcome.rankMs,
        'chunks ms': outcome.chunksMs
      }
    }
  }
}

/** Which prefix size answered each query (0 = the exhaustive fallback), as a note; the work column then leaves it out. */
function prefixNote (series: Series): Series {
  const answered = series.work.get('answered at') ?? []
  series.work.delete('answered at')
  const counts = new Map<number, number>()
  for (const size of answered) counts.set(size, (counts.get(size) ?? 0) + 1)
  series.note = `answered by ${[...counts].sort((a, b) => (a[0] === 0 ? Infinity : a[0]) - (b[0] === 0 ? Infinity : b[0])).map(([size, count]) => `${size === 0 ? 'exhaustive fallback' : `prefix ${size}`}: ${count}`).join(', ')}`
  return series
}

// ---------------------------------------------------------------------------------------------

interface BuildLine {
  design: string
  seconds: string
  bytes: number
  note: string
}

interface LifecycleLine {
  step: string
  design: string
  seconds: number
  note: string
}

interface BackendResult {
  backend: Backend
  chunks: number
  documents: number
  postings: number
  vocabulary: number
  builds: BuildLine[]
  series: Series[]
  lifecycle: LifecycleLine[]
  oracleLatencies: number[]
}

async function runBackend (backend: Backend, planned: readonly PlannedDocument[], queries: readonly TestQuery[]): Promise<BackendResult | undefined> {
  const run = async (storage: Storage): Promise<BackendResult | undefined> => {
    const bench = await openBench(backend, storage, WORKERS + 2)
    try {
      const filled = await fillOrReuse(backend, bench, planned)
      if (FILL_ONLY) {
        progress(`${backend}: filled and kept: BENCH_DATABASE=${storage.databaseName ?? '(PGlite directory) ' + (storage.env.JACK_DATA_DIR ?? '')}`)
        return undefined
      }
      return await measure(backend, bench, planned, queries, filled)
    } finally {
      await bench.owner.close()
      await bench.database.close()
    }
  }
  if (backend === 'postgres' && REUSE_DATABASE !== undefined) {
    const url = new URL(MAINTENANCE_URL)
    url.pathname = `/${REUSE_DATABASE}`
    return await run({ env: { DATABASE_URL: url.toString() }, databaseName: REUSE_DATABASE, dispose: async () => {} })
  }
  if (FILL_ONLY && backend === 'postgres') return await run(await keptDatabase())
  return await withStorage(backend, run)
}

/** A new PostgreSQL database that outlives this run (named like bench/lib/server.ts's createStorage names its own); drop it by hand when done. */
async function keptDatabase (): Promise<Storage> {
  const name = `jack_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(MAINTENANCE_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const url = new URL(MAINTENANCE_URL)
  url.pathname = `/${name}`
  return { env: { DATABASE_URL: url.toString() }, databaseName: name, dispose: async () => {} }
}

interface Filled {
  orgId: OrgId
  chunks: number
  /** Ingest through finishJob: chunks, statistics, a segment per document. */
  seconds: number
  workers: number
  /** jack's merges after the ingest (the worker's IndexMerger would run them in the background meanwhile). */
  mergeSeconds: number
  merges: number
  /** bench_postings filled from the chunks, primary key included. */
  postingsSeconds: number
}

interface FillRow {
  seconds: number
  workers: number
  merge_seconds?: number | null
  merges?: number | null
  postings_seconds?: number | null
}

/** bench_postings from the stored chunks (the old triggers wrote these rows during the ingest). */
async function fillBenchPostings (backend: Backend, bench: BenchDatabase, orgId: OrgId): Promise<number> {
  progress(`${backend}: filling ${BENCH_POSTINGS} (the old postings layout) from the chunks`)
  const built = await buildBenchPostings(bench.owner, orgId)
  progress(`${backend}: ${formatInt(built.rows)} ${BENCH_POSTINGS} rows in ${built.seconds.toFixed(1)} s`)
  return built.seconds
}

/** A fresh organisation filled through jack's write path, or (BENCH_DATABASE) the one an earlier run filled, with that run's leftovers removed. */
async function fillOrReuse (backend: Backend, bench: BenchDatabase, planned: readonly PlannedDocument[]): Promise<Filled> {
  const { db } = bench.database
  const [existing] = rowsOf<{ id: string }>(await bench.owner.execute(sql`select id from orgs where name = 'index-designs'`))
  if (existing !== undefined) {
    const orgId = asOrgId(existing.id)
    for (const table of BENCH_TABLES) await bench.owner.execute(sql.raw(`drop table if exists ${table}`))
    const hasPostings = await benchPostingsExist(bench.owner)
    const leftovers = rowsOf<{ id: string }>(await bench.owner.execute(sql`select id from documents where org_id = ${orgId} and metadata ->> 'copy' like 'fresh-%'`))
    for (const leftover of leftovers) {
      if (hasPostings) await deleteDocumentPostings(db, orgId, leftover.id)
      await deleteDocument(db, orgId, leftover.id)
    }
    const merged = await settleMerges(db, orgId)
    const postingsSeconds = hasPostings ? Number.NaN : await fillBenchPostings(backend, bench, orgId)
    const [info] = rowsOf<FillRow>(await bench.owner.execute(sql`select * from bench_fill`))
    const statistics = await corpusStatistics(db, orgId)
    progress(`${backend}: reusing the filled organisation (${formatInt(statistics.chunkCount)} chunks; ${leftovers.length} fresh documents of an earlier run deleted, ${merged.merges} merges)`)
    await vacuumAnalyze(bench.owner, FILL_TABLES)
    return {
      orgId,
      chunks: statistics.chunkCount,
      seconds: Number(info?.seconds ?? Number.NaN),
      workers: Number(info?.workers ?? 0),
      mergeSeconds: Number(info?.merge_seconds ?? Number.NaN),
      merges: Number(info?.merges ?? Number.NaN),
      postingsSeconds: hasPostings ? Number(info?.postings_seconds ?? Number.NaN) : postingsSeconds
    }
  }
  const orgId = await createBenchOrg(db)
  const workers = backend === 'pglite' ? 1 : WORKERS
  progress(`${backend}: ingesting ${formatInt(planned.length)} documents (${formatInt(planned.reduce((sum, document) => sum + document.chunks.length, 0))} chunks) through insertDocuments + claimNextJob/finishJob, ${workers} worker(s)`)
  const fill = await ingestDocuments(db, orgId, planned, workers, backend)
  progress(`${backend}: ${formatInt(fill.chunks)} chunks in ${fill.seconds.toFixed(0)} s (${formatInt(fill.chunks / fill.seconds)} chunks/s); merging jack's segments`)
  const merged = await settleMerges(db, orgId)
  progress(`${backend}: ${formatInt(merged.merges)} merges in ${merged.seconds.toFixed(1)} s: ${describeIndex(await summariseIndex(db, orgId))}`)
  const postingsSeconds = await fillBenchPostings(backend, bench, orgId)
  await bench.owner.execute(sql.raw('create table bench_fill (seconds float8 not null, workers integer not null, merge_seconds float8, merges integer, postings_seconds float8)'))
  await bench.owner.execute(sql`insert into bench_fill values (${fill.seconds}, ${workers}, ${merged.seconds}, ${merged.merges}, ${postingsSeconds})`)
  progress(`${backend}: VACUUM ANALYZE`)
  await vacuumAnalyze(bench.owner, FILL_TABLES)
  return { orgId, chunks: fill.chunks, seconds: fill.seconds, workers, mergeSeconds: merged.seconds, merges: merged.merges, postingsSeconds }
}

async function measure (backend: Backend, bench: BenchDatabase, planned: readonly PlannedDocument[], queries: readonly TestQuery[], fill: Filled): Promise<BackendResult> {
  const { db } = bench.database
  const { orgId, workers } = fill
  const builds: BuildLine[] = []
  const [postingCount] = rowsOf<{ rows: string | number }>(await bench.owner.execute(sql`select count(*) as rows from bench_postings where org_id = ${orgId}`))
  const fillPostings = Number(postingCount?.rows ?? 0)
  builds.push({
    design: 'baseline: postings rows (jack before issue #11), as bench_postings',
    seconds: `${fill.postingsSeconds.toFixed(1)} s (SQL from the stored chunks; the old triggers wrote them during the ingest)`,
    bytes: await relationBytes(bench.owner, [BENCH_POSTINGS, 'org_chunk_stats']),
    note: 'one row per (lexeme, chunk), primary key INCLUDE (tf, chunk_length) + org_chunk_stats'
  })
  builds.push({
    design: 'jack now: index_segments + index_terms (compressed posting lists, one segment per document, merged)',
    seconds: `${fill.seconds.toFixed(0)} s ingest (finishJob: chunks, statistics, the document's segment; ${workers} writer(s)) + ${fill.mergeSeconds.toFixed(1)} s for ${formatInt(fill.merges)} merges after it`,
    bytes: await relationBytes(bench.owner, [...JACK_INDEX_TABLES, 'org_chunk_stats']),
    note: `${describeIndex(await summariseIndex(db, orgId), fillPostings)}; + org_chunk_stats; stored size as of after the merges, with the space of the rows they replaced (VACUUM frees it for reuse, does not return it)`
  })

  let started = performance.now()
  await createOrdinalsTable(bench.owner)
  const entries = await assignOrdinals(db, orgId, 0)
  await vacuumAnalyze(bench.owner, [ORDINALS_TABLE])
  builds.push({ design: 'shared by A and B: ordinal map', seconds: `${((performance.now() - started) / 1000).toFixed(1)} s`, bytes: await relationBytes(bench.owner, [ORDINALS_TABLE]), note: `${formatInt(entries.length)} rows (document → first ordinal, chunk count)` })
  started = performance.now()
  let index = await readPostings(bench, orgId, entries, undefined)
  const readSeconds = (performance.now() - started) / 1000
  let corpus = await corpusStatistics(db, orgId)
  const lengthSum = index.lengths.reduce((sum, length) => sum + length, 0)
  if (lengthSum !== corpus.totalLength || index.ordinalCount !== corpus.chunkCount) throw new Error(`in-memory copy (from ${BENCH_POSTINGS}) disagrees with org_chunk_stats: ${index.ordinalCount} chunks / ${lengthSum} length vs ${corpus.chunkCount} / ${corpus.totalLength} (a kept database: drop ${BENCH_POSTINGS} to have it rebuilt)`)
  progress(`${backend}: ${formatInt(index.postings)} postings, ${formatInt(index.terms.size)} lexemes read into memory in ${readSeconds.toFixed(1)} s`)
  const lexemes = await queryLexemes(db, orgId, queries.map((query) => query.text))
  const ranker = new ExhaustiveRanker(index)
  const context: Context = { bench, orgId, queries, lexemes, index, ranker }
  const series: Series[] = []
  let statistics = indexStatistics(index, corpus.chunkCount, corpus.totalLength)

  // Oracle per scenario
  const oracles: OracleRun[] = []
  const eligibilities: Eligibility[] = []
  for (const scenario of SCENARIOS) {
    const eligibility: Eligibility = { allowed: allowedOrdinals(index, scenario), deleted: undefined }
    eligibilities.push(eligibility)
    oracles.push(runOracle(context, statistics, eligibility))
  }
  const oracleLatencies = (oracles[0] as OracleRun).latencies

  // Baseline
  for (const [position, scenario] of SCENARIOS.entries()) {
    if (!PARTS.has('baseline') || BASELINE === 'none' || (BASELINE === 'unfiltered' && position > 0)) continue
    const oracle = oracles[position] as OracleRun
    series.push(await runSeries(context, BASELINE_DESIGN, scenario.label, oracle, statistics, eligibilities[position] as Eligibility, baselineAnswer(context, scenario.filter, oracle)))
  }

  // Design A
  await createSegmentTables(bench.owner)
  const whole: SegmentSpec = { id: 1, firstOrdinal: 0, ordinalCount: index.ordinalCount }
  const built = await buildSegment(db, orgId, index, whole, BLOCK_SIZE, true)
  await vacuumAnalyze(bench.owner, SEGMENT_TABLES)
  builds.push({
    design: `A: posting blocks (${BLOCK_SIZE}/block, varint), 1 segment`,
    seconds: `${built.encodeSeconds.toFixed(1)} s encode + ${built.writeSeconds.toFixed(1)} s write (+ ${readSeconds.toFixed(0)} s reading the postings, shared with the oracle)`,
    bytes: await relationBytes(bench.owner, SEGMENT_TABLES),
    note: `${formatInt(built.rows)} rows, payload ${formatInt(built.bytes / 2 ** 20)} MiB = ${(built.bytes / built.postings).toFixed(2)} bytes/posting`
  })
  for (const mode of (PARTS.has('a') ? ['cold', 'encoded', 'decoded'] : []) as CacheMode[]) {
    const searcher = new SegmentSearcher(db, orgId, mode, CACHE_LIMIT_BYTES)
    for (const [position, scenario] of SCENARIOS.entries()) {
      series.push(await runSeries(context, `A: blocks + BMW, ${mode === 'cold' ? 'cold (rows fetched every query)' : `cached ${mode}`}`, scenario.label, oracles[position] as OracleRun, statistics, eligibilities[position] as Eligibility, segmentAnswer(searcher, scenario.filter)))
    }
    if (mode !== 'cold') {
      const last = series[series.length - 1] as Series
      last.note = `cache after all scenarios: ${formatInt(searcher.cachedBytes / 2 ** 20)} MiB, ${formatInt(searcher.cacheHits)} hits / ${formatInt(searcher.cacheMisses)} misses`
    }
  }
  // The shipped engine, on the same oracle
  for (const [position, scenario] of (PARTS.has('jack') ? SCENARIOS : []).entries()) {
    series.push(withNote(await runSeries(context, JACK_DESIGN, scenario.label, oracles[position] as OracleRun, statistics, eligibilities[position] as Eligibility, jackAnswer(context, scenario.filter)), jackCacheNote(context)))
  }
  // The filtered scenarios again, checking the filter on the hits instead of reading every document
  for (const mode of (PARTS.has('a-verify') ? ['cold', 'decoded'] : []) as CacheMode[]) {
    const searcher = new SegmentSearcher(db, orgId, mode, CACHE_LIMIT_BYTES, 'verify')
    for (const [position, scenario] of SCENARIOS.entries()) {
      if (position === 0) continue
      series.push(await runSeries(context, `A: ${mode === 'cold' ? 'cold' : 'cached decoded'}, filter checked on the hits`, scenario.label, oracles[position] as OracleRun, statistics, eligibilities[position] as Eligibility, segmentAnswer(searcher, scenario.filter)))
    }
  }
  // And with the allow-list cached per filter (the first query of each filter pays for it)
  if (PARTS.has('a-cached-filter')) {
    const searcher = new SegmentSearcher(db, orgId, 'decoded', CACHE_LIMIT_BYTES, 'cached-allow-list')
    for (const [position, scenario] of SCENARIOS.entries()) {
      if (position === 0) continue
      series.push(await runSeries(context, 'A: cached decoded, allow-list cached per filter', scenario.label, oracles[position] as OracleRun, statistics, eligibilities[position] as Eligibility, segmentAnswer(searcher, scenario.filter)))
    }
  }
  // Block sizes and a split layout, unfiltered only
  let nextSegmentId = 10
  for (const blockSize of PARTS.has('a-variants') ? BLOCK_SWEEP : []) {
    const spec: SegmentSpec = { id: nextSegmentId++, firstOrdinal: 0, ordinalCount: index.ordinalCount }
    const sweepBuild = await buildSegment(db, orgId, index, spec, blockSize, false)
    await activateSegments(db, orgId, [spec.id])
    for (const mode of ['cold', 'encoded'] as CacheMode[]) {
      const searcher = new SegmentSearcher(db, orgId, mode, CACHE_LIMIT_BYTES)
      series.push(await runSeries(context, `A: ${blockSize}/block, ${mode === 'cold' ? 'cold' : 'cached encoded'}`, (SCENARIOS[0] as Scenario).label, oracles[0] as OracleRun, statistics, eligibilities[0] as Eligibility, segmentAnswer(searcher, EMPTY_FILTER),
        `payload ${formatInt(sweepBuild.bytes / 2 ** 20)} MiB (${(sweepBuild.bytes / sweepBuild.postings).toFixed(2)} B/posting), encode ${sweepBuild.encodeSeconds.toFixed(1)} s`))
    }
  }
  const split: SegmentSpec[] = []
  const per = Math.ceil(index.ordinalCount / SEGMENT_SPLIT)
  for (let first = 0; PARTS.has('a-variants') && first < index.ordinalCount; first += per) split.push({ id: nextSegmentId++, firstOrdinal: first, ordinalCount: Math.min(per, index.ordinalCount - first) })
  for (const spec of split) await buildSegment(db, orgId, index, spec, BLOCK_SIZE, false)
  await activateSegments(db, orgId, split.map((spec) => spec.id))
  for (const mode of (split.length > 0 ? ['cold', 'encoded'] : []) as CacheMode[]) {
    const searcher = new SegmentSearcher(db, orgId, mode, CACHE_LIMIT_BYTES)
    series.push(await runSeries(context, `A: ${SEGMENT_SPLIT} segments, ${mode === 'cold' ? 'cold' : 'cached encoded'}`, (SCENARIOS[0] as Scenario).label, oracles[0] as OracleRun, statistics, eligibilities[0] as Eligibility, segmentAnswer(searcher, EMPTY_FILTER),
      `payload ${formatInt(await segmentPayloadBytes(db, orgId, split.map((spec) => spec.id)) / 2 ** 20)} MiB`))
  }
  await activateSegments(db, orgId, [whole.id])
  await inOrg(db, orgId, async (tx) => {
    await tx.execute(sql`delete from bench_a_terms where org_id = ${orgId} and segment_id <> ${whole.id}`)
    await tx.execute(sql`delete from bench_a_segments where org_id = ${orgId} and segment_id <> ${whole.id}`)
  })
  await vacuumAnalyze(bench.owner, SEGMENT_TABLES)

  // Design B
  const lifecycle: LifecycleLine[] = []
  if (!PARTS.has('b')) return { backend, chunks: fill.chunks, documents: entries.length, postings: built.postings, vocabulary: built.rows, builds, series, lifecycle, oracleLatencies }
  progress(`${backend}: building design B (impact-ordered postings, prefixes ${PREFIX_SIZES.join(', ')})`)
  const prefixes = await buildPrefixIndex(bench.owner, orgId, index.ordinalCount, corpus.totalLength / corpus.chunkCount)
  builds.push({ design: 'B: postings by (lexeme, ordinal) + by (lexeme, impact), stored df', seconds: `${prefixes.seconds.toFixed(0)} s (SQL, from bench_postings)`, bytes: await relationBytes(bench.owner, PREFIX_TABLES), note: 'two indexes over one row per posting' })
  for (const [position, scenario] of SCENARIOS.entries()) {
    series.push(prefixNote(await runSeries(context, `B: impact prefixes in SQL (${PREFIX_SIZES.join(' → ')} → exhaustive)`, scenario.label, oracles[position] as OracleRun, statistics, eligibilities[position] as Eligibility, prefixAnswer(context, scenario.filter))))
  }

  // Fresh ingests, merges, deletes
  if (!PARTS.has('lifecycle')) return { backend, chunks: fill.chunks, documents: entries.length, postings: built.postings, vocabulary: built.rows, builds, series, lifecycle, oracleLatencies }
  const encodedSearcher = new SegmentSearcher(db, orgId, 'encoded', CACHE_LIMIT_BYTES)
  const smallSegments: SegmentSpec[] = []
  let nextOrdinal = index.ordinalCount
  let jackSeconds = 0
  let jackMergeSeconds = 0
  let jackMerges = 0
  let baselineAddSeconds = 0
  let sealSeconds = 0
  let prefixAddSeconds = 0
  let freshChunks = 0
  for (let batch = 0; batch < FRESH_BATCHES; batch++) {
    const fresh = planned.slice(batch * FRESH_DOCUMENTS, (batch + 1) * FRESH_DOCUMENTS).map((document) => ({ ...document, metadata: { ...document.metadata, copy: `fresh-${batch}` } }))
    const ingested = await ingestDocuments(db, orgId, fresh, 1, `${backend} fresh`)
    jackSeconds += ingested.seconds
    freshChunks += ingested.chunks
    // What the worker's IndexMerger does after these documents, here in the foreground.
    const jackMerged = await settleMerges(db, orgId)
    jackMergeSeconds += jackMerged.seconds
    jackMerges += jackMerged.merges
    started = performance.now()
    for (const documentId of ingested.documentIds) await addDocumentPostings(db, orgId, documentId)
    baselineAddSeconds += (performance.now() - started) / 1000
    started = performance.now()
    const freshEntries = await assignOrdinals(db, orgId, nextOrdinal)
    const ordinalCount = freshEntries.reduce((sum, entry) => sum + entry.chunkCount, 0)
    const ordinalSeconds = (performance.now() - started) / 1000
    started = performance.now()
    index = await readBatchPostings(db, orgId, freshEntries, index)
    const spec: SegmentSpec = { id: 1000 + batch, firstOrdinal: nextOrdinal, ordinalCount }
    await buildSegment(db, orgId, index, spec, BLOCK_SIZE, true)
    sealSeconds += (performance.now() - started) / 1000 + ordinalSeconds
    smallSegments.push(spec)
    started = performance.now()
    await addPostings(db, orgId, nextOrdinal)
    prefixAddSeconds += (performance.now() - started) / 1000 + ordinalSeconds
    nextOrdinal += ordinalCount
  }
  context.index = index
  context.ranker = new ExhaustiveRanker(index)
  corpus = await corpusStatistics(db, orgId)
  statistics = indexStatistics(index, corpus.chunkCount, corpus.totalLength)
  const perBatch = (seconds: number): string => `${formatMs(seconds / FRESH_BATCHES * 1000)} ms per batch of ${FRESH_DOCUMENTS} documents (~${formatInt(freshChunks / FRESH_BATCHES)} chunks)`
  lifecycle.push({ step: `ingest ${FRESH_BATCHES} × ${FRESH_DOCUMENTS} documents (jack's finishJob: chunks, statistics trigger, a segment per document)`, design: 'all', seconds: jackSeconds, note: `${perBatch(jackSeconds)}; ${formatInt(freshChunks / jackSeconds)} chunks/s` })
  lifecycle.push({ step: 'merge jack\'s segments after each batch (mergeNext until the policy is met, as the worker\'s IndexMerger)', design: 'jack now', seconds: jackMergeSeconds, note: `${formatInt(jackMerges)} merges; ${perBatch(jackMergeSeconds)}; then ${describeIndex(await summariseIndex(db, orgId))}` })
  lifecycle.push({ step: 'write each batch\'s bench_postings rows (the old insert trigger\'s statement, one transaction per document after finishJob)', design: 'baseline', seconds: baselineAddSeconds, note: perBatch(baselineAddSeconds) })
  lifecycle.push({ step: 'seal each batch as a new segment (ordinals, read its postings, encode, write)', design: 'A', seconds: sealSeconds, note: perBatch(sealSeconds) })
  lifecycle.push({ step: 'write each batch\'s postings by ordinal and impact (unsealed: counted into df at query time)', design: 'B', seconds: prefixAddSeconds, note: perBatch(prefixAddSeconds) })
  const everything: Eligibility = { allowed: undefined, deleted: undefined }
  const freshOracle = runOracle(context, statistics, everything)
  const unfiltered = (SCENARIOS[0] as Scenario).label
  series.push(await runSeries(context, `A: cached encoded, 1 + ${FRESH_BATCHES} fresh segments`, unfiltered, freshOracle, statistics, everything, segmentAnswer(encodedSearcher, EMPTY_FILTER)))
  series.push(await runSeries(context, `A: cold, 1 + ${FRESH_BATCHES} fresh segments`, unfiltered, freshOracle, statistics, everything, segmentAnswer(new SegmentSearcher(db, orgId, 'cold', 0), EMPTY_FILTER)))
  series.push(prefixNote(await runSeries(context, 'B: with the unsealed fresh postings', unfiltered, freshOracle, statistics, everything, prefixAnswer(context, EMPTY_FILTER))))
  if (BASELINE === 'all') series.push(await runSeries(context, 'baseline: after the fresh batches', unfiltered, freshOracle, statistics, everything, baselineAnswer(context, EMPTY_FILTER, freshOracle)))
  if (PARTS.has('jack')) series.push(withNote(await runSeries(context, 'jack now: after the fresh batches (and their merges)', unfiltered, freshOracle, statistics, everything, jackAnswer(context, EMPTY_FILTER)), jackCacheNote(context)))

  const merged = await mergeSegments(db, orgId, smallSegments, 2000, BLOCK_SIZE)
  lifecycle.push({ step: `merge the ${FRESH_BATCHES} fresh segments into one`, design: 'A', seconds: merged.seconds, note: `${formatInt(merged.postings)} postings, ${formatInt(merged.rows)} rows, encode ${formatMs(merged.encodeSeconds * 1000)} ms, write ${formatMs(merged.writeSeconds * 1000)} ms` })
  series.push(await runSeries(context, 'A: cached encoded, after merging the fresh segments', unfiltered, freshOracle, statistics, everything, segmentAnswer(encodedSearcher, EMPTY_FILTER)))
  started = performance.now()
  const sealedLexemes = await sealPostings(db, orgId, nextOrdinal)
  lifecycle.push({ step: 'seal: fold the fresh postings\' counts into the stored df', design: 'B', seconds: (performance.now() - started) / 1000, note: `${formatInt(sealedLexemes)} lexemes upserted` })

  // Deletes: the best chunk's document of the first queries, so a stale index would show them
  const victims: DocumentEntry[] = []
  const seen = new Set<number>()
  for (const hits of freshOracle.hits) {
    const first = hits[0]
    if (first === undefined) continue
    const documentIndex = index.documentOf[first.ordinal] as number
    if (seen.has(documentIndex)) continue
    seen.add(documentIndex)
    victims.push(index.documents[documentIndex] as DocumentEntry)
    if (victims.length >= DELETED_DOCUMENTS) break
  }
  const dfBefore = new Map([...index.terms].map(([lexeme, term]) => [lexeme, term.ordinals.length]))
  const deleted = new Uint8Array(index.ordinalCount)
  let jackDeleteSeconds = 0
  let baselineDeleteSeconds = 0
  let markSeconds = 0
  let prefixDeleteSeconds = 0
  for (const victim of victims) {
    const chunkTerms = await chunkLexemes(db, orgId, victim.id, victim.firstOrdinal)
    // The old layout's rows first: they are found through the chunks' lexemes, which deleteDocument removes.
    started = performance.now()
    await deleteDocumentPostings(db, orgId, victim.id)
    baselineDeleteSeconds += (performance.now() - started) / 1000
    started = performance.now()
    if (!await deleteDocument(db, orgId, victim.id)) throw new Error(`document ${victim.id} was not deleted`)
    jackDeleteSeconds += (performance.now() - started) / 1000
    const ordinals = Array.from({ length: victim.chunkCount }, (_, offset) => victim.firstOrdinal + offset)
    for (const ordinal of ordinals) deleted[ordinal] = 1
    started = performance.now()
    await markDeleted(db, orgId, ordinals)
    markSeconds += (performance.now() - started) / 1000
    started = performance.now()
    await deletePostings(db, orgId, chunkTerms)
    prefixDeleteSeconds += (performance.now() - started) / 1000
  }
  const deletedChunks = deleted.reduce((sum, flag) => sum + flag, 0)
  const perDelete = (seconds: number): string => `${formatMs(seconds / victims.length * 1000)} ms per document`
  lifecycle.push({ step: `delete ${victims.length} documents (${deletedChunks} chunks) through deleteDocument (jack: out of the index — ordinals and lexeme counts recorded as deleted — chunks deleted, statistics trigger)`, design: 'all', seconds: jackDeleteSeconds, note: perDelete(jackDeleteSeconds) })
  lifecycle.push({ step: 'delete their bench_postings rows (the old delete trigger\'s statements: per chunk, probing the key with its lexemes)', design: 'baseline', seconds: baselineDeleteSeconds, note: perDelete(baselineDeleteSeconds) })
  lifecycle.push({ step: 'mark their ordinals deleted (bench_a_deleted)', design: 'A', seconds: markSeconds, note: perDelete(markSeconds) })
  lifecycle.push({ step: 'delete their postings by (lexeme, ordinal) and decrement the stored df', design: 'B', seconds: prefixDeleteSeconds, note: perDelete(prefixDeleteSeconds) })
  dropOrdinals(index, deleted)
  corpus = await corpusStatistics(db, orgId)
  const live = indexStatistics(index, corpus.chunkCount, corpus.totalLength)
  // Design A keeps each segment's df until the segment is rewritten (as Lucene does); N and avgdl are jack's, live.
  const segmentStatistics: Statistics = { chunkCount: corpus.chunkCount, averageLength: corpus.totalLength / corpus.chunkCount, df: (lexeme) => dfBefore.get(lexeme) ?? 0 }
  const afterDelete: Eligibility = { allowed: undefined, deleted }
  series.push(await runSeries(context, 'A: cached encoded, after the deletes (segment df)', unfiltered, runOracle(context, segmentStatistics, afterDelete), segmentStatistics, afterDelete, segmentAnswer(encodedSearcher, EMPTY_FILTER)))
  const liveOracle = runOracle(context, live, afterDelete)
  series.push(prefixNote(await runSeries(context, 'B: after the deletes (live df)', unfiltered, liveOracle, live, afterDelete, prefixAnswer(context, EMPTY_FILTER))))
  if (BASELINE === 'all') series.push(await runSeries(context, 'baseline: after the deletes', unfiltered, liveOracle, live, afterDelete, baselineAnswer(context, EMPTY_FILTER, liveOracle)))
  if (PARTS.has('jack')) {
    // jack's df is live at once: the deleted documents' lexeme counts are subtracted until a merge drops their postings.
    series.push(withNote(await runSeries(context, 'jack now: after the deletes (live df)', unfiltered, liveOracle, live, afterDelete, jackAnswer(context, EMPTY_FILTER)), jackCacheNote(context)))
    const jackMerged = await settleMerges(db, orgId)
    lifecycle.push({ step: 'merge jack\'s segments after the deletes (segments ≥ 20 % deleted rewritten without them)', design: 'jack now', seconds: jackMerged.seconds, note: `${formatInt(jackMerged.merges)} merges, ${formatInt(jackMerged.expunged)} deleted documents dropped; then ${describeIndex(await summariseIndex(db, orgId))}` })
    if (jackMerged.merges > 0) series.push(withNote(await runSeries(context, 'jack now: after those merges', unfiltered, liveOracle, live, afterDelete, jackAnswer(context, EMPTY_FILTER)), jackCacheNote(context)))
  }
  const [mergedSegment] = rowsOf<{ segment_id: number }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`select segment_id from bench_a_segments where org_id = ${orgId} and live order by first_ordinal`)))
  const liveSegments = rowsOf<{ segment_id: number, first_ordinal: number, ordinal_count: number }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    select segment_id, first_ordinal, ordinal_count from bench_a_segments where org_id = ${orgId} and live order by first_ordinal`)))
  if (mergedSegment === undefined) throw new Error('no live segment')
  const full = await mergeSegments(db, orgId, liveSegments.map((row) => ({ id: Number(row.segment_id), firstOrdinal: Number(row.first_ordinal), ordinalCount: Number(row.ordinal_count) })), 3000, BLOCK_SIZE)
  lifecycle.push({ step: 'merge everything into one segment (drops the deleted postings: df live again)', design: 'A', seconds: full.seconds, note: `${formatInt(full.postings)} postings, encode ${full.encodeSeconds.toFixed(1)} s, write ${full.writeSeconds.toFixed(1)} s` })
  series.push(await runSeries(context, 'A: cached encoded, after the full merge (live df)', unfiltered, liveOracle, live, afterDelete, segmentAnswer(encodedSearcher, EMPTY_FILTER)))

  return {
    backend,
    chunks: fill.chunks,
    documents: entries.length,
    postings: built.postings,
    vocabulary: built.rows,
    builds,
    series,
    lifecycle,
    oracleLatencies
  }
}

// ---------------------------------------------------------------------------------------------

function workCell (series: Series): string {
  return [...series.work].filter(([name]) => !name.endsWith('ms')).map(([name, values]) => `${name} ${formatInt(percentile(values, 50))} / ${formatInt(percentile(values, 95))}`).join('; ')
}

/** Median time of each step, for designs that report them. */
function splitCell (series: Series): string {
  return [...series.work].filter(([name]) => name.endsWith(' ms')).map(([name, values]) => `${name.slice(0, -3)} ${formatMs(percentile(values, 50))}`).join(', ')
}

function report (results: readonly BackendResult[], queries: number): void {
  const lines: string[] = []
  lines.push(`Index designs for exact BM25: SciFact repeated to ~${formatInt(TARGET_CHUNKS)} chunks in one organisation (chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}), ${queries} SciFact test queries, top ${TOP_K}; latency = one call from this process (no HTTP), sequential, after ${WARM_UP} warm-up queries, under row-level security (jack_app in an organisation transaction).`)
  lines.push('Agreement = queries whose top k equals the exhaustive oracle\'s (in-memory BM25 with the same statistics) as a set of chunks, up to ties at the k-th score.')
  for (const result of results) {
    lines.push('')
    lines.push(`### ${result.backend}: ${formatInt(result.chunks)} chunks, ${formatInt(result.documents)} documents, ${formatInt(result.postings)} postings, ${formatInt(result.vocabulary)} lexemes`)
    lines.push('')
    lines.push(...table(['design', 'build', 'stored (pg_total_relation_size)', 'note'], result.builds.map((line) => [line.design, line.seconds, `${formatInt(line.bytes / 2 ** 20)} MiB`, line.note])))
    lines.push('')
    lines.push(...table(['design', 'scenario', 'p50 ms', 'p95 ms', 'max ms', 'work per query p50 / p95', 'steps, ms p50', 'agreement', 'note'], [
      ['oracle: exhaustive in-memory JS (no SQL)', 'no filter', formatMs(percentile(result.oracleLatencies, 50)), formatMs(percentile(result.oracleLatencies, 95)), formatMs(Math.max(...result.oracleLatencies)), '', '', '', ''],
      ...result.series.map((series) => [
        series.design, series.scenario, formatMs(percentile(series.latencies, 50)), formatMs(percentile(series.latencies, 95)), formatMs(Math.max(...series.latencies)),
        workCell(series), splitCell(series), `${series.agreed}/${series.queries}${series.deletedReturned > 0 ? ` — ${series.deletedReturned} DELETED HITS` : ''}`, series.note
      ])
    ]))
    lines.push('')
    lines.push(...table(['lifecycle step', 'design', 'seconds', 'note'], result.lifecycle.map((line) => [line.step, line.design, line.seconds.toFixed(2), line.note])))
  }
  lines.push('')
  lines.push(`Goal: p95 ≤ ${GOAL_P95_MS} ms (over HTTP, at 1,000,000 chunks on PostgreSQL); these figures are in-process and exclude HTTP and the answerer.`)
  lines.push(`Settings: BENCH_CHUNKS=${TARGET_CHUNKS} BENCH_BLOCK_SIZE=${BLOCK_SIZE} BENCH_PREFIXES=${PREFIX_SIZES.join(',')} BENCH_SEGMENTS=${SEGMENT_SPLIT} BENCH_WORKERS=${WORKERS} BENCH_CACHE_MB=${CACHE_LIMIT_BYTES / 2 ** 20} BENCH_BASELINE=${BASELINE}.`)
  lines.push(loadLine())
  process.stdout.write(`${lines.join('\n')}\n`)
}

async function main (): Promise<number> {
  const corpus = loadCorpus()
  const queries = loadTestQueries()
  const planned = planDocuments(corpus, TARGET_CHUNKS)
  progress(`${formatInt(planned.length)} documents planned, ${formatInt(planned.reduce((sum, document) => sum + document.chunks.length, 0))} chunks`)
  const results: BackendResult[] = []
  for (const backend of readBackends()) {
    const result = await runBackend(backend, planned, queries)
    if (result === undefined) continue
    results.push(result)
    report(results.slice(-1), queries.length)
  }
  if (results.length > 1) report(results, queries.length)
  let failed = false
  for (const result of results) for (const series of result.series) if (series.deletedReturned > 0 || series.agreed < series.queries) failed = true
  return failed ? 1 : 0
}

if (isEntryPoint(import.meta.url)) await runMain(main)
