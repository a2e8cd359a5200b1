// Benchmark: BM25 on BEIR SciFact through jack's searchChunks (per-organisation segments of compressed posting lists, block-max WAND: src/search-index/) — nDCG@10, Recall@100 and latency against the exhaustive SQL jack ran before issue #11 (over bench_postings, the benchmark's copy of the dropped postings table: bench/lib/bench-postings.ts) and a ts_rank baseline, all in one run over one database — and the ingest/delete cost of keeping jack's index (statistics and a segment per document, then merges), on PGlite and PostgreSQL.
//
// The ingest goes through jack's write path (insertDocuments, claimNextJob,
// finishJob); the segments are then merged in the foreground as the worker's
// IndexMerger would in the background. bench_postings is filled afterwards
// from the stored chunks with what the old triggers wrote. The cost of the
// index is finishJob against the same writes without the index (the
// benchmark's statements, statistics triggers off: chunks only).
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { and, eq, sql, type SQL } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { openDatabase, type Database } from '../src/db/client.js'
import { inOrg } from '../src/db/org-scope.js'
import { rowsOf } from '../src/db/rows.js'
import { chunks, documentPayloads, documents, ingestJobs } from '../src/db/schema.js'
import { SERVING_ROLE } from '../src/db/serving-role.js'
import { chunkText } from '../src/ingest/chunker.js'
import { deleteDocument, insertDocuments } from '../src/repositories/documents.repo.js'
import { claimNextJob, finishJob, type NewChunk } from '../src/repositories/ingest-jobs.repo.js'
import { createOrg } from '../src/repositories/orgs.repo.js'
import { searchChunks } from '../src/search-index/search-chunks.js'
import { EMPTY_FILTER } from '../src/retrieval/filters.js'
import type { OrgId } from '../src/org-id.js'
import { buildBenchPostings, searchExhaustiveSql } from './lib/bench-postings.js'
import { describeIndex, settleMerges, summariseIndex, type MergeRun } from './lib/jack-index.js'
import type { OwnerStatements } from './lib/tenant-table.js'

type Backend = 'pglite' | 'postgres'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DATA_DIR = process.env.BENCH_SCIFACT ?? path.resolve(ROOT, '..', 'shared', 'data', 'scifact')
const MAINTENANCE_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BACKENDS = readBackends()
/** Ingest the corpus this many times (as distinct documents) to measure a larger organisation; quality is scored per SciFact ID. */
const COPIES = readInteger('BENCH_COPIES', 1, 1, 100)
const CHUNK_SIZE = readInteger('BENCH_CHUNK_SIZE', 512, 128, 4096)
const CHUNK_OVERLAP = Math.min(64, CHUNK_SIZE - 1)
const TOP_K = 100
const WARM_UP_QUERIES = 50
/** Ingested with maintenance on and deleted again before timing, so neither timed phase pays for a cold JIT or cache. */
const WARM_UP_DOCUMENTS = 300
const INSERT_BATCH = 50
const WORKER_ID = 'bench'
/** Since drizzle/0009 they keep only org_chunk_stats. */
const SEARCH_TRIGGERS = ['chunks_search_index_insert', 'chunks_search_index_delete'] as const

function readInteger (name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
  return value
}

function readBackends (): Backend[] {
  const raw = process.env.BENCH_BACKENDS ?? 'pglite,postgres'
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) if (name !== 'pglite' && name !== 'postgres') throw new Error(`BENCH_BACKENDS: unknown backend "${name}" (use pglite, postgres)`)
  return [...new Set(names as Backend[])]
}

function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// SciFact

interface CorpusDocument {
  id: string
  text: string
  chunks: NewChunk[]
}

interface Query {
  id: string
  text: string
  /** SciFact IDs judged relevant (all with grade 1 in the test qrels). */
  relevant: Set<string>
}

function readJsonl<T> (file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as T)
}

function loadCorpus (): CorpusDocument[] {
  return readJsonl<{ _id: string, title: string, text: string }>(path.join(DATA_DIR, 'corpus.jsonl')).map((row) => {
    const text = `${row.title}\n\n${row.text}`
    return { id: row._id, text, chunks: chunkText(text, { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP }) }
  })
}

