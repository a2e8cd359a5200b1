// Benchmark: BM25 in SQL on BEIR SciFact — nDCG@10, Recall@100 and latency against a ts_rank baseline, and the ingest/delete cost of keeping postings and statistics, on PGlite and PostgreSQL.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { openDatabase, type Database } from '../src/db/client.js'
import { inOrg } from '../src/db/org-scope.js'
import { rowsOf } from '../src/db/rows.js'
import { SERVING_ROLE } from '../src/db/serving-role.js'
import { chunkText } from '../src/ingest/chunker.js'
import { deleteDocument, insertDocuments } from '../src/repositories/documents.repo.js'
import { claimNextJob, finishJob, type NewChunk } from '../src/repositories/ingest-jobs.repo.js'
import { createOrg } from '../src/repositories/orgs.repo.js'
import { searchChunks } from '../src/search-index/search-chunks.js'
import { EMPTY_FILTER } from '../src/retrieval/filters.js'
import type { OrgId } from '../src/org-id.js'

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
 * Runs statements only the tables' owner may (ALTER TABLE … TRIGGER; ANALYZE and
 * VACUUM of every table): openDatabase's connections serve as jack_app, which
 * owns no table (drizzle/0007_row_level_security.sql).
 */
type AsOwner = (statements: readonly string[]) => Promise<void>

