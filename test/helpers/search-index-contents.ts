// What an organisation's search index holds, decoded from its segments, and an exhaustive BM25 over its chunks: the oracle the index is checked against.
import { sql, type SQL } from 'drizzle-orm'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { Database } from '../../src/db/client.js'
import type { OrgId } from '../../src/org-id.js'
import { contribution, termWeight } from '../../src/retrieval/bm25.js'
import type { Filter } from '../../src/retrieval/filters.js'
import { decodePostings } from '../../src/search-index/posting-codec.js'
import { unpackTerms } from '../../src/search-index/segment-builder.js'
import { queryInOrg } from './org-sql.js'
import { matchesFilter } from './filter-reference.js'

export interface IndexedPosting {
  documentId: string
  chunkIndex: number
  lexeme: string
  tf: number
  chunkLength: number
}

function bytes (value: Uint8Array): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

/**
 * The postings of the organisation's live segments that are not marked
 * deleted, each with its document and chunk (through documents.first_ordinal),
 * and, per lexeme, the df a query would compute (segment lists less deleted
 * chunks). An ordinal that is neither deleted nor any document's is reported
 * with documentId "?".
 */
export async function indexedPostings (database: Database, orgId: OrgId): Promise<{ postings: IndexedPosting[], queryDf: Map<string, number> }> {
  // One snapshot: the worker may merge segments meanwhile.
  return await inOrg(database.db, orgId, async (tx) => {
    const q = async <T>(query: SQL): Promise<T[]> => rowsOf<T>(await tx.execute(query))
    const segments = await q<{ segment_id: number, base_ordinal: number }>(sql`
      select segment_id, base_ordinal from index_segments where org_id = ${orgId}`)
    const base = new Map(segments.map((row) => [Number(row.segment_id), Number(row.base_ordinal)]))
    const terms = await q<{ segment_id: number, lexeme: string, df: number, postings: Uint8Array }>(sql`
      select segment_id, lexeme, df, postings from index_terms where org_id = ${orgId}`)
    const packed = await q<{ segment_id: number, packed: Uint8Array }>(sql`
      select segment_id, packed from index_segments where org_id = ${orgId} and packed is not null`)
    for (const row of packed) {
      if (terms.some((term) => Number(term.segment_id) === Number(row.segment_id))) throw new Error(`segment ${row.segment_id} has both packed terms and term rows`)
      for (const term of unpackTerms(bytes(row.packed))) terms.push({ segment_id: row.segment_id, lexeme: term.lexeme, df: term.df, postings: term.postings })
    }
    const deletions = await q<{ first_ordinal: number, chunk_count: number }>(sql`
      select first_ordinal, chunk_count from index_deletions where org_id = ${orgId}`)
    const deletedTerms = await q<{ lexeme: string, chunks: number | string }>(sql`
      select lexeme, sum(chunks) as chunks from index_deleted_terms where org_id = ${orgId} group by lexeme`)
    const documents = await q<{ id: string, first_ordinal: number, chunk_count: number }>(sql`
      select id, first_ordinal, chunk_count from documents where org_id = ${orgId} and first_ordinal is not null`)
    const owner = new Map<number, [string, number]>()
    for (const document of documents) {
      for (let i = 0; i < Number(document.chunk_count); i++) owner.set(Number(document.first_ordinal) + i, [document.id, i])
    }
    const deleted = new Set<number>()
    for (const deletion of deletions) for (let i = 0; i < Number(deletion.chunk_count); i++) deleted.add(Number(deletion.first_ordinal) + i)
    const queryDf = new Map<string, number>()
    const postings: IndexedPosting[] = []
    for (const term of terms) {
      const list = decodePostings(bytes(term.postings))
      if (list.ordinals.length !== Number(term.df)) throw new Error(`df column ${term.df} but ${list.ordinals.length} postings`)
      queryDf.set(term.lexeme, (queryDf.get(term.lexeme) ?? 0) + list.ordinals.length)
      const segmentBase = base.get(Number(term.segment_id))
      if (segmentBase === undefined) throw new Error(`terms of segment ${term.segment_id}, which does not exist`)
      for (let i = 0; i < list.ordinals.length; i++) {
        const ordinal = segmentBase + (list.ordinals[i] as number)
        if (deleted.has(ordinal)) continue
        const [documentId, chunkIndex] = owner.get(ordinal) ?? ['?', -1]
        postings.push({ documentId, chunkIndex, lexeme: term.lexeme, tf: list.tfs[i] as number, chunkLength: list.lengths[i] as number })
      }
    }
    for (const row of deletedTerms) queryDf.set(row.lexeme, (queryDf.get(row.lexeme) ?? 0) - Number(row.chunks))
    for (const [lexeme, df] of queryDf) if (df === 0) queryDf.delete(lexeme)
    return { postings, queryDf }
  }, { isolationLevel: 'repeatable read', accessMode: 'read only' })
}