function loadQueries (): Query[] {
  const relevant = new Map<string, Set<string>>()
  const lines = fs.readFileSync(path.join(DATA_DIR, 'qrels-test.tsv'), 'utf8').split('\n').slice(1)
  for (const line of lines) {
    const [queryId, corpusId, score] = line.trim().split('\t')
    if (queryId === undefined || corpusId === undefined || score === undefined || Number(score) <= 0) continue
    relevant.set(queryId, (relevant.get(queryId) ?? new Set()).add(corpusId))
  }
  return readJsonl<{ _id: string, text: string }>(path.join(DATA_DIR, 'queries.jsonl'))
    .flatMap((row) => {
      const judged = relevant.get(row._id)
      return judged === undefined ? [] : [{ id: row._id, text: row.text, relevant: judged }]
    })
}

// ---------------------------------------------------------------------------------------------
// Storage: a fresh PGlite directory or PostgreSQL database, removed afterwards

/**
 * Statements only the tables' owner may run (ALTER TABLE … TRIGGER, CREATE
 * TABLE, ANALYZE and VACUUM of every table, bulk builds): openDatabase's
 * connections serve as jack_app, which owns no table
 * (drizzle/0007_row_level_security.sql).
 */
async function withDatabase<T> (backend: Backend, work: (database: Database, owner: OwnerStatements) => Promise<T>): Promise<T> {
  if (backend === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-bench-search-'))
    try {
      const database = await openDatabase({ dataDir })
      // PGlite has one connection and one user, a superuser that owns the
      // tables; openDatabase SETs ROLE jack_app on it. Dropping back to the
      // owner for a statement and setting the role again is safe only
      // because this script runs one statement at a time: nothing else can
      // use the connection while it is the superuser.
      const owner: OwnerStatements = {
        execute: async (query) => {
          await database.db.execute(sql`reset role`)
          try {
            return await database.db.execute(query)
          } finally {
            await database.db.execute(sql.raw(`set role ${SERVING_ROLE}`))
          }
        }
      }
      try {
        return await work(database, owner)
      } finally {
        await database.close()
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const name = `jack_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(MAINTENANCE_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`)
    try {
      const url = new URL(MAINTENANCE_URL)
      url.pathname = `/${name}`
      const databaseUrl = url.toString()
      const database = await openDatabase({ databaseUrl, dataDir: '', poolSize: 2 })
      // The URL openDatabase was given logs in as the owner (it migrated with
      // it); jack's pool logs in as jack_app instead, so the owner's statements
      // go over a connection of their own.
      const ownerClient = postgres(databaseUrl, { max: 1, onnotice: () => {} })
      const ownerDb = drizzle(ownerClient)
      const owner: OwnerStatements = { execute: async (query: SQL) => await ownerDb.execute(query) }
      try {
        return await work(database, owner)
      } finally {
        await ownerClient.end({ timeout: 5 })
        await database.close()
      }
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
    }
  } finally {
    await admin.end({ timeout: 5 })
  }
}

// ---------------------------------------------------------------------------------------------
// Ingest through the real write path: insertDocuments, then claimNextJob + finishJob per document

/** Rows per chunk INSERT, as finishJob (src/repositories/ingest-jobs.repo.ts). */
const CHUNK_INSERT_BATCH = 500

type Finish = (db: Database['db'], orgId: OrgId, documentId: string, workerId: string, chunks: NewChunk[]) => Promise<'done' | 'gone'>

/** jack's finishJob: chunks, the statistics trigger, and the document's segment (indexDocument), in one transaction. */
const finishWithIndex: Finish = async (db, orgId, documentId, workerId, chunks) => await finishJob(db, orgId, documentId, workerId, { chunks, format: 'text' })

/**
 * What finishJob writes, without the index: the lease checked, the chunks
 * inserted, the document made ready, its payload and job deleted, in one
 * transaction of the benchmark's own statements (finishJob's own now fold
 * these into fewer). The cost of ingesting with no index at all; run with the
 * statistics triggers off.
 */
const finishChunksOnly: Finish = async (db, orgId, documentId, workerId, newChunks) => await inOrg(db, orgId, async (tx) => {
  const [document] = await tx.select({ id: documents.id }).from(documents).where(and(eq(documents.orgId, orgId), eq(documents.id, documentId))).for('update')
  if (document === undefined) return 'gone'
  const [job] = await tx.select({ leasedBy: ingestJobs.leasedBy }).from(ingestJobs).where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId))).for('update')
  if (job?.leasedBy !== workerId) return 'gone'
  for (let offset = 0; offset < newChunks.length; offset += CHUNK_INSERT_BATCH) {
    await tx.insert(chunks).values(newChunks.slice(offset, offset + CHUNK_INSERT_BATCH).map((chunk) => ({
      orgId, documentId, chunkIndex: chunk.index, text: chunk.text, tokenCount: chunk.tokenCount, startOffset: chunk.start, endOffset: chunk.end
    })))
  }
  await tx.update(documents).set({ status: 'ready', errorMessage: null, chunkCount: newChunks.length, format: 'text', updatedAt: sql`now()` })
    .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
  await tx.delete(documentPayloads).where(and(eq(documentPayloads.orgId, orgId), eq(documentPayloads.documentId, documentId)))
  await tx.delete(ingestJobs).where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId)))
  return 'done'
})