async function withDatabase<T> (backend: Backend, work: (database: Database, asOwner: AsOwner) => Promise<T>): Promise<T> {
  if (backend === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-bench-search-'))
    try {
      const database = await openDatabase({ dataDir })
      // PGlite has one connection and one user, a superuser that owns the
      // tables; openDatabase SETs ROLE jack_app on it. Dropping back to the
      // owner for a few statements and setting the role again is safe only
      // because this script runs one statement at a time: nothing else can
      // use the connection while it is the superuser.
      const asOwner: AsOwner = async (statements) => {
        await database.db.execute(sql`reset role`)
        try {
          for (const statement of statements) await database.db.execute(sql.raw(statement))
        } finally {
          await database.db.execute(sql.raw(`set role ${SERVING_ROLE}`))
        }
      }
      try {
        return await work(database, asOwner)
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
      const asOwner: AsOwner = async (statements) => {
        const owner = postgres(databaseUrl, { max: 1, onnotice: () => {} })
        try {
          for (const statement of statements) await owner.unsafe(statement)
        } finally {
          await owner.end({ timeout: 5 })
        }
      }
      try {
        return await work(database, asOwner)
      } finally {
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

interface IngestResult {
  documentIds: Map<string, string>
  chunks: number
  finishSeconds: number
}

async function ingest (db: Database['db'], orgId: OrgId, corpus: CorpusDocument[], copies: number): Promise<IngestResult> {
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
        // Only the transaction that writes the chunks (and, with the triggers on, the postings and statistics) is timed.
        const started = performance.now()
        const outcome = await finishJob(db, job.orgId, job.documentId, WORKER_ID, { chunks: document.chunks, format: 'text' })
        finishSeconds += (performance.now() - started) / 1000
        if (outcome !== 'done') throw new Error(`finishJob answered ${outcome}`)
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

async function setSearchTriggers (asOwner: AsOwner, enabled: boolean): Promise<void> {
  await asOwner(SEARCH_TRIGGERS.map((name) => `alter table chunks ${enabled ? 'enable' : 'disable'} trigger ${name}`))
}

// ---------------------------------------------------------------------------------------------
// Ranking and metrics

type Ranker = (query: string) => Promise<Array<{ scifactId: string }>>

function bm25Ranker (database: Database, orgId: OrgId): Ranker {
  return async (query) => (await searchChunks(database.db, orgId, { query, filter: EMPTY_FILTER, topK: TOP_K }))
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
  postings: number
  ingestWithout: IngestResult
  ingestWith: IngestResult
  deleteWithout: { documents: number, seconds: number }
  deleteWith: { documents: number, seconds: number }
  /** Per database state: as ingested, after ANALYZE, after VACUUM ANALYZE. */
  bm25: Evaluation[]
  tsRank: Evaluation[]
}

const STATES = ['as ingested', 'after ANALYZE', 'after VACUUM ANALYZE'] as const

async function runBackend (backend: Backend, corpus: CorpusDocument[], queries: Query[]): Promise<BackendResult> {
  return await withDatabase(backend, async (database, asOwner) => {
    const { db } = database
    progress(`${backend}: warming up`)
    const warmOrg = await createOrg(db, 'warm-up')
    const warm = await ingest(db, warmOrg.id, corpus.slice(0, WARM_UP_DOCUMENTS), 1)
    await deleteAll(db, warmOrg.id, warm.documentIds.keys())

    progress(`${backend}: ingesting without the search triggers`)
    await setSearchTriggers(asOwner, false)
    const plainOrg = await createOrg(db, 'without postings')
    const ingestWithout = await ingest(db, plainOrg.id, corpus, COPIES)
    const deleteWithout = await deleteAll(db, plainOrg.id, ingestWithout.documentIds.keys())
    await setSearchTriggers(asOwner, true)

    progress(`${backend}: ingesting with postings and statistics`)
    const org = await createOrg(db, 'scifact')
    const ingestWith = await ingest(db, org.id, corpus, COPIES)
    const [counts] = rowsOf<{ postings: number | string }>(await inOrg(db, org.id, async (tx) => await tx.execute(sql`select count(*) as postings from postings where org_id = ${org.id}`)))
    if (!(Number(counts?.postings) > 0)) throw new Error(`the organisation shows ${String(counts?.postings)} postings after ingesting (row-level security hiding them?)`)

    const bm25: Evaluation[] = []
    const tsRank: Evaluation[] = []
    for (const state of STATES) {
      // As the owner: jack_app may not on PostgreSQL 15, and on PGlite (MAINTAIN) would still skip the system catalogs.
      if (state === 'after ANALYZE') await asOwner(['analyze'])
      if (state === 'after VACUUM ANALYZE') await asOwner(['vacuum analyze'])
      progress(`${backend}: ${queries.length} queries ${state}`)
      bm25.push(await evaluate(bm25Ranker(database, org.id), queries))
      tsRank.push(await evaluate(tsRankRanker(database, org.id), queries))
    }

    progress(`${backend}: deleting with postings and statistics`)
    const deleteWith = await deleteAll(db, org.id, ingestWith.documentIds.keys())
    // Each organisation in its own transaction: outside one, row-level security would show no rows and the check would pass on nothing.
    for (const orgId of [warmOrg.id, plainOrg.id, org.id]) {
      const [left] = rowsOf<{ postings: number | string, chunks: number | string, length: number | string }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
        select (select count(*) from postings) as postings,
               (select coalesce(sum(chunk_count), 0) from org_chunk_stats) as chunks,
               (select coalesce(sum(total_length), 0) from org_chunk_stats) as length`)))
      if (Number(left?.postings) !== 0 || Number(left?.chunks) !== 0 || Number(left?.length) !== 0) {
        throw new Error(`after deleting every document of org ${orgId}: ${JSON.stringify(left)} (expected no postings and zero statistics)`)
      }
    }
    return {
      backend,
      documents: ingestWith.documentIds.size,
      chunks: ingestWith.chunks,
      postings: Number(counts?.postings),
      ingestWithout,
      ingestWith,
      deleteWithout,
      deleteWith,
      bm25,
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

function report (results: BackendResult[], queries: Query[]): void {
  const first = results[0]
  if (first === undefined) return
  const lines: string[] = []
  lines.push(`BEIR SciFact: ${formatInt(first.documents)} documents (${COPIES} × corpus, title + "\\n\\n" + text), chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP} → ${formatInt(first.chunks)} chunks, ${formatInt(first.postings)} postings`)
  lines.push(`${queries.length} test queries, top_k ${TOP_K} chunks, documents ranked by their best chunk; latency = one search call from Node, sequential, after ${WARM_UP_QUERIES} warm-up queries`)
  lines.push(`node ${process.version}, ${os.cpus().length} CPUs`)
  lines.push('')
  lines.push('| backend | ranking | nDCG@10 | Recall@100 | ' + STATES.map((state) => `p50 / p95 ms ${state}`).join(' | ') + ' |')
  lines.push('|---|---|---|---|' + STATES.map(() => '---|').join(''))
  for (const result of results) {
    for (const [label, evaluations] of [['BM25, postings (k1 1.2, b 0.75)', result.bm25], ['ts_rank, OR query (GIN)', result.tsRank]] as const) {
      const last = evaluations[evaluations.length - 1] as Evaluation
      lines.push(`| ${result.backend} | ${label} | ${last.ndcg.toFixed(3)} | ${last.recall.toFixed(3)} | ` +
        evaluations.map((evaluation) => `${formatMs(evaluation.p50)} / ${formatMs(evaluation.p95)}`).join(' | ') + ' |')
    }
  }
  lines.push('')
  lines.push('Keeping the index current (one finishJob transaction per document, sequential; chunk deletes via deleteDocument):')
  lines.push('')
  lines.push('| backend | ingest chunks/s without postings | with postings + statistics | ingest cost | delete documents/s without | with | delete cost |')
  lines.push('|---|---|---|---|---|---|---|')
  for (const result of results) {
    const without = result.ingestWithout.chunks / result.ingestWithout.finishSeconds
    const withIndex = result.ingestWith.chunks / result.ingestWith.finishSeconds
    const deleteWithout = result.deleteWithout.documents / result.deleteWithout.seconds
    const deleteWith = result.deleteWith.documents / result.deleteWith.seconds
    lines.push(`| ${result.backend} | ${formatInt(without)} | ${formatInt(withIndex)} | +${((without / withIndex - 1) * 100).toFixed(0)}% time | ` +
      `${formatInt(deleteWithout)} | ${formatInt(deleteWith)} | +${((deleteWithout / deleteWith - 1) * 100).toFixed(0)}% time |`)
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