/** What the index should hold: every chunk's lexemes as jack_search_vector analyses its text (the chunks of ready documents). */
export async function expectedPostings (database: Database, orgId: OrgId): Promise<IndexedPosting[]> {
  const rows = await queryInOrg<{ document_id: string, chunk_index: number, lexeme: string, tf: number }>(database, orgId, sql`
    select c.document_id, c.chunk_index, t.lexeme, cardinality(t.positions) as tf
    from chunks c cross join lateral unnest(jack_search_vector(c.text)) as t
    where c.org_id = ${orgId}`)
  const lengths = new Map<string, number>()
  for (const row of rows) {
    const key = `${row.document_id}/${row.chunk_index}`
    lengths.set(key, (lengths.get(key) ?? 0) + Number(row.tf))
  }
  return rows.map((row) => ({ documentId: row.document_id, chunkIndex: Number(row.chunk_index), lexeme: row.lexeme, tf: Number(row.tf), chunkLength: lengths.get(`${row.document_id}/${row.chunk_index}`) as number }))
}

export function postingKey (posting: IndexedPosting): string {
  return `${posting.documentId}/${posting.chunkIndex}/${posting.lexeme}/${posting.tf}/${posting.chunkLength}`
}

export interface OracleHit {
  documentId: string
  chunkIndex: number
  score: number
}

/**
 * Exhaustive Okapi BM25 over the organisation's stored chunks, in JavaScript
 * from the database's own text analysis: every chunk of every ready document
 * that passes the filter is scored; N, avgdl and df are those of all its
 * ready documents' chunks. All hits, best first (ties by document and chunk).
 */
export async function exhaustiveSearch (database: Database, orgId: OrgId, query: string, filter: Filter, parameters: { k1: number, b: number } = { k1: 1.2, b: 0.75 }): Promise<OracleHit[]> {
  const lexemes = (await queryInOrg<{ lexeme: string }>(database, orgId, sql`
    select distinct lexeme from unnest(jack_search_query_vector(${query}::text))`)).map((row) => row.lexeme)
  const documents = await queryInOrg<{ id: string, metadata: Record<string, string> }>(database, orgId, sql`
    select id, metadata from documents where org_id = ${orgId} and status = 'ready'`)
  const metadata = new Map(documents.map((document) => [document.id, document.metadata]))
  const postings = await expectedPostings(database, orgId)
  const chunks = await queryInOrg<{ chunks: number | string }>(database, orgId, sql`
    select count(*) as chunks from chunks c join documents d on d.org_id = c.org_id and d.id = c.document_id
    where c.org_id = ${orgId} and d.status = 'ready'`)
  const chunkCount = Number(chunks[0]?.chunks ?? 0)
  const lengths = new Map<string, number>()
  for (const posting of postings) lengths.set(`${posting.documentId}/${posting.chunkIndex}`, posting.chunkLength)
  const totalLength = [...lengths.values()].reduce((sum, length) => sum + length, 0)
  const df = new Map<string, number>()
  for (const posting of postings) df.set(posting.lexeme, (df.get(posting.lexeme) ?? 0) + 1)
  const wanted = new Set(lexemes)
  const scores = new Map<string, OracleHit>()
  // Summed in lexeme order ("C"), as the index sums.
  const ordered = postings.filter((posting) => wanted.has(posting.lexeme) && metadata.has(posting.documentId))
    .sort((a, b) => (a.lexeme < b.lexeme ? -1 : a.lexeme > b.lexeme ? 1 : 0))
  for (const posting of ordered) {
    if (!matchesFilter(metadata.get(posting.documentId) as Record<string, string>, filter)) continue
    const weight = termWeight(chunkCount, totalLength / chunkCount, df.get(posting.lexeme) as number, parameters.k1, parameters.b)
    const key = `${posting.documentId}/${posting.chunkIndex}`
    const hit = scores.get(key) ?? { documentId: posting.documentId, chunkIndex: posting.chunkIndex, score: 0 }
    hit.score += contribution(weight, posting.tf, posting.chunkLength)
    scores.set(key, hit)
  }
  return [...scores.values()].sort((a, b) => b.score - a.score || (a.documentId < b.documentId ? -1 : 1) || a.chunkIndex - b.chunkIndex)
}

/**
 * Whether `actual` (top k of the index) is a correct top k of `oracle` (all
 * hits): as many hits, each a real hit with its exact score (to 1e-9
 * relative), and none left out that scores above the k-th (ties at the k-th
 * score may go either way).
 */
export function sameTopK (oracle: readonly OracleHit[], actual: ReadonlyArray<{ documentId: string, chunkIndex: number, score: number }>, k: number): string | undefined {
  const expected = oracle.slice(0, k)
  if (actual.length !== expected.length) return `${actual.length} hits, expected ${expected.length}`
  const exact = new Map(oracle.map((hit) => [`${hit.documentId}/${hit.chunkIndex}`, hit.score]))
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))
  for (const [index, hit] of actual.entries()) {
    const score = exact.get(`${hit.documentId}/${hit.chunkIndex}`)
    if (score === undefined) return `hit ${index} (${hit.documentId}/${hit.chunkIndex}) is not a match at all`
    if (!close(hit.score, score)) return `hit ${index} scores ${hit.score}, exactly ${score}`
    if (index > 0 && hit.score > (actual[index - 1] as { score: number }).score + 1e-9 * Math.max(1, hit.score)) return `hit ${index} is out of order`
  }
  const kth = expected[expected.length - 1]?.score ?? 0
  const returned = new Set(actual.map((hit) => `${hit.documentId}/${hit.chunkIndex}`))
  for (const hit of expected) {
    if (!returned.has(`${hit.documentId}/${hit.chunkIndex}`) && !close(hit.score, kth)) return `${hit.documentId}/${hit.chunkIndex} (score ${hit.score}, above the k-th ${kth}) is missing`
  }
  return undefined
}
