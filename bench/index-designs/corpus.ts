// bench/index-designs: the shared corpus — SciFact repeated into one organisation through jack's own write path (insertDocuments, claimNextJob, finishJob: chunks, statistics and the document's index segment), the owner's connection, and the organisation's postings (bench_postings, the old layout: bench/lib/bench-postings.ts) read back into memory by chunk ordinal.
import { performance } from 'node:perf_hooks'
import { sql, type SQL } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { openDatabase, type Database, type Db } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import { SERVING_ROLE } from '../../src/db/serving-role.js'
import { chunkText } from '../../src/ingest/chunker.js'
import type { OrgId } from '../../src/org-id.js'
import { insertDocuments } from '../../src/repositories/documents.repo.js'
import { claimNextJob, finishJob, type NewChunk } from '../../src/repositories/ingest-jobs.repo.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import type { CorpusDocument } from '../retrieval.js'
import { formatInt } from '../lib/report.js'
import { progress, type Backend, type Storage } from '../lib/server.js'
import { protectTable } from '../lib/tenant-table.js'

export const CHUNK_SIZE = 128
export const CHUNK_OVERLAP = 64
export const FIRST_YEAR = 2015
const INSERT_BATCH = 50
/** Documents queued before the workers drain the queue, so the queue (and its payload rows) stays small. */
const WAVE = 500
const LEASE_MS = 600_000

export type Metadata = Record<string, string>

/** A document to ingest: one SciFact abstract in one copy, with its chunks computed once per abstract. */
export interface PlannedDocument {
  text: string
  metadata: Metadata
  chunks: NewChunk[]
}

/**
 * SciFact repeated, abstract by abstract, until the chunks reach `targetChunks`
 * — as bench/query.ts plans it: metadata doc_id, copy and a year cycling over
 * ten values (so year = one value holds 10 % of the documents).
 */
export function planDocuments (corpus: readonly CorpusDocument[], targetChunks: number): PlannedDocument[] {
  const chunked = corpus.map((document) => chunkText(document.text, { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP }))
  const planned: PlannedDocument[] = []
  let chunks = 0
  for (let copy = 0; chunks < targetChunks; copy++) {
    for (const [index, document] of corpus.entries()) {
      if (chunks >= targetChunks) break
      const documentChunks = chunked[index] ?? []
      planned.push({ text: document.text, metadata: { doc_id: document.id, copy: String(copy), year: String(FIRST_YEAR + (planned.length % 10)) }, chunks: documentChunks })
      chunks += documentChunks.length
    }
  }
  return planned
}

// ---------------------------------------------------------------------------------------------
// The database: jack's serving connection (jack_app, row-level security) and the owner's

/** Statements as the tables' owner: DDL, VACUUM, bulk builds (the owner is a superuser here, so row-level security does not bind it). */
export interface Owner {
  execute: (query: SQL) => Promise<unknown>
  close: () => Promise<void>
}

export interface BenchDatabase {
  backend: Backend
  database: Database
  owner: Owner
}

export async function openBench (backend: Backend, storage: Storage, poolSize: number): Promise<BenchDatabase> {
  if (backend === 'pglite') {
    const dataDir = storage.env.JACK_DATA_DIR
    if (dataDir === undefined) throw new Error('PGlite storage without JACK_DATA_DIR')
    const database = await openDatabase({ dataDir })
    // One connection, used by one statement at a time in this script: dropping
    // back to the superuser for an owner's statement cannot leak into jack's.
    const owner: Owner = {
      execute: async (query) => {
        await database.db.execute(sql`reset role`)
        try {
          return await database.db.execute(query)
        } finally {
          await database.db.execute(sql.raw(`set role ${SERVING_ROLE}`))
        }
      },
      close: async () => {}
    }
    return { backend, database, owner }
  }
  const databaseUrl = storage.env.DATABASE_URL
  if (databaseUrl === undefined) throw new Error('PostgreSQL storage without DATABASE_URL')
  const database = await openDatabase({ databaseUrl, dataDir: '', poolSize, statementTimeoutMs: 0 })
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { work_mem: '256MB', maintenance_work_mem: '1GB' } })
  const ownerDb = drizzle(client)
  const owner: Owner = {
    execute: async (query) => await ownerDb.execute(query),
    close: async () => { await client.end({ timeout: 5 }) }
  }
  return { backend, database, owner }
}

