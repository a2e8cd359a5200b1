// Lexical retrieval: an organisation's best chunks for a question by Okapi BM25, ranked exactly by block-max WAND over its index segments.
//
// A query, in one read-only REPEATABLE READ transaction (so a merge that
// commits meanwhile cannot take rows from under it):
// 1. one statement: the organisation's statistics, the question's lexemes,
//    its live segments, its deleted-but-unmerged documents and their lexemes'
//    counts (readSearchState);
// 2. the question's posting lists in every segment, from this process's cache
//    or in one statement for all that are missing (segments never change, so
//    a cached list is never stale);
// 3. with a filter, each segment's documents (cached likewise) turned into an
//    allow-list of ordinals, so the filter applies before ranking;
// 4. block-max WAND per segment into one top-k heap;
// 5. the top k chunks by ordinal, with their documents (readHits).
//
// Statistics are the organisation's own, exactly those of exhaustive BM25 over
// its ready documents: N and total length from org_chunk_stats, df the sum of
// the segments' list lengths less the chunks of deleted documents a merge has
// not dropped yet. test/search-index/search-oracle.test.ts compares every
// ranking with an exhaustive scorer on random corpora, deletes and filters.
import type { Db } from '../db/client.js'
import { inOrg } from '../db/org-scope.js'
import type { OrgId } from '../org-id.js'
import { readHits, readPackedTerms, readSearchState, readSegmentDocuments, readTermRows, type SearchState } from '../repositories/search-index.repo.js'
import { BM25_DEFAULTS, checkBm25Parameters, termWeight, type TermWeight } from '../retrieval/bm25.js'
import type { Filter } from '../retrieval/filters.js'
import { blockMaxWand, TermCursor, type Eligibility, type PostingList } from './block-max-wand.js'
import { readSkipTable } from './posting-codec.js'
import { unpackTerms } from './segment-builder.js'
import { SegmentCache } from './segment-cache.js'
import { SegmentDocuments } from './segment-documents.js'
import { TopK, type RankedOrdinal } from './top-k.js'

export interface SearchHit {
  documentId: string
  chunkIndex: number
  text: string
  /** Character offsets of the chunk in the document's extracted text. */
  start: number
  end: number
  /** Raw BM25: unbounded, comparable only within one query of one organisation. */
  score: number
  /**
   * 0–1: the score as a share of the most any chunk could score for this query
   * (every query term with unbounded tf, Σ idf·(k1 + 1)). Unlike the raw score
   * it means the same from query to query: how much of the query's weight the
   * chunk holds, and how densely.
   */
  relevance: number
  filename: string | null
  sourceType: 'text' | 'file' | 'url'
  metadata: Record<string, string>
}

export interface SearchOptions {
  query: string
  filter: Filter
  topK: number
  /** Term-frequency saturation; default 1.2. */
  k1?: number
  /** Length normalisation, 0–1; default 0.75. */
  b?: number
}

/** JACK_INDEX_CACHE_MB's default. */
export const DEFAULT_INDEX_CACHE_BYTES = 512 * 2 ** 20

let cacheLimitBytes = DEFAULT_INDEX_CACHE_BYTES
/** One cache per database handle: tests and benchmarks open several databases in one process, and segment IDs are only unique within one. */
const caches = new WeakMap<Db, SegmentCache>()

/** Sets the byte budget of caches created from now on (the server sets it from JACK_INDEX_CACHE_MB before serving). */
export function setIndexCacheLimit (bytes: number): void {
  cacheLimitBytes = bytes
}

export function indexCacheFor (db: Db): SegmentCache {
  let cache = caches.get(db)
  if (cache === undefined) caches.set(db, cache = new SegmentCache(cacheLimitBytes))
  return cache
}

/** What a cached list costs: its bytes, its skip table, and the entry. */
function listBytes (list: PostingList): number {
  return list.bytes.byteLength + list.skips.blockCount * 16 + 96
}

function isEmptyFilter (filter: Filter): boolean {
  return filter.all.length === 0 && filter.anyOf.length === 0
}

/** A packed segment's lists by lexeme, as cached: all its terms, read at once. */
type PackedLists = Map<string, PostingList>