interface IngestResult {
  documentIds: Map<string, string>
  chunks: number
  finishSeconds: number
}

async function ingest (db: Database['db'], orgId: OrgId, corpus: CorpusDocument[], copies: number, finish: Finish): Promise<IngestResult> {
  const documentIds = new Map<string, string>()
  const byId = new Map<string, CorpusDocument>()
  let chunks = 0
  let finishSeconds = 0
  for (let copy = 0; copy < copies; copy++) {
    for (let offset = 0; offset < corpus.length; offset += INSERT_BATCH) {
      const batch = corpus.slice(offset, offset + INSERT_BATCH)
      const ids = await insertDocuments(db, orgId, batch.map((document) => ({
        document: { sourceType: 'text', filename: null, format: null, metadata: { scifact_id: document.id, copy: String(copy) }, chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP },
        payload: { text: document.text }
      })))
      ids.forEach((id, index) => {
        const document = batch[index] as CorpusDocument
        documentIds.set(id, document.id)
        byId.set(id, document)
      })
      for (;;) {
        const job = await claimNextJob(db, WORKER_ID, 600_000)
        if (job === undefined) break
        const document = byId.get(job.documentId)
        if (document === undefined) throw new Error(`claimed an unknown document ${job.documentId}`)
        // Only the transaction that writes the chunks (and, with the index, the statistics and the document's segment) is timed.
        const started = performance.now()
        const outcome = await finish(db, job.orgId, job.documentId, WORKER_ID, document.chunks)
        finishSeconds += (performance.now() - started) / 1000
        if (outcome !== 'done') throw new Error(`finishing the job answered ${outcome}`)
        chunks += document.chunks.length
      }
    }
  }
  return { documentIds, chunks, finishSeconds }
}

async function deleteAll (db: Database['db'], orgId: OrgId, documentIds: Iterable<string>): Promise<{ documents: number, seconds: number }> {
  let documents = 0
  const started = performance.now()
  for (const id of documentIds) {
    if (!await deleteDocument(db, orgId, id)) throw new Error(`document ${id} was not deleted`)
    documents++
  }
  return { documents, seconds: (performance.now() - started) / 1000 }
}

async function setSearchTriggers (owner: OwnerStatements, enabled: boolean): Promise<void> {
  for (const name of SEARCH_TRIGGERS) await owner.execute(sql.raw(`alter table chunks ${enabled ? 'enable' : 'disable'} trigger ${name}`))
}

// ---------------------------------------------------------------------------------------------
// Ranking and metrics

type Ranker = (query: string) => Promise<Array<{ scifactId: string }>>

/** jack's searchChunks, with its process-wide cache of posting lists as the server has it. */
function bm25Ranker (database: Database, orgId: OrgId): Ranker {
  return async (query) => (await searchChunks(database.db, orgId, { query, filter: EMPTY_FILTER, topK: TOP_K }))
    .map((hit) => ({ scifactId: hit.metadata.scifact_id ?? '' }))
}

/** The exhaustive SQL jack ran before issue #11, over bench_postings. */
function oldSqlRanker (database: Database, orgId: OrgId): Ranker {
  return async (query) => (await searchExhaustiveSql(database.db, orgId, { query, filter: EMPTY_FILTER, topK: TOP_K }))
    .map((hit) => ({ scifactId: hit.metadata.scifact_id ?? '' }))
}