// The tenant policy jack gives every table, for the benchmark's own tables (bench/lib/tenant-table.ts).
export { protectTable }

export async function vacuumAnalyze (owner: Owner, tables: readonly string[]): Promise<void> {
  for (const table of tables) await owner.execute(sql.raw(`vacuum analyze ${table}`))
}

export async function relationBytes (owner: Owner, tables: readonly string[]): Promise<number> {
  let total = 0
  for (const table of tables) {
    const [row] = rowsOf<{ bytes: string | number }>(await owner.execute(sql.raw(`select pg_total_relation_size('${table}') as bytes`)))
    total += Number(row?.bytes ?? 0)
  }
  return total
}

// ---------------------------------------------------------------------------------------------
// Ingest through jack's write path

export interface FillResult {
  documentIds: string[]
  chunks: number
  seconds: number
}

/**
 * insertDocuments in batches, then `workers` loops of claimNextJob + finishJob
 * (the chunks precomputed: the benchmark measures the index, not extraction).
 * In finishJob's transaction jack's trigger adds the chunks to org_chunk_stats
 * and indexDocument writes the document's segment; merging the segments (the
 * worker's IndexMerger, in the background) is left to the caller
 * (bench/lib/jack-index.ts settleMerges), and so is bench_postings. Document
 * IDs are returned in seq order.
 */
export async function ingestDocuments (db: Db, orgId: OrgId, planned: readonly PlannedDocument[], workers: number, label: string): Promise<FillResult> {
  const started = performance.now()
  const byId = new Map<string, PlannedDocument>()
  const documentIds: string[] = []
  let chunks = 0
  let reported = started
  for (let wave = 0; wave < planned.length; wave += WAVE) {
    const waveDocuments = planned.slice(wave, wave + WAVE)
    for (let offset = 0; offset < waveDocuments.length; offset += INSERT_BATCH) {
      const batch = waveDocuments.slice(offset, offset + INSERT_BATCH)
      const ids = await insertDocuments(db, orgId, batch.map((document) => ({
        document: { sourceType: 'text', filename: null, format: null, metadata: document.metadata, chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP },
        payload: { text: document.text }
      })))
      ids.forEach((id, index) => { byId.set(id, batch[index] as PlannedDocument) })
      documentIds.push(...ids)
    }
    const worker = async (workerId: string): Promise<void> => {
      for (;;) {
        const job = await claimNextJob(db, workerId, LEASE_MS)
        if (job === undefined) return
        const document = byId.get(job.documentId)
        if (document === undefined) throw new Error(`claimed an unknown document ${job.documentId}`)
        const outcome = await finishJob(db, job.orgId, job.documentId, workerId, { chunks: document.chunks, format: 'text' })
        if (outcome !== 'done') throw new Error(`finishJob answered ${outcome}`)
        chunks += document.chunks.length
        byId.delete(job.documentId)
      }
    }
    await Promise.all(Array.from({ length: workers }, async (_, index) => { await worker(`bench-${index}`) }))
    if (performance.now() - reported > 30_000) {
      reported = performance.now()
      progress(`${label}: ${formatInt(documentIds.length)} / ${formatInt(planned.length)} documents, ${formatInt(chunks)} chunks, ${((reported - started) / 1000).toFixed(0)} s`)
    }
  }
  return { documentIds, chunks, seconds: (performance.now() - started) / 1000 }
}

export async function createBenchOrg (db: Db): Promise<OrgId> {
  return (await createOrg(db, 'index-designs')).id
}

// ---------------------------------------------------------------------------------------------
// Chunk ordinals and the in-memory copy of the postings

/**
 * Each ready document's chunks get consecutive ordinals, documents in seq
 * order: ordinal order is the old SQL's tie-break order (older document, then lower
 * chunk index). Kept in PostgreSQL (bench_document_ordinals) for both designs:
 * it turns a metadata filter into ordinal ranges and an ordinal back into
 * (document, chunk).
 */
export const ORDINALS_TABLE = 'bench_document_ordinals'

export async function createOrdinalsTable (owner: Owner): Promise<void> {
  await owner.execute(sql.raw(`create table ${ORDINALS_TABLE} (
    org_id uuid not null, document_id uuid not null, first_ordinal integer not null, chunk_count integer not null,
    primary key (org_id, document_id))`))
  await owner.execute(sql.raw(`create unique index ${ORDINALS_TABLE}_ordinal_idx on ${ORDINALS_TABLE} (org_id, first_ordinal) include (document_id, chunk_count)`))
  await protectTable(owner, ORDINALS_TABLE)
}