async function postingLists (tx: Db, orgId: OrgId, state: SearchState, cache: SegmentCache): Promise<Map<number, Map<string, PostingList>>> {
  const lists = new Map<number, Map<string, PostingList>>()
  const missingSegments = new Set<number>()
  const missingLexemes = new Set<string>()
  const missingPacked: number[] = []
  for (const segment of state.segments) {
    if (segment.packed) {
      const packed = cache.get<PackedLists>(`p\u0000${orgId}\u0000${segment.id}`)
      if (packed === undefined) missingPacked.push(segment.id)
      else lists.set(segment.id, packed)
      continue
    }
    const bySegment = new Map<string, PostingList>()
    lists.set(segment.id, bySegment)
    for (const lexeme of state.lexemes) {
      const cached = cache.get<PostingList | null>(`t\u0000${orgId}\u0000${segment.id}\u0000${lexeme}`)
      if (cached === undefined) {
        missingSegments.add(segment.id)
        missingLexemes.add(lexeme)
      } else if (cached !== null) {
        bySegment.set(lexeme, cached)
      }
    }
  }
  for (const row of await readPackedTerms(tx, orgId, missingPacked)) {
    const packed: PackedLists = new Map()
    for (const term of unpackTerms(row.packed)) packed.set(term.lexeme, { bytes: term.postings, skips: readSkipTable(term.postings) })
    lists.set(row.segmentId, packed)
    // Skip tables and map entries on top of the bytes.
    cache.set(`p\u0000${orgId}\u0000${row.segmentId}`, packed, 96 + row.packed.byteLength * 2 + packed.size * 160)
  }
  if (missingSegments.size === 0) return lists
  const found = new Set<string>()
  for (const row of await readTermRows(tx, orgId, [...missingLexemes], [...missingSegments])) {
    const list: PostingList = { bytes: row.postings, skips: readSkipTable(row.postings) }
    const key = `t\u0000${orgId}\u0000${row.segmentId}\u0000${row.lexeme}`
    found.add(key)
    lists.get(row.segmentId)?.set(row.lexeme, list)
    cache.set(key, list, listBytes(list))
  }
  // A lexeme a segment does not hold is remembered too, so the next query does not ask again.
  for (const segmentId of missingSegments) {
    for (const lexeme of missingLexemes) {
      const key = `t\u0000${orgId}\u0000${segmentId}\u0000${lexeme}`
      if (!found.has(key)) cache.set(key, null, 64 + lexeme.length)
    }
  }
  return lists
}

async function allowList (tx: Db, orgId: OrgId, state: SearchState, filter: Filter, cache: SegmentCache): Promise<Uint8Array> {
  const documents = new Map<number, SegmentDocuments>()
  const missing: number[] = []
  for (const segment of state.segments) {
    const cached = cache.get<SegmentDocuments>(`d\u0000${orgId}\u0000${segment.id}`)
    if (cached === undefined) missing.push(segment.id)
    else documents.set(segment.id, cached)
  }
  for (const row of await readSegmentDocuments(tx, orgId, missing)) {
    const decoded = SegmentDocuments.decode(row.documents)
    documents.set(row.segmentId, decoded)
    cache.set(`d\u0000${orgId}\u0000${row.segmentId}`, decoded, decoded.bytes)
  }
  const allowed = new Uint8Array(state.ordinalEnd)
  for (const segment of state.segments) {
    const segmentDocuments = documents.get(segment.id)
    if (segmentDocuments === undefined) throw new Error(`segment ${segment.id} has no documents row`)
    const selected = segmentDocuments.select(filter)
    for (let i = 0; i < segmentDocuments.count; i++) {
      if (selected[i] !== 1) continue
      const first = segment.base + (segmentDocuments.firsts[i] as number)
      allowed.fill(1, first, first + (segmentDocuments.chunkCounts[i] as number))
    }
  }
  return allowed
}

function deletedMap (state: SearchState): Uint8Array | undefined {
  if (state.deletions.length === 0) return undefined
  const deleted = new Uint8Array(state.ordinalEnd)
  for (const [first, count] of state.deletions) deleted.fill(1, first, first + count)
  return deleted
}

/** Rounds of ranking when ranked chunks turn out not to be returnable (see searchChunks). */
const MAX_RANK_ROUNDS = 4

function rank (state: SearchState, lists: Map<number, Map<string, PostingList>>, weights: Map<string, TermWeight>, eligibility: Eligibility, topK: number): RankedOrdinal[] {
  const top = new TopK(topK)
  for (const segment of state.segments) {
    const bySegment = lists.get(segment.id)
    if (bySegment === undefined) continue
    const cursors: TermCursor[] = []
    // In lexeme order, so a chunk's score is the same sum in every segment.
    for (const lexeme of state.lexemes) {
      const list = bySegment.get(lexeme)
      const weight = weights.get(lexeme)
      if (list !== undefined && weight !== undefined) cursors.push(new TermCursor(list, segment.base, weight))
    }
    if (cursors.length > 0) blockMaxWand(cursors, top, eligibility)
  }
  return top.ranked()
}

