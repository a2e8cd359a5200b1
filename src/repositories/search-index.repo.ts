// SQL for the search index's segments (src/search-index/): writing a document's segment with its ordinals, marking documents deleted, and the reads of queries and merges.
import { sql, type SQL } from 'drizzle-orm'
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

/** A bytea column as a plain Uint8Array view (postgres.js gives Buffers, PGlite Uint8Arrays). */
function viewOf (value: Uint8Array): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

/** A json column as the driver gives it: parsed already (postgres.js, PGlite) or as text. */
function json<T> (value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

/** Writes term rows of a segment, in the caller's organisation transaction. */
export async function insertSegmentTerms (tx: Db, orgId: OrgId, segmentId: number, terms: readonly SegmentTerm[]): Promise<void> {
  let batch: SegmentTerm[] = []
  let batchBytes = 0
  // Six parameters whatever the batch size: the lists travel as one value and are cut apart by the server.
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const starts: number[] = []
    const lengths: number[] = []
    let at = 1
    for (const term of batch) {
      starts.push(at)
      lengths.push(term.postings.byteLength)
      at += term.postings.byteLength
    }
    const blob = Buffer.concat(batch.map((term) => bytesOf(term.postings)))
    await tx.execute(sql`
      insert into index_terms (org_id, lexeme, segment_id, df, postings)
      select ${orgId}, t.lexeme, ${segmentId}, t.df, substring(${blob}::bytea from t.start::int4 for t.length::int4)
      from unnest(${textArray(batch.map((term) => term.lexeme))}, ${int8Array(batch.map((term) => term.df))}, ${int8Array(starts)}, ${int8Array(lengths)}) as t(lexeme, df, start, length)`)
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
    insert into index_segments (org_id, level, base_ordinal, ordinal_span, chunk_count, document_count, documents, packed)
    values (${orgId}, ${segment.level}, ${baseOrdinal}, ${segment.ordinalSpan}, ${segment.chunkCount}, ${segment.documentCount}, ${bytesOf(segment.documents)},
            ${segment.packed === undefined ? null : bytesOf(segment.packed)})
    returning segment_id`))
  if (row === undefined) throw new Error('the segment insert returned no row')
  const segmentId = Number(row.segment_id)
  await insertSegmentTerms(tx, orgId, segmentId, terms)
  return segmentId
}

interface PostingRow {
  chunk_index: number
  lexeme: string
  tf: number
}

/**
 * A stored document's (chunk, lexeme, tf) rows as the index counts them:
 * jack_indexed_vector, the analysis the statistics triggers use too.
 */
function documentPostings (orgId: OrgId, documentId: string): SQL {
  return sql`
    select c.chunk_index, t.lexeme, cardinality(t.positions) as tf
    from chunks c
    cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
    where c.org_id = ${orgId} and c.document_id = ${documentId}`
}

function postingsOf (rows: readonly PostingRow[]): ChunkPosting[] {
  return rows.map((row) => ({ chunkIndex: Number(row.chunk_index), lexeme: row.lexeme, tf: Number(row.tf) }))
}

export interface StoredChunk {
  index: number
  text: string
  tokenCount: number
  start: number
  end: number
}

/**
 * Inserts a document's chunks (one statement, whatever their number) and
 * returns their postings as the database analyses them — what the triggers
 * count in the statistics and what indexDocument writes — so no second
 * statement reads them back.
 */
export async function insertChunks (db: Db, orgId: OrgId, documentId: string, chunks: readonly StoredChunk[]): Promise<ChunkPosting[]> {
  if (chunks.length === 0) return []
  return await inOrg(db, orgId, async (tx) => postingsOf(rowsOf<PostingRow>(await tx.execute(sql`
    with inserted as (
      insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
      select ${orgId}, ${documentId}, c.chunk_index, c.text, c.token_count, c.start_offset, c.end_offset
      from unnest(${int8Array(chunks.map((chunk) => chunk.index))}, ${textArray(chunks.map((chunk) => chunk.text))}, ${int8Array(chunks.map((chunk) => chunk.tokenCount))},
                  ${int8Array(chunks.map((chunk) => chunk.start))}, ${int8Array(chunks.map((chunk) => chunk.end))})
        as c(chunk_index, text, token_count, start_offset, end_offset)
      returning chunk_index, text, tsv
    )
    select i.chunk_index, t.lexeme, cardinality(t.positions) as tf
    from inserted i
    cross join lateral unnest(jack_indexed_vector(i.text, i.tsv)) as t`))))
}

export interface IndexOptions {
  /** The chunks' postings, when the caller has them already (insertChunks returns them). */
  postings?: ChunkPosting[]
  /** Marks the document ready in the same statement (finishJob). */
  markReady?: { format: string | null }
}

/**
 * Indexes a document whose chunks are stored (the caller holds its row lock,
 * in the transaction that wrote them): its postings as the database analyses
 * them, as a segment of its own, with its chunk ordinals. The ordinals are
 * allocated by the last statement, and finishJob indexes last, so the
 * organisation's counter row is locked only from there to the commit and
 * concurrent ingests in one organisation hardly wait for each other. Returns
 * the first ordinal (null for no chunks).
 */
export async function indexDocument (db: Db, orgId: OrgId, documentId: string, chunkCount: number, metadata: Record<string, string>, options: IndexOptions = {}): Promise<number | null> {
  if (chunkCount === 0) return null
  return await inOrg(db, orgId, async (tx) => {
    const postings = options.postings ?? postingsOf(rowsOf<PostingRow>(await tx.execute(documentPostings(orgId, documentId))))
    const segment = buildDocumentSegment(postings, chunkCount, metadata)
    const allocate = sql`
      insert into org_ordinals (org_id, next_ordinal) values (${orgId}, ${chunkCount})
      on conflict (org_id) do update set next_ordinal = org_ordinals.next_ordinal + excluded.next_ordinal
      returning next_ordinal - ${chunkCount}::int4 as first_ordinal`
    const ready = options.markReady === undefined
      ? sql``
      : sql`, status = 'ready', error_message = null, chunk_count = ${chunkCount}, format = ${options.markReady.format}, updated_at = now()`
    const setFirst = sql`update documents d set first_ordinal = a.first_ordinal ${ready} from allocated a where d.org_id = ${orgId} and d.id = ${documentId} returning d.first_ordinal`
    let allocated: { first_ordinal: number } | undefined
    if (segment.packed !== undefined) {
      // The usual case, one statement: ordinals, the segment with its packed terms, the document's first ordinal.
      [allocated] = rowsOf<{ first_ordinal: number }>(await tx.execute(sql`
        with allocated as (${allocate}), segment as (
          insert into index_segments (org_id, level, base_ordinal, ordinal_span, chunk_count, document_count, documents, packed)
          select ${orgId}, ${segment.level}, a.first_ordinal, ${segment.ordinalSpan}, ${segment.chunkCount}, ${segment.documentCount}, ${bytesOf(segment.documents)}, ${bytesOf(segment.packed)}
          from allocated a
          returning segment_id
        )
        ${setFirst}`))
    } else {
      // Term rows need their segment first; its ordinals come last, to hold the counter's row lock briefly.
      const segmentId = await insertSegment(tx, orgId, segment, null, segment.terms)
      ;[allocated] = rowsOf<{ first_ordinal: number }>(await tx.execute(sql`
        with allocated as (${allocate}), segment as (
          update index_segments s set base_ordinal = a.first_ordinal from allocated a
          where s.org_id = ${orgId} and s.segment_id = ${segmentId}
          returning s.segment_id
        )
        ${setFirst}`))
    }
    if (allocated === undefined) throw new Error('the document to index is gone')
    return Number(allocated.first_ordinal)
  })
}

/**
 * Takes a document out of the index (before it is deleted, or re-indexed with
 * new metadata), in the caller's transaction: its ordinals are marked deleted
 * and its lexemes' chunk counts recorded, so queries skip it and df stays
 * exact until a merge drops its postings. Locks the document row first, so it
 * waits for a finishJob in progress and sees its ordinals. Returns the
 * document's chunk count if it was in the index, else undefined.
 */
export async function unindexDocument (db: Db, orgId: OrgId, documentId: string): Promise<{ chunkCount: number } | undefined> {
  return await inOrg(db, orgId, async (tx) => {
    const [document] = rowsOf<{ first_ordinal: number | null, chunk_count: number }>(await tx.execute(sql`
      select first_ordinal, chunk_count from documents where org_id = ${orgId} and id = ${documentId} for update`))
    if (document?.first_ordinal === null || document === undefined) return undefined
    const first = Number(document.first_ordinal)
    const chunkCount = Number(document.chunk_count)
    await tx.execute(sql`insert into index_deletions (org_id, first_ordinal, chunk_count) values (${orgId}, ${first}, ${chunkCount})`)
    await tx.execute(sql`
      insert into index_deleted_terms (org_id, lexeme, first_ordinal, chunks)
      select ${orgId}, p.lexeme, ${first}::int4, count(*)
      from (${documentPostings(orgId, documentId)}) as p
      group by p.lexeme`)
    await tx.execute(sql`update documents set first_ordinal = null where org_id = ${orgId} and id = ${documentId}`)
    return { chunkCount }
  })
}

// --- Queries -----------------------------------------------------------------------------------------------------------

export interface LiveSegment {
  id: number
  base: number
  /** Its terms are packed in its own row, not in index_terms. */
  packed: boolean
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
           (select coalesce(json_agg(json_build_array(s.segment_id, s.base_ordinal, s.packed is not null) order by s.segment_id), '[]')
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
    segments: json<Array<[number, number, boolean]>>(row.segments).map(([id, base, packed]) => ({ id: Number(id), base: Number(base), packed: packed === true })),
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
  return rows.map((row) => ({ segmentId: Number(row.segment_id), lexeme: row.lexeme, postings: viewOf(row.postings) }))
}

/** The packed terms of these segments (segment-builder.ts). */
export async function readPackedTerms (tx: Db, orgId: OrgId, segmentIds: readonly number[]): Promise<Array<{ segmentId: number, packed: Uint8Array }>> {
  if (segmentIds.length === 0) return []
  const rows = rowsOf<{ segment_id: string | number, packed: Uint8Array | null }>(await tx.execute(sql`
    select segment_id, packed from index_segments where org_id = ${orgId} and segment_id = any(${int8Array(segmentIds)}) and packed is not null`))
  return rows.map((row) => ({ segmentId: Number(row.segment_id), packed: viewOf(row.packed as Uint8Array) }))
}

/** The stored documents of these segments (segment-documents.ts). */
export async function readSegmentDocuments (tx: Db, orgId: OrgId, segmentIds: readonly number[]): Promise<Array<{ segmentId: number, documents: Uint8Array }>> {
  if (segmentIds.length === 0) return []
  const rows = rowsOf<{ segment_id: string | number, documents: Uint8Array }>(await tx.execute(sql`
    select segment_id, documents from index_segments where org_id = ${orgId} and segment_id = any(${int8Array(segmentIds)})`))
  return rows.map((row) => ({ segmentId: Number(row.segment_id), documents: viewOf(row.documents) }))
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
  packed: boolean
  base: number
  ordinalSpan: number
  chunkCount: number
  /** Chunks of deleted documents whose first ordinal falls in the segment's range (an estimate for the merge policy). */
  deletedChunks: number
}

/**
 * The organisation's live segments, if this transaction gets its merge lock
 * (one merge at a time per organisation, across every process); undefined
 * when another transaction holds it. One statement.
 */
export async function lockAndListSegments (tx: Db, orgId: OrgId): Promise<SegmentSummary[] | undefined> {
  const [row] = rowsOf<{ locked: boolean, segments: unknown }>(await tx.execute(sql`
    with lock as (select pg_try_advisory_xact_lock(hashtextextended('jack.index-merge.' || ${orgId}::text, 0)) as locked)
    select l.locked,
           (select coalesce(json_agg(json_build_array(s.segment_id, s.level, s.packed is not null, s.base_ordinal, s.ordinal_span, s.chunk_count,
              (select coalesce(sum(x.chunk_count), 0) from index_deletions x
               where x.org_id = ${orgId} and x.first_ordinal >= s.base_ordinal and x.first_ordinal < s.base_ordinal + s.ordinal_span)) order by s.segment_id), '[]')
            from index_segments s where l.locked and s.org_id = ${orgId} and s.base_ordinal is not null) as segments
    from lock l`))
  if (row?.locked !== true) return undefined
  return json<Array<[number, number, boolean, number, number, number, number]>>(row.segments).map(([id, level, packed, base, ordinalSpan, chunkCount, deletedChunks]) => ({
    id: Number(id), level: Number(level), packed: packed === true, base: Number(base), ordinalSpan: Number(ordinalSpan), chunkCount: Number(chunkCount), deletedChunks: Number(deletedChunks)
  }))
}

export interface SegmentContents {
  segmentId: number
  documents: Uint8Array
  packed: Uint8Array | undefined
}

/** Segments' documents and packed terms, and the first ordinals of the deletions within [low, high). One statement. */
export async function readSegmentsToMerge (tx: Db, orgId: OrgId, segmentIds: readonly number[], low: number, high: number): Promise<{ segments: SegmentContents[], deletedFirsts: number[] }> {
  const rows = rowsOf<{ segment_id: string | number, documents: Uint8Array, packed: Uint8Array | null, deletions: unknown }>(await tx.execute(sql`
    select s.segment_id, s.documents, s.packed,
           (select coalesce(json_agg(x.first_ordinal), '[]') from index_deletions x
            where x.org_id = ${orgId} and x.first_ordinal >= ${low} and x.first_ordinal < ${high}) as deletions
    from index_segments s where s.org_id = ${orgId} and s.segment_id = any(${int8Array(segmentIds)})`))
  return {
    segments: rows.map((row) => ({ segmentId: Number(row.segment_id), documents: viewOf(row.documents), packed: row.packed === null ? undefined : viewOf(row.packed) })),
    deletedFirsts: rows.length === 0 ? [] : json<number[]>(rows[0]?.deletions).map(Number)
  }
}

/**
 * A page of the segments' term rows in lexeme order, after `afterLexeme`:
 * whole lexemes, up to the `lexemeLimit`-th lexeme of `boundSegment` (the
 * largest), so every page is one range of the (org_id, segment_id, lexeme)
 * index per segment and memory stays bounded however large the merge.
 */
export async function readTermPage (tx: Db, orgId: OrgId, segmentIds: readonly number[], boundSegment: number, afterLexeme: string | undefined, lexemeLimit: number): Promise<{ rows: TermRow[], upTo: string | undefined }> {
  const after = afterLexeme === undefined ? sql`` : sql`and t.lexeme > ${afterLexeme}::text collate "C"`
  const [bound] = rowsOf<{ lexeme: string }>(await tx.execute(sql`
    select t.lexeme from index_terms t
    where t.org_id = ${orgId} and t.segment_id = ${boundSegment} ${after}
    order by t.lexeme
    offset ${lexemeLimit - 1} limit 1`))
  const upTo = bound === undefined ? sql`` : sql`and t.lexeme <= ${bound.lexeme}::text collate "C"`
  const rows = rowsOf<{ segment_id: string | number, lexeme: string, postings: Uint8Array }>(await tx.execute(sql`
    select t.segment_id, t.lexeme, t.postings from index_terms t
    where t.org_id = ${orgId} and t.segment_id = any(${int8Array(segmentIds)}) ${after} ${upTo}
    order by t.lexeme, t.segment_id`))
  return {
    rows: rows.map((row) => ({ segmentId: Number(row.segment_id), lexeme: row.lexeme, postings: viewOf(row.postings) })),
    upTo: bound?.lexeme
  }
}

/** Removes merged segments (their terms cascade) and the deletions the merge dropped (their term counts cascade), in one statement. */
export async function removeMerged (tx: Db, orgId: OrgId, segmentIds: readonly number[], expungedFirstOrdinals: readonly number[]): Promise<void> {
  await tx.execute(sql`
    with segments as (delete from index_segments where org_id = ${orgId} and segment_id = any(${int8Array(segmentIds)}))
    delete from index_deletions where org_id = ${orgId} and first_ordinal = any(${int8Array(expungedFirstOrdinals)})`)
}