export interface DocumentEntry {
  id: string
  firstOrdinal: number
  chunkCount: number
  metadata: Metadata
}

/** Ordinals for the ready documents not yet numbered, after `nextOrdinal`, in seq order; written to bench_document_ordinals. */
export async function assignOrdinals (db: Db, orgId: OrgId, nextOrdinal: number): Promise<DocumentEntry[]> {
  return await inOrg(db, orgId, async (tx) => {
    const rows = rowsOf<{ id: string, chunk_count: number, metadata: Metadata }>(await tx.execute(sql`
      select d.id, d.chunk_count, d.metadata from documents d
      where d.org_id = ${orgId} and d.status = 'ready'
        and not exists (select 1 from ${sql.raw(ORDINALS_TABLE)} m where m.org_id = d.org_id and m.document_id = d.id)
      order by d.seq`))
    const entries: DocumentEntry[] = []
    let ordinal = nextOrdinal
    for (const row of rows) {
      entries.push({ id: row.id, firstOrdinal: ordinal, chunkCount: Number(row.chunk_count), metadata: row.metadata })
      ordinal += Number(row.chunk_count)
    }
    for (let offset = 0; offset < entries.length; offset += 1000) {
      const batch = entries.slice(offset, offset + 1000)
      await tx.execute(sql`insert into ${sql.raw(ORDINALS_TABLE)} (org_id, document_id, first_ordinal, chunk_count) values
        ${sql.join(batch.map((entry) => sql`(${orgId}, ${entry.id}, ${entry.firstOrdinal}, ${entry.chunkCount})`), sql`, `)}`)
    }
    return entries
  })
}

/** One term's postings, ordinals ascending. */
export interface TermPostings {
  ordinals: Int32Array
  tfs: Uint16Array
}

/** The organisation's index as exhaustive BM25 sees it. */
export interface MemoryIndex {
  terms: Map<string, TermPostings>
  /** Chunk length (Σ tf) by ordinal. */
  lengths: Uint16Array
  /** Ordinals in use: [0, ordinalCount). */
  ordinalCount: number
  documents: DocumentEntry[]
  /** Document index (into `documents`) by ordinal. */
  documentOf: Int32Array
  postings: number
}

/** Parses an int array as either driver returns it: postgres.js and PGlite parse int4[] into numbers, a text cast arrives as '{…}'. */
function intArray (value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number)
  if (typeof value === 'string') return value === '{}' ? [] : value.slice(1, -1).split(',').map(Number)
  throw new Error(`expected an int array, got ${typeof value}`)
}

/**
 * Reads the postings of `documents` (all of them, or a fresh batch) into
 * per-term arrays by ordinal: lexemes in pages of ~`pagePostings`, each
 * lexeme's postings aggregated into arrays in SQL (one row per lexeme, not per
 * posting). Ordinals of one read are ascending per term as long as `documents`
 * follow every ordinal already in `into`.
 */
