// SQL for the search index's segments (src/search-index/): writing a document's segment with its ordinals, marking documents deleted, and the reads of queries and merges.
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { int8Array, textArray } from '../db/array-parameters.js'
import { rowsOf } from '../db/rows.js'
import { inOrg } from '../db/org-scope.js'
import type { OrgId } from '../org-id.js'
import { buildDocumentSegment, type BuiltSegment, type ChunkPosting, type SegmentTerm } from '../search-index/segment-builder.js'

/** Term rows per INSERT: ~5 parameters each, and a few MB at most. */
const TERM_INSERT_ROWS = 400
const TERM_INSERT_BYTES = 4 * 2 ** 20

function bytesOf (value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** A json column as the driver gives it: parsed already (postgres.js, PGlite) or as text. */
function json<T> (value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

async function insertTerms (tx: Db, orgId: OrgId, segmentId: number, terms: readonly SegmentTerm[]): Promise<void> {
  let batch: SegmentTerm[] = []
  let batchBytes = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    await tx.execute(sql`insert into index_terms (org_id, lexeme, segment_id, df, postings) values
      ${sql.join(batch.map((term) => sql`(${orgId}, ${term.lexeme}, ${segmentId}, ${term.df}, ${bytesOf(term.postings)})`), sql`, `)}`)
    batch = []
    batchBytes = 0
  }
  for (const term of terms) {
    batch.push(term)
    batchBytes += term.postings.byteLength
    if (batch.length >= TERM_INSERT_ROWS || batchBytes >= TERM_INSERT_BYTES) await flush()
  }
  await flush()
}

/** Writes a segment and its term rows in the caller's organisation transaction; returns its ID. */
export async function insertSegment (tx: Db, orgId: OrgId, segment: Omit<BuiltSegment, 'terms'>, baseOrdinal: number | null, terms: readonly SegmentTerm[] = []): Promise<number> {
  const [row] = rowsOf<{ segment_id: string | number }>(await tx.execute(sql`
    insert into index_segments (org_id, level, base_ordinal, ordinal_span, chunk_count, document_count, documents)
    values (${orgId}, ${segment.level}, ${baseOrdinal}, ${segment.ordinalSpan}, ${segment.chunkCount}, ${segment.documentCount}, ${bytesOf(segment.documents)})
    returning segment_id`))
  if (row === undefined) throw new Error('the segment insert returned no row')
  const segmentId = Number(row.segment_id)
  await insertTerms(tx, orgId, segmentId, terms)
  return segmentId
}

export async function insertSegmentTerms (tx: Db, orgId: OrgId, segmentId: number, terms: readonly SegmentTerm[]): Promise<void> {
  await insertTerms(tx, orgId, segmentId, terms)
}

/**
 * Indexes a document whose chunks are stored (the caller holds its row lock,
 * in the transaction that wrote them): its postings as the database analyses
 * them, as a segment of its own, then its chunk ordinals. The ordinals are
 * allocated last, so the organisation's counter row is locked only from that
 * statement to the commit and concurrent ingests in one organisation hardly
 * wait for each other. Returns the first ordinal (null for no chunks).
 */
export async function indexDocument (db: Db, orgId: OrgId, documentId: string, chunkCount: number, metadata: Record<string, string>): Promise<number | null> {
  if (chunkCount === 0) return null
  return await inOrg(db, orgId, async (tx) => {
    const postings = rowsOf<{ chunk_index: number, lexeme: string, tf: number }>(await tx.execute(sql`
      select c.chunk_index, t.lexeme, cardinality(t.positions) as tf
      from chunks c
      cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
      where c.org_id = ${orgId} and c.document_id = ${documentId}`))
    const segment = buildDocumentSegment(postings.map((row): ChunkPosting => ({ chunkIndex: Number(row.chunk_index), lexeme: row.lexeme, tf: Number(row.tf) })), chunkCount, metadata)
    const segmentId = await insertSegment(tx, orgId, segment, null, segment.terms)
    const [allocated] = rowsOf<{ first_ordinal: number }>(await tx.execute(sql`
      with allocated as (
        insert into org_ordinals (org_id, next_ordinal) values (${orgId}, ${chunkCount})
        on conflict (org_id) do update set next_ordinal = org_ordinals.next_ordinal + excluded.next_ordinal
        returning next_ordinal - ${chunkCount}::int4 as first_ordinal
      ), segment as (
        update index_segments s set base_ordinal = a.first_ordinal from allocated a
        where s.org_id = ${orgId} and s.segment_id = ${segmentId}
        returning s.segment_id
      )
      update documents d set first_ordinal = a.first_ordinal from allocated a
      where d.org_id = ${orgId} and d.id = ${documentId}
      returning d.first_ordinal`))
    if (allocated === undefined) throw new Error('the document to index is gone')
    return Number(allocated.first_ordinal)
  })
}

/**
 * Takes a document out of the index (before it is deleted, or re-indexed with
 * new metadata), in the caller's transaction: its ordinals are marked deleted
 * and its lexemes' chunk counts recorded, so queries skip it and df stays
 * exact until a merge drops its postings. Locks the document row first, so it
 * waits for a finishJob in progress and sees its ordinals.
 */
export async function unindexDocument (db: Db, orgId: OrgId, documentId: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    const [document] = rowsOf<{ first_ordinal: number | null, chunk_count: number }>(await tx.execute(sql`
      select first_ordinal, chunk_count from documents where org_id = ${orgId} and id = ${documentId} for update`))
    if (document?.first_ordinal === null || document === undefined) return
    const first = Number(document.first_ordinal)
    await tx.execute(sql`insert into index_deletions (org_id, first_ordinal, chunk_count) values (${orgId}, ${first}, ${Number(document.chunk_count)})`)
    await tx.execute(sql`
      insert into index_deleted_terms (org_id, lexeme, first_ordinal, chunks)
      select ${orgId}, t.lexeme, ${first}::int4, count(*)
      from chunks c
      cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
      where c.org_id = ${orgId} and c.document_id = ${documentId}
      group by t.lexeme`)
    await tx.execute(sql`update documents set first_ordinal = null where org_id = ${orgId} and id = ${documentId}`)
  })
}