/**
 * PostgreSQL's own full-text ranking: the query's lexemes ORed, matched through the GIN index, ordered by ts_rank.
 * In the organisation's transaction, as searchChunks runs: row-level security shows nothing outside one.
 */
function tsRankRanker (database: Database, orgId: OrgId): Ranker {
  return async (query) => rowsOf<{ scifact_id: string }>(await inOrg(database.db, orgId, async (tx) => await tx.execute(sql`
    with q as (select replace(plainto_tsquery('english', ${query}::text)::text, ' & ', ' | ')::tsquery as q)
    select d.metadata ->> 'scifact_id' as scifact_id
    from q, chunks c
    join documents d on d.org_id = c.org_id and d.id = c.document_id
    where c.org_id = ${orgId} and d.status = 'ready' and c.tsv @@ q.q
    order by ts_rank(c.tsv, q.q) desc, d.seq, c.chunk_index
    limit ${TOP_K}`))).map((row) => ({ scifactId: row.scifact_id }))
}

/** Documents in the order of their best chunk. */
function rankDocuments (hits: Array<{ scifactId: string }>): string[] {
  return [...new Set(hits.map((hit) => hit.scifactId))]
}

function ndcgAt10 (ranking: string[], relevant: Set<string>): number {
  let dcg = 0
  ranking.slice(0, 10).forEach((id, index) => { if (relevant.has(id)) dcg += 1 / Math.log2(index + 2) })
  let ideal = 0
  for (let index = 0; index < Math.min(10, relevant.size); index++) ideal += 1 / Math.log2(index + 2)
  return dcg / ideal
}

function recallAt100 (ranking: string[], relevant: Set<string>): number {
  return ranking.slice(0, 100).filter((id) => relevant.has(id)).length / relevant.size
}

function percentile (sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN
}

interface Evaluation {
  ndcg: number
  recall: number
  p50: number
  p95: number
}

async function evaluate (ranker: Ranker, queries: Query[]): Promise<Evaluation> {
  for (const query of queries.slice(0, WARM_UP_QUERIES)) await ranker(query.text)
  const latencies: number[] = []
  let ndcg = 0
  let recall = 0
  for (const query of queries) {
    const started = performance.now()
    const hits = await ranker(query.text)
    latencies.push(performance.now() - started)
    const ranking = rankDocuments(hits)
    ndcg += ndcgAt10(ranking, query.relevant)
    recall += recallAt100(ranking, query.relevant)
  }
  latencies.sort((a, b) => a - b)
  return { ndcg: ndcg / queries.length, recall: recall / queries.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) }
}

// ---------------------------------------------------------------------------------------------

interface BackendResult {
  backend: Backend
  documents: number
  chunks: number
  /** (lexeme, chunk) pairs: the rows bench_postings holds, the postings jack's segments hold. */
  postings: number
  index: string
  ingestWithout: IngestResult
  ingestWith: IngestResult
  mergeAfterIngest: MergeRun
  benchPostings: { rows: number, seconds: number }
  deleteWithout: { documents: number, seconds: number }
  deleteWith: { documents: number, seconds: number }
  /** Or why the merges failed (the report says so; the index is then not checked for emptiness). */
  mergeAfterDelete: MergeRun | string
  /** Per database state: as ingested, after ANALYZE, after VACUUM ANALYZE. */
  bm25: Evaluation[]
  oldSql: Evaluation[]
  tsRank: Evaluation[]
}

const STATES = ['as ingested', 'after ANALYZE', 'after VACUUM ANALYZE'] as const