export async function readPostings (bench: BenchDatabase, orgId: OrgId, documents: readonly DocumentEntry[], into: MemoryIndex | undefined, pagePostings = 2_000_000): Promise<MemoryIndex> {
  const { owner } = bench
  const allDocuments = [...(into?.documents ?? []), ...documents]
  const ordinalCount = documents.reduce((max, entry) => Math.max(max, entry.firstOrdinal + entry.chunkCount), into?.ordinalCount ?? 0)
  const lengths = new Uint16Array(ordinalCount)
  if (into !== undefined) lengths.set(into.lengths)
  const documentOf = new Int32Array(ordinalCount).fill(-1)
  if (into !== undefined) documentOf.set(into.documentOf)
  for (const [offset, entry] of documents.entries()) {
    documentOf.fill((into?.documents.length ?? 0) + offset, entry.firstOrdinal, entry.firstOrdinal + entry.chunkCount)
  }
  const terms = into?.terms ?? new Map<string, TermPostings>()
  const minOrdinal = documents.reduce((min, entry) => Math.min(min, entry.firstOrdinal), Number.MAX_SAFE_INTEGER)
  // Owner's statements: a read of the whole organisation is a build job's, not a request's.
  const scope = sql`p.org_id = ${orgId} and m.org_id = p.org_id and m.document_id = p.document_id and m.first_ordinal >= ${minOrdinal}`
  const dfs = rowsOf<{ lexeme: string, df: string | number }>(await owner.execute(sql`
    select p.lexeme, count(*) as df from bench_postings p join ${sql.raw(ORDINALS_TABLE)} m on ${scope}
    group by p.lexeme order by p.lexeme collate "C"`))
  let postings = into?.postings ?? 0
  let page: string[] = []
  let pageSize = 0
  const flush = async (): Promise<void> => {
    if (page.length === 0) return
    const rows = rowsOf<{ lexeme: string, ordinals: unknown, tfs: unknown, lengths: unknown }>(await owner.execute(sql`
      select p.lexeme, array_agg(m.first_ordinal + p.chunk_index order by m.first_ordinal + p.chunk_index) as ordinals,
             array_agg(p.tf order by m.first_ordinal + p.chunk_index) as tfs,
             array_agg(p.chunk_length order by m.first_ordinal + p.chunk_index) as lengths
      from bench_postings p join ${sql.raw(ORDINALS_TABLE)} m on ${scope}
      where p.lexeme = any(${textArrayLiteral(page)}::text[])
      group by p.lexeme`))
    for (const row of rows) {
      const ordinals = intArray(row.ordinals)
      const tfs = intArray(row.tfs)
      const chunkLengths = intArray(row.lengths)
      const previous = terms.get(row.lexeme)
      const base = previous?.ordinals.length ?? 0
      const merged: TermPostings = { ordinals: new Int32Array(base + ordinals.length), tfs: new Uint16Array(base + ordinals.length) }
      if (previous !== undefined) {
        merged.ordinals.set(previous.ordinals)
        merged.tfs.set(previous.tfs)
      }
      merged.ordinals.set(ordinals, base)
      merged.tfs.set(tfs, base)
      for (const [index, ordinal] of ordinals.entries()) lengths[ordinal] = chunkLengths[index] ?? 0
      terms.set(row.lexeme, merged)
      postings += ordinals.length
    }
    page = []
    pageSize = 0
  }
  for (const row of dfs) {
    page.push(row.lexeme)
    pageSize += Number(row.df)
    if (pageSize >= pagePostings) await flush()
  }
  await flush()
  return { terms, lengths, ordinalCount, documents: allDocuments, documentOf, postings }
}

/**
 * A fresh batch's postings, from its chunks rather than from bench_postings
 * (whose key leads with the lexeme, so finding one document's rows would read
 * them all): each chunk's jack_indexed_vector, as jack indexes it, tf =
 * positions, chunk length = Σ tf. What a sealing job reads. Appended to
 * `into` (the batch's ordinals follow all of its own).
 */