// --- Queries -----------------------------------------------------------------------------------------------------------

export interface LiveSegment {
  id: number
  base: number
}

export interface SearchState {
  chunkCount: number
  totalLength: number
  /** The question's lexemes, each once, in "C" order. */
  lexemes: string[]
  /** One past the organisation's highest ordinal. */
  ordinalEnd: number
  segments: LiveSegment[]
  /** Deleted documents still in segments: [first ordinal, chunk count]. */
  deletions: Array<[number, number]>
  /** Per question lexeme, the deleted-but-not-merged chunks holding it. */
  deletedChunks: Map<string, number>
}

/** Everything a query needs before it reads posting lists, in one statement (one snapshot). */
export async function readSearchState (tx: Db, orgId: OrgId, question: string): Promise<SearchState> {
  const [row] = rowsOf<{ chunk_count: string | number, total_length: string | number, lexemes: string[] | string, ordinal_end: number | null, segments: unknown, deletions: unknown, deleted_chunks: unknown }>(await tx.execute(sql`
    with q as materialized (
      select distinct lexeme collate "C" as lexeme from unnest(jack_search_query_vector(${question}::text))
    )
    select (select coalesce(sum(chunk_count), 0) from org_chunk_stats where org_id = ${orgId}) as chunk_count,
           (select coalesce(sum(total_length), 0) from org_chunk_stats where org_id = ${orgId}) as total_length,
           (select coalesce(json_agg(lexeme order by lexeme), '[]') from q) as lexemes,
           (select next_ordinal from org_ordinals where org_id = ${orgId}) as ordinal_end,
           (select coalesce(json_agg(json_build_array(s.segment_id, s.base_ordinal) order by s.segment_id), '[]')
            from index_segments s where s.org_id = ${orgId} and s.base_ordinal is not null) as segments,
           (select coalesce(json_agg(json_build_array(x.first_ordinal, x.chunk_count)), '[]') from index_deletions x where x.org_id = ${orgId}) as deletions,
           (select coalesce(json_agg(json_build_array(t.lexeme, t.chunks)), '[]')
            from (select x.lexeme, sum(x.chunks) as chunks from index_deleted_terms x
                  where x.org_id = ${orgId} and x.lexeme in (select lexeme from q) group by x.lexeme) as t) as deleted_chunks`))
  if (row === undefined) throw new Error('the search state query returned no row')
  return {
    chunkCount: Number(row.chunk_count),
    totalLength: Number(row.total_length),
    lexemes: json<string[]>(row.lexemes),
    ordinalEnd: Number(row.ordinal_end ?? 0),
    segments: json<Array<[number, number]>>(row.segments).map(([id, base]) => ({ id: Number(id), base: Number(base) })),
    deletions: json<Array<[number, number]>>(row.deletions).map(([first, count]) => [Number(first), Number(count)]),
    deletedChunks: new Map(json<Array<[string, number]>>(row.deleted_chunks).map(([lexeme, chunks]) => [lexeme, Number(chunks)]))
  }
}