async function runBackend (backend: Backend, corpus: CorpusDocument[], queries: Query[]): Promise<BackendResult> {
  return await withDatabase(backend, async (database, owner) => {
    const { db } = database
    progress(`${backend}: warming up`)
    const warmOrg = await createOrg(db, 'warm-up')
    const warm = await ingest(db, warmOrg.id, corpus.slice(0, WARM_UP_DOCUMENTS), 1, finishWithIndex)
    await settleMerges(db, warmOrg.id)
    await deleteAll(db, warmOrg.id, warm.documentIds.keys())
    await settleMerges(db, warmOrg.id)

    progress(`${backend}: ingesting chunks only (no segment, statistics triggers off)`)
    await setSearchTriggers(owner, false)
    const plainOrg = await createOrg(db, 'without index')
    const ingestWithout = await ingest(db, plainOrg.id, corpus, COPIES, finishChunksOnly)
    const deleteWithout = await deleteAll(db, plainOrg.id, ingestWithout.documentIds.keys())
    await setSearchTriggers(owner, true)

    progress(`${backend}: ingesting through finishJob (statistics and a segment per document)`)
    const org = await createOrg(db, 'scifact')
    const ingestWith = await ingest(db, org.id, corpus, COPIES, finishWithIndex)
    const mergeAfterIngest = await settleMerges(db, org.id)
    const summary = await summariseIndex(db, org.id)
    if (summary.chunks !== ingestWith.chunks || !(summary.listBytes > 0)) throw new Error(`the organisation's segments hold ${summary.chunks} chunks (${summary.listBytes} bytes of lists) after ingesting ${ingestWith.chunks} (row-level security hiding them?)`)
    progress(`${backend}: ${mergeAfterIngest.merges} merges in ${mergeAfterIngest.seconds.toFixed(1)} s; filling bench_postings`)
    const benchPostings = await buildBenchPostings(owner, org.id)
    if (!(benchPostings.rows > 0)) throw new Error('bench_postings is empty after filling it')

    const bm25: Evaluation[] = []
    const oldSql: Evaluation[] = []
    const tsRank: Evaluation[] = []
    for (const state of STATES) {
      // As the owner: jack_app may not on PostgreSQL 15, and on PGlite (MAINTAIN) would still skip the system catalogs.
      if (state === 'after ANALYZE') await owner.execute(sql`analyze`)
      if (state === 'after VACUUM ANALYZE') await owner.execute(sql`vacuum analyze`)
      progress(`${backend}: ${queries.length} queries ${state}`)
      bm25.push(await evaluate(bm25Ranker(database, org.id), queries))
      oldSql.push(await evaluate(oldSqlRanker(database, org.id), queries))
      tsRank.push(await evaluate(tsRankRanker(database, org.id), queries))
    }

    progress(`${backend}: deleting with the index`)
    const deleteWith = await deleteAll(db, org.id, ingestWith.documentIds.keys())
    let mergeAfterDelete: MergeRun | string
    try {
      mergeAfterDelete = await settleMerges(db, org.id)
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ''
      mergeAfterDelete = `${error instanceof Error ? error.message.split('\n')[0]?.slice(0, 120) ?? '' : String(error)}${cause}`
      progress(`${backend}: merging after the deletes FAILED: ${mergeAfterDelete}`)
    }
    // Each organisation in its own transaction: outside one, row-level security would show no rows and the check would pass on nothing.
    for (const orgId of [warmOrg.id, plainOrg.id, org.id]) {
      const [left] = rowsOf<Record<string, number | string>>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
        select (select count(*) from index_segments) as segments,
               (select count(*) from index_terms) as terms,
               (select count(*) from index_deletions) as deletions,
               (select count(*) from index_deleted_terms) as deleted_terms,
               (select coalesce(sum(chunk_count), 0) from org_chunk_stats) as chunks,
               (select coalesce(sum(total_length), 0) from org_chunk_stats) as length`)))
      const expectEmpty = orgId !== org.id || typeof mergeAfterDelete !== 'string'
      if (left === undefined || Object.entries(left).some(([name, value]) => (expectEmpty || name === 'chunks' || name === 'length') && Number(value) !== 0)) {
        throw new Error(`after deleting every document of org ${orgId}${expectEmpty ? ' and merging' : ''}: ${JSON.stringify(left)} (expected ${expectEmpty ? 'an empty index and ' : ''}zero statistics)`)
      }
    }
    return {
      backend,
      documents: ingestWith.documentIds.size,
      chunks: ingestWith.chunks,
      postings: benchPostings.rows,
      index: describeIndex(summary, benchPostings.rows),
      ingestWithout,
      ingestWith,
      mergeAfterIngest,
      benchPostings,
      deleteWithout,
      deleteWith,
      mergeAfterDelete,
      bm25,
      oldSql,
      tsRank
    }
  })
}

function formatInt (value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

function formatMs (value: number): string {
  return value < 10 ? value.toFixed(1) : value.toFixed(0)
}

function signedPercent (fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(0)}%`
}

function report (results: BackendResult[], queries: Query[]): void {
  const first = results[0]
  if (first === undefined) return
  const lines: string[] = []
  lines.push(`BEIR SciFact: ${formatInt(first.documents)} documents (${COPIES} × corpus, title + "\\n\\n" + text), chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP} → ${formatInt(first.chunks)} chunks, ${formatInt(first.postings)} postings`)
  lines.push(`${queries.length} test queries, top_k ${TOP_K} chunks, documents ranked by their best chunk; latency = one search call from Node, sequential, after ${WARM_UP_QUERIES} warm-up queries`)
  lines.push(`node ${process.version}, ${os.cpus().length} CPUs, load average at the end ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')}`)
  for (const result of results) lines.push(`${result.backend}: jack's index after the ingest and ${formatInt(result.mergeAfterIngest.merges)} merges: ${result.index}`)
  lines.push('')
  lines.push('| backend | ranking | nDCG@10 | Recall@100 | ' + STATES.map((state) => `p50 / p95 ms ${state}`).join(' | ') + ' |')
  lines.push('|---|---|---|---|' + STATES.map(() => '---|').join(''))
  for (const result of results) {
    for (const [label, evaluations] of [
      ['BM25, jack now: searchChunks, segments + block-max WAND (k1 1.2, b 0.75)', result.bm25],
      ['BM25, exhaustive SQL over bench_postings (jack before issue #11)', result.oldSql],
      ['ts_rank, OR query (GIN)', result.tsRank]
    ] as const) {
      const last = evaluations[evaluations.length - 1] as Evaluation
      lines.push(`| ${result.backend} | ${label} | ${last.ndcg.toFixed(3)} | ${last.recall.toFixed(3)} | ` +
        evaluations.map((evaluation) => `${formatMs(evaluation.p50)} / ${formatMs(evaluation.p95)}`).join(' | ') + ' |')
    }
  }
  lines.push('')
  lines.push('Keeping the index current (one finish transaction per document, sequential; deletes via deleteDocument). Without: chunks only (the benchmark\'s own statements for what finishJob writes, less the index; statistics triggers off). With: finishJob (chunks, statistics trigger, the document\'s segment); merges run after, in the foreground, as the worker\'s IndexMerger would in the background:')
  lines.push('')
  lines.push('| backend | ingest chunks/s without the index | with jack\'s index | ingest cost | merges after the ingest | bench_postings filled from the chunks | delete documents/s without | with | delete cost | merges after deleting everything |')
  lines.push('|---|---|---|---|---|---|---|---|---|---|')
  for (const result of results) {
    const without = result.ingestWithout.chunks / result.ingestWithout.finishSeconds
    const withIndex = result.ingestWith.chunks / result.ingestWith.finishSeconds
    const deleteWithout = result.deleteWithout.documents / result.deleteWithout.seconds
    const deleteWith = result.deleteWith.documents / result.deleteWith.seconds
    const merges = (run: MergeRun | string): string => typeof run === 'string'
      ? `FAILED: ${run}`
      : `${formatInt(run.merges)} in ${run.seconds.toFixed(1)} s${run.expunged > 0 ? ` (${formatInt(run.expunged)} deleted documents dropped)` : ''}`
    lines.push(`| ${result.backend} | ${formatInt(without)} | ${formatInt(withIndex)} | ${signedPercent(without / withIndex - 1)} time | ${merges(result.mergeAfterIngest)} | ` +
      `${formatInt(result.benchPostings.rows)} rows in ${result.benchPostings.seconds.toFixed(1)} s | ` +
      `${formatInt(deleteWithout)} | ${formatInt(deleteWith)} | ${signedPercent(deleteWithout / deleteWith - 1)} time | ${merges(result.mergeAfterDelete)} |`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

async function main (): Promise<void> {
  progress(`reading and chunking ${DATA_DIR}`)
  const corpus = loadCorpus()
  const queries = loadQueries()
  const results: BackendResult[] = []
  for (const backend of BACKENDS) results.push(await runBackend(backend, corpus, queries))
  report(results, queries)
}

await main()
