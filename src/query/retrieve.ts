// Retrieval for the query endpoints: the request's filters validated, then the organisation's best chunks by BM25.
import type { RetrievedChunk } from '../answer/answer-types.js'
import type { Db } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { searchChunks, type SearchHit } from '../search-index/search-chunks.js'
import { parseFilter } from '../retrieval/filters.js'

export interface RetrievalRequest {
  text: string
  /** The request's `filters`, unvalidated: a FilterError (422) names what is wrong with it. */
  filters: unknown
  topK: number
}

export interface Bm25Parameters {
  k1: number
  b: number
}

/** What a citation names as its source: the filename (or URL), else the document's ID. */
export function sourceOf (hit: Pick<SearchHit, 'filename' | 'documentId'>): string {
  return hit.filename ?? hit.documentId
}

/**
 * The organisation's `topK` best chunks for the text, best first, among ready
 * documents matching the filters. Filters are checked before anything runs,
 * so an invalid one is a 422 even in an organisation without documents.
 */
export async function retrieve (db: Db, orgId: OrgId, request: RetrievalRequest, bm25: Bm25Parameters): Promise<SearchHit[]> {
  const filter = parseFilter(request.filters)
  return await searchChunks(db, orgId, { query: request.text, filter, topK: request.topK, k1: bm25.k1, b: bm25.b })
}

/** A hit as the answerers take it; the score they see is the 0–1 relevance. */
export function toRetrievedChunk (hit: SearchHit): RetrievedChunk {
  return {
    documentId: hit.documentId,
    chunkIndex: hit.chunkIndex,
    text: hit.text,
    start: hit.start,
    end: hit.end,
    score: hit.relevance,
    source: sourceOf(hit),
    metadata: hit.metadata
  }
}