export interface TermRow {
  segmentId: number
  lexeme: string
  postings: Uint8Array
}

/** The rows of these lexemes in these segments (those that exist). */
export async function readTermRows (tx: Db, orgId: OrgId, lexemes: readonly string[], segmentIds: readonly number[]): Promise<TermRow[]> {
  if (lexemes.length === 0 || segmentIds.length === 0) return []
  const rows = rowsOf<{ segment_id: string | number, lexeme: string, postings: Uint8Array }>(await tx.execute(sql`
    select segment_id, lexeme, postings from index_terms
    where org_id = ${orgId} and lexeme = any(${textArray(lexemes)}) and segment_id = any(${int8Array(segmentIds)})`))
  return rows.map((row) => ({ segmentId: Number(row.segment_id), lexeme: row.lexeme, postings: new Uint8Array(row.postings.buffer, row.postings.byteOffset, row.postings.byteLength) }))
}

/** The stored documents of these segments (segment-documents.ts). */
export async function readSegmentDocuments (tx: Db, orgId: OrgId, segmentIds: readonly number[]): Promise<Array<{ segmentId: number, documents: Uint8Array }>> {
  if (segmentIds.length === 0) return []
  const rows = rowsOf<{ segment_id: string | number, documents: Uint8Array }>(await tx.execute(sql`
    select segment_id, documents from index_segments where org_id = ${orgId} and segment_id = any(${int8Array(segmentIds)})`))
  return rows.map((row) => ({ segmentId: Number(row.segment_id), documents: new Uint8Array(row.documents.buffer, row.documents.byteOffset, row.documents.byteLength) }))
}

export interface HitRow {
  /** The ordinal's place in the list asked for. */
  rank: number
  documentId: string
  /** The document's age: smaller is older. */
  seq: number
  chunkIndex: number
  text: string
  start: number
  end: number
  filename: string | null
  sourceType: 'text' | 'file' | 'url'
  metadata: Record<string, string>
}

/**
 * The chunks at these ordinals, in the given order: each ordinal's document
 * by one probe of (org_id, first_ordinal), then its chunk by primary key.
 * Ordinals whose document is no longer ready and indexed there come back as nothing.
 */
export async function readHits (tx: Db, orgId: OrgId, ordinals: readonly number[]): Promise<HitRow[]> {
  if (ordinals.length === 0) return []
  const rows = rowsOf<{ rank: string | number, id: string, seq: string | number, chunk_index: number, text: string, start_offset: number, end_offset: number, filename: string | null, source_type: HitRow['sourceType'], metadata: Record<string, string> }>(await tx.execute(sql`
    select o.rank, d.id, d.seq, o.ordinal - d.first_ordinal as chunk_index, c.text, c.start_offset, c.end_offset, d.filename, d.source_type, d.metadata
    from unnest(${int8Array(ordinals)}) with ordinality as o(ordinal, rank)
    cross join lateral (
      select d.id, d.seq, d.first_ordinal, d.chunk_count, d.status, d.filename, d.source_type, d.metadata from documents d
      where d.org_id = ${orgId} and d.first_ordinal <= o.ordinal
      order by d.first_ordinal desc
      limit 1
    ) as d
    cross join lateral (
      select c.text, c.start_offset, c.end_offset from chunks c
      where c.org_id = ${orgId} and c.document_id = d.id and c.chunk_index = o.ordinal - d.first_ordinal
      offset 0
    ) as c
    where d.status = 'ready' and o.ordinal < d.first_ordinal + d.chunk_count
    order by o.rank`))
  return rows.map((row) => ({
    rank: Number(row.rank) - 1,
    documentId: row.id,
    seq: Number(row.seq),
    chunkIndex: Number(row.chunk_index),
    text: row.text,
    start: Number(row.start_offset),
    end: Number(row.end_offset),
    filename: row.filename,
    sourceType: row.source_type,
    metadata: row.metadata
  }))
}

// --- Merges ------------------------------------------------------------------------------------------------------------

export interface SegmentSummary {
  id: number
  level: number
  base: number
  ordinalSpan: number
  chunkCount: number
  /** Chunks of deleted documents whose first ordinal falls in the segment's range (an estimate for the merge policy). */
  deletedChunks: number
}