export async function readBatchPostings (db: Db, orgId: OrgId, documents: readonly DocumentEntry[], into: MemoryIndex): Promise<MemoryIndex> {
  const first = documents.reduce((min, entry) => Math.min(min, entry.firstOrdinal), Number.MAX_SAFE_INTEGER)
  const rows = rowsOf<{ lexeme: string, ordinal: number, tf: number, chunk_length: number }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    select t.lexeme, m.first_ordinal + c.chunk_index as ordinal, cardinality(t.positions) as tf, l.chunk_length
    from ${sql.raw(ORDINALS_TABLE)} m
    join chunks c on c.org_id = m.org_id and c.document_id = m.document_id
    cross join lateral (select coalesce(sum(cardinality(u.positions)), 0) as chunk_length from unnest(jack_indexed_vector(c.text, c.tsv)) as u) as l
    cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
    where m.org_id = ${orgId} and m.first_ordinal >= ${first}
    order by 2`)))
  const ordinalCount = documents.reduce((max, entry) => Math.max(max, entry.firstOrdinal + entry.chunkCount), into.ordinalCount)
  const lengths = new Uint16Array(ordinalCount)
  lengths.set(into.lengths)
  const documentOf = new Int32Array(ordinalCount).fill(-1)
  documentOf.set(into.documentOf)
  for (const [offset, entry] of documents.entries()) documentOf.fill(into.documents.length + offset, entry.firstOrdinal, entry.firstOrdinal + entry.chunkCount)
  const byLexeme = new Map<string, { ordinals: number[], tfs: number[] }>()
  for (const row of rows) {
    const ordinal = Number(row.ordinal)
    lengths[ordinal] = Number(row.chunk_length)
    const list = byLexeme.get(row.lexeme) ?? { ordinals: [], tfs: [] }
    list.ordinals.push(ordinal)
    list.tfs.push(Number(row.tf))
    byLexeme.set(row.lexeme, list)
  }
  for (const [lexeme, list] of byLexeme) {
    const previous = into.terms.get(lexeme)
    const base = previous?.ordinals.length ?? 0
    const merged: TermPostings = { ordinals: new Int32Array(base + list.ordinals.length), tfs: new Uint16Array(base + list.ordinals.length) }
    if (previous !== undefined) {
      merged.ordinals.set(previous.ordinals)
      merged.tfs.set(previous.tfs)
    }
    merged.ordinals.set(list.ordinals, base)
    merged.tfs.set(list.tfs, base)
    into.terms.set(lexeme, merged)
  }
  return { terms: into.terms, lengths, ordinalCount, documents: [...into.documents, ...documents], documentOf, postings: into.postings + rows.length }
}

/** Removes deleted documents' postings from the in-memory index (the oracle's view after a delete). */
export function dropOrdinals (index: MemoryIndex, deleted: Uint8Array): void {
  for (const [lexeme, term] of index.terms) {
    let kept = 0
    for (let i = 0; i < term.ordinals.length; i++) if (deleted[term.ordinals[i] as number] === 0) kept++
    if (kept === term.ordinals.length) continue
    const ordinals = new Int32Array(kept)
    const tfs = new Uint16Array(kept)
    let j = 0
    for (let i = 0; i < term.ordinals.length; i++) {
      const ordinal = term.ordinals[i] as number
      if (deleted[ordinal] !== 0) continue
      ordinals[j] = ordinal
      tfs[j++] = term.tfs[i] as number
    }
    index.postings -= term.ordinals.length - kept
    if (kept === 0) index.terms.delete(lexeme)
    else index.terms.set(lexeme, { ordinals, tfs })
  }
}

/** BM25's N and total length as jack keeps them (org_chunk_stats, live chunks only). */
export async function corpusStatistics (db: Db, orgId: OrgId): Promise<{ chunkCount: number, totalLength: number }> {
  const [row] = rowsOf<{ chunk_count: string | number | null, total_length: string | number | null }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    select sum(chunk_count) as chunk_count, sum(total_length) as total_length from org_chunk_stats where org_id = ${orgId}`)))
  return { chunkCount: Number(row?.chunk_count ?? 0), totalLength: Number(row?.total_length ?? 0) }
}

/** Each query's lexemes as jack analyses it (jack_search_query_vector), in lexeme order. */
export async function queryLexemes (db: Db, orgId: OrgId, texts: readonly string[]): Promise<string[][]> {
  const lexemes: string[][] = []
  for (const text of texts) {
    const rows = rowsOf<{ lexeme: string }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
      select lexeme from unnest(jack_search_query_vector(${text}::text)) order by lexeme collate "C"`)))
    lexemes.push(rows.map((row) => row.lexeme))
  }
  return lexemes
}

/** A text[] literal for one bound parameter (drizzle would expand a JS array into a list of parameters). */
export function textArrayLiteral (values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`
}

export function intArrayLiteral (values: ArrayLike<number>): string {
  return `{${Array.from(values).join(',')}}`
}

/** The lexemes of chunks about to be deleted, as jack indexes them (jack_indexed_vector). */
export async function chunkLexemes (db: Db, orgId: OrgId, documentId: string, firstOrdinal: number): Promise<Array<{ ordinal: number, lexemes: string[] }>> {
  return await inOrg(db, orgId, async (tx) => rowsOf<{ chunk_index: number, lexemes: string[] | string }>(await tx.execute(sql`
    select c.chunk_index, array(select t.lexeme from unnest(jack_indexed_vector(c.text, c.tsv)) as t) as lexemes
    from chunks c where c.org_id = ${orgId} and c.document_id = ${documentId}`)).map((row) => ({
    ordinal: firstOrdinal + Number(row.chunk_index),
    lexemes: Array.isArray(row.lexemes) ? row.lexemes : row.lexemes === '{}' ? [] : row.lexemes.slice(1, -1).split(',').map((item) => item.startsWith('"') ? JSON.parse(item) as string : item)
  })))
}
