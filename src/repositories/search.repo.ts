// SQL for lexical retrieval: Okapi BM25 over an organisation's chunks, computed in PostgreSQL from the postings index.
//
// Design (measured with bench/search-sql.ts and ad-hoc runs on this 2-core machine):
// - postings (org_id, lexeme, document_id, chunk_index, tf, chunk_length) and
//   org_chunk_stats (N, total length) are kept by triggers on chunks
//   (drizzle/0003_search_index_maintenance.sql), so they change in the very
//   transaction that writes or deletes chunks and are never pooled across orgs.
// - df is counted at query time in the postings index, not maintained. A
//   maintained org_term_stats(org_id, lexeme, df) was measured against it.
//   Query p50, df counted vs df stored: 22k chunks 14–16 vs 13–14 ms on
//   PostgreSQL 15 and 23–28 vs 19–21 ms on PGlite; 89k chunks 77–81 vs
//   63–73 ms on PostgreSQL. Ingest, one finishJob-like transaction per
//   document: PGlite 558 chunks/s without any index, 370 with postings and
//   statistics, 268 with df maintained too; PostgreSQL with 4 concurrent
//   writers in one organisation 756–902, 476–770 and 292 — every ingest
//   upserts ~100 df rows that all the others need too, so a maintained df
//   serialises an organisation's ingest. 10–20% of query time is not worth
//   that. (Splitting org_chunk_stats over 16 rows matters for the same
//   reason: one row per organisation gave 255–279 chunks/s there.)
// - Chinese, Japanese and Korean are indexed as overlapping character bigrams
//   (and, in chunks only, unigrams), English text exactly as before: see
//   drizzle/0008_search_cjk_bigrams.sql.
// - Query terms are counted once. Weighting them by their frequency in the
//   query changed SciFact nDCG@10 by +0.002 (0.691 → 0.693): not worth a rule.
// - Cost is linear in the postings of the query's terms (Σ df): this is
//   exhaustive BM25, with no WAND-style skipping. SciFact (5.5k chunks) ~5 ms,
//   22k chunks ~15 ms, 89k chunks ~80 ms p50 on PostgreSQL.
// - PGlite has no autovacuum: until postings is VACUUMed, index-only scans
//   still visit the heap for visibility, which about doubles query time
//   there (bench: "as ingested" vs "after VACUUM ANALYZE"). PostgreSQL's
//   autovacuum does this by itself.
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { rowsOf } from '../db/rows.js'
import { inOrg } from '../db/org-scope.js'
import { documents } from '../db/schema.js'
import type { OrgId } from '../org-id.js'
import { filterToSql, type Filter } from '../retrieval/filters.js'
import { BM25_DEFAULTS, checkBm25Parameters } from '../retrieval/bm25.js'

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

interface HitRow {
  document_id: string
  chunk_index: number
  score: number
  filename: string | null
  source_type: SearchHit['sourceType']
  metadata: Record<string, string>
  text: string
  start_offset: number
  end_offset: number
  max_score: number
}

/**
 * The organisation's `topK` best chunks for `query` by BM25, best first; ties
 * go to the older document (lower seq), then the lower chunk index. Only
 * chunks of ready documents that match `filter` are ranked: the filter is in
 * the WHERE clause under the ORDER BY … LIMIT, so `topK` hits come back
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
  const { topK } = options
  const k1Sql = sql`${k1}::float8`
  const bSql = sql`${b}::float8`
  // Every CTE is MATERIALIZED, and every lookup by key is a LATERAL … OFFSET 0
  // probe, so each step keeps one plan shape whatever the statistics (PGlite
  // never analyses on its own, and an unanalysed documents table led the
  // planner to probe it through the (org_id, status) index, reading every
  // document of the organisation for each candidate). Inlined, PostgreSQL 17
  // planned term weights and postings as one join and merge-joined the whole
  // postings table: 439 ms a query instead of ~4.
  const result = await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    with corpus as materialized (
      select sum(chunk_count)::float8 as chunk_count,
             sum(total_length)::float8 / nullif(sum(chunk_count), 0)::float8 as average_length
      from org_chunk_stats
      where org_id = ${orgId}
    ),
    -- Per query lexeme present in the organisation: idf·(k1 + 1) and the two
    -- terms of tf's normaliser k1·(1 − b + b·length/avgdl). df is counted in the
    -- postings index (index-only, one range per lexeme) rather than stored.
    term_weights as materialized (
      select q.lexeme,
             ln(1 + (c.chunk_count - f.df + 0.5) / (f.df + 0.5)) * (${k1Sql} + 1) as weight,
             ${k1Sql} * (1 - ${bSql}) as norm_base,
             ${k1Sql} * ${bSql} / c.average_length as norm_per_length
      from (select lexeme collate "C" as lexeme from unnest(jack_search_query_vector(${options.query}::text))) as q
      cross join corpus c
      cross join lateral (select count(*) as df from postings p where p.org_id = ${orgId} and p.lexeme = q.lexeme) as f
      where f.df > 0
    ),
    scores as materialized (
      select p.document_id, p.chunk_index, sum(w.weight * p.tf / (p.tf + w.norm_base + w.norm_per_length * p.chunk_length)) as score
      from term_weights w
      join postings p on p.org_id = ${orgId} and p.lexeme = w.lexeme
      group by p.document_id, p.chunk_index
    ),
    -- Candidates best first, each checked against its document with one
    -- primary-key probe (OFFSET 0 keeps it a probe whatever the statistics,
    -- instead of a hash of every document of the organisation, or a walk of
    -- the wrong index); the incremental sort under LIMIT stops probing once
    -- topK have passed and the last score's ties are in.
    ranked as materialized (
      select s.document_id, s.chunk_index, s.score, d.seq, d.filename, d.source_type, d.metadata
      from (select document_id, chunk_index, score from scores order by score desc offset 0) as s
      cross join lateral (
        select d.seq, d.status, d.filename, d.source_type, d.metadata from ${documents} d
        where d.org_id = ${orgId} and d.id = s.document_id
        offset 0
      ) as d
      where d.status = 'ready' and ${filterToSql(options.filter, sql`d.metadata`)}
      order by s.score desc, d.seq, s.chunk_index
      limit ${topK}
    )
    select r.document_id, r.chunk_index, r.score, r.filename, r.source_type, r.metadata, c.text, c.start_offset, c.end_offset,
           (select sum(w.weight) from term_weights w) as max_score
    from ranked r
    cross join lateral (
      select c.text, c.start_offset, c.end_offset from chunks c
      where c.org_id = ${orgId} and c.document_id = r.document_id and c.chunk_index = r.chunk_index
      offset 0
    ) as c
    order by r.score desc, r.seq, r.chunk_index`))
  return rowsOf<HitRow>(result).map((row) => ({
    documentId: row.document_id,
    chunkIndex: Number(row.chunk_index),
    text: row.text,
    start: Number(row.start_offset),
    end: Number(row.end_offset),
    score: Number(row.score),
    relevance: Number(row.max_score) > 0 ? Math.min(1, Number(row.score) / Number(row.max_score)) : 0,
    filename: row.filename,
    sourceType: row.source_type,
    metadata: row.metadata
  }))
}