export async function listSegments (tx: Db, orgId: OrgId): Promise<SegmentSummary[]> {
  const rows = rowsOf<{ segment_id: string | number, level: number, base_ordinal: number, ordinal_span: number, chunk_count: number, deleted_chunks: string | number | null }>(await tx.execute(sql`
    select s.segment_id, s.level, s.base_ordinal, s.ordinal_span, s.chunk_count,
           (select sum(x.chunk_count) from index_deletions x
            where x.org_id = ${orgId} and x.first_ordinal >= s.base_ordinal and x.first_ordinal < s.base_ordinal + s.ordinal_span) as deleted_chunks
    from index_segments s
    where s.org_id = ${orgId} and s.base_ordinal is not null
    order by s.segment_id`))
  return rows.map((row) => ({
    id: Number(row.segment_id),
    level: Number(row.level),
    base: Number(row.base_ordinal),
    ordinalSpan: Number(row.ordinal_span),
    chunkCount: Number(row.chunk_count),
    deletedChunks: Number(row.deleted_chunks ?? 0)
  }))
}

/** Whether this transaction may merge the organisation's segments: one merge at a time per organisation, across every process. */
export async function tryLockMerges (tx: Db, orgId: OrgId): Promise<boolean> {
  const [row] = rowsOf<{ locked: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(hashtextextended('jack.index-merge.' || ${orgId}::text, 0)) as locked`))
  return row?.locked === true
}

/** The deletions among these first ordinals. */
export async function readDeletions (tx: Db, orgId: OrgId, firstOrdinals: readonly number[]): Promise<number[]> {
  if (firstOrdinals.length === 0) return []
  const rows = rowsOf<{ first_ordinal: number }>(await tx.execute(sql`
    select first_ordinal from index_deletions where org_id = ${orgId} and first_ordinal = any(${int8Array(firstOrdinals)})`))
  return rows.map((row) => Number(row.first_ordinal))
}

/** A page of the segments' term rows in lexeme order, after `afterLexeme`, at least `minimumRows` rows and whole lexemes. */
export async function readTermPage (tx: Db, orgId: OrgId, segmentIds: readonly number[], afterLexeme: string | undefined, lexemeLimit: number): Promise<TermRow[]> {
  const rows = rowsOf<{ segment_id: string | number, lexeme: string, postings: Uint8Array }>(await tx.execute(sql`
    with page as (
      select distinct t.lexeme from index_terms t
      where t.org_id = ${orgId} and t.segment_id = any(${int8Array(segmentIds)}) ${afterLexeme === undefined ? sql`` : sql`and t.lexeme > ${afterLexeme}::text collate "C"`}
      order by t.lexeme
      limit ${lexemeLimit}
    )
    select t.segment_id, t.lexeme, t.postings from index_terms t
    where t.org_id = ${orgId} and t.lexeme in (select lexeme from page) and t.segment_id = any(${int8Array(segmentIds)})
    order by t.lexeme, t.segment_id`))
  return rows.map((row) => ({ segmentId: Number(row.segment_id), lexeme: row.lexeme, postings: new Uint8Array(row.postings.buffer, row.postings.byteOffset, row.postings.byteLength) }))
}

/** Sets a merged segment's counts and documents once all its terms are written. */
export async function completeSegment (tx: Db, orgId: OrgId, segmentId: number, segment: Omit<BuiltSegment, 'terms'>): Promise<void> {
  await tx.execute(sql`
    update index_segments set level = ${segment.level}, ordinal_span = ${segment.ordinalSpan}, chunk_count = ${segment.chunkCount},
      document_count = ${segment.documentCount}, documents = ${bytesOf(segment.documents)}
    where org_id = ${orgId} and segment_id = ${segmentId}`)
}

/** Removes merged segments (their terms cascade) and the deletions the merge dropped (their term counts cascade). */
export async function removeMerged (tx: Db, orgId: OrgId, segmentIds: readonly number[], expungedFirstOrdinals: readonly number[]): Promise<void> {
  await tx.execute(sql`delete from index_segments where org_id = ${orgId} and segment_id = any(${int8Array(segmentIds)})`)
  if (expungedFirstOrdinals.length > 0) {
    await tx.execute(sql`delete from index_deletions where org_id = ${orgId} and first_ordinal = any(${int8Array(expungedFirstOrdinals)})`)
  }
}