/**
 * The organisation's `topK` best chunks for `query` by BM25, best first, equal
 * scores in the order their documents were ingested. Only chunks of
 * ready documents that match `filter` are ranked, so `topK` hits come back
 * whenever that many matching chunks contain a query term.
 *
 * score(chunk) = Σ over query terms t in the chunk of
 *   idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · length / avgdl)),
 *   idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))   (Lucene's, never negative)
 * with the statistics of this organisation alone — N its chunks, avgdl their
 * mean length, df(t) its chunks containing t — so neither ranking nor scores
 * depend on (or reveal anything about) other tenants' documents. Terms are
 * the lexemes of jack_search_query_vector(query), each counted once: the
 * chunks' analysis (to_tsvector('english', …): stemming, stop words), with
 * each run of CJK letters as its overlapping bigrams
 * (drizzle/0008_search_cjk_bigrams.sql).
 */
export async function searchChunks (db: Db, orgId: OrgId, options: SearchOptions): Promise<SearchHit[]> {
  const k1 = options.k1 ?? BM25_DEFAULTS.k1
  const b = options.b ?? BM25_DEFAULTS.b
  checkBm25Parameters(k1, b)
  if (!Number.isInteger(options.topK) || options.topK < 1) throw new RangeError(`topK must be a positive whole number, got ${options.topK}`)
  const cache = indexCacheFor(db)
  return await inOrg(db, orgId, async (tx) => {
    const state = await readSearchState(tx, orgId, options.query)
    if (state.chunkCount === 0 || state.lexemes.length === 0 || state.segments.length === 0) return []
    const lists = await postingLists(tx, orgId, state, cache)
    // The question's lexemes only: a packed segment's cached map holds all of its lexemes.
    const df = new Map<string, number>()
    for (const bySegment of lists.values()) {
      for (const lexeme of state.lexemes) {
        const list = bySegment.get(lexeme)
        if (list !== undefined) df.set(lexeme, (df.get(lexeme) ?? 0) + list.skips.df)
      }
    }
    const averageLength = state.totalLength / state.chunkCount
    const weights = new Map<string, TermWeight>()
    let maxScore = 0
    for (const lexeme of state.lexemes) {
      const count = (df.get(lexeme) ?? 0) - (state.deletedChunks.get(lexeme) ?? 0)
      if (count <= 0) continue
      const weight = termWeight(state.chunkCount, averageLength, count, k1, b)
      weights.set(lexeme, weight)
      maxScore += weight.weight
    }
    if (weights.size === 0) return []
    const allowed = isEmptyFilter(options.filter) ? undefined : await allowList(tx, orgId, state, options.filter, cache)
    let deleted = deletedMap(state)
    for (let round = 1; ; round++) {
      const ranked = rank(state, lists, weights, { allowed, deleted }, options.topK)
      const rows = await readHits(tx, orgId, ranked.map((hit) => hit.ordinal))
      // Every ranked chunk is a ready document's, unless a document's status was changed behind the index's back:
      // then rank again without those chunks, so topK still comes back (a few rounds at most).
      if (rows.length < ranked.length && round < MAX_RANK_ROUNDS) {
        const found = new Set(rows.map((row) => row.rank))
        deleted ??= new Uint8Array(state.ordinalEnd)
        for (const [index, hit] of ranked.entries()) if (!found.has(index)) deleted[hit.ordinal] = 1
        continue
      }
      const hits = rows.map((row) => {
        const score = (ranked[row.rank] as { score: number }).score
        return {
          seq: row.seq,
          hit: {
            documentId: row.documentId,
            chunkIndex: row.chunkIndex,
            text: row.text,
            start: row.start,
            end: row.end,
            score,
            relevance: maxScore > 0 ? Math.min(1, score / maxScore) : 0,
            filename: row.filename,
            sourceType: row.sourceType,
            metadata: row.metadata
          }
        }
      })
      // Equal scores in the order the documents were ingested. (Which of several chunks tied at the k-th score
      // make the cut goes by the order they were indexed in.)
      return hits.sort((a, b) => b.hit.score - a.hit.score || a.seq - b.seq || a.hit.chunkIndex - b.hit.chunkIndex).map((entry) => entry.hit)
    }
  }, { isolationLevel: 'repeatable read', accessMode: 'read only' })
}
