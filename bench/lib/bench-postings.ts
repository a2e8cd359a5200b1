// jack's lexical index as it was before issue #11, kept by benchmarks to compare with: a bench-owned copy of the dropped postings table (one row per lexeme and chunk) filled from the chunks, and the exhaustive SQL scorer that read it.
//
// The table is the old `postings` (drizzle/0002, 0003, 0008): the same
// columns, primary key (org_id, lexeme, document_id, chunk_index) INCLUDE (tf,
// chunk_length), lexemes collated "C", under jack's row-level security. Its
// rows are what the old chunk triggers wrote, from jack_indexed_vector(text,
// tsv): tf = the lexeme's positions in the chunk, chunk_length = Σ tf of the
// chunk. No trigger keeps it: a benchmark fills it once from the stored chunks
// and writes or deletes a document's rows itself (addDocumentPostings once its
// chunks are stored, deleteDocumentPostings before deleteDocument removes them).
//
// searchExhaustiveSql is jack's searchChunks before issue #11
// (src/repositories/search.repo.ts as of a53f387, the last commit before
// 0009), verbatim but for the table it reads and the types it shares.
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { textArray } from '../../src/db/array-parameters.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import { documents } from '../../src/db/schema.js'
import type { OrgId } from '../../src/org-id.js'
import { BM25_DEFAULTS, checkBm25Parameters } from '../../src/retrieval/bm25.js'
import { filterToSql } from '../../src/retrieval/filters.js'
import type { SearchHit, SearchOptions } from '../../src/search-index/search-chunks.js'
import { protectTable, type OwnerStatements } from './tenant-table.js'

export const BENCH_POSTINGS = 'bench_postings'

export async function benchPostingsExist (owner: OwnerStatements): Promise<boolean> {
  const [row] = rowsOf<{ present: boolean }>(await owner.execute(sql`select to_regclass(${BENCH_POSTINGS}) is not null as present`))
  return row?.present === true
}

/**
 * Creates bench_postings and fills it with the organisation's chunks in one
 * statement as the owner (a build job's, not a request's); the primary key is
 * built after the rows, as a bulk load would. Returns the rows and seconds.
 */
export async function buildBenchPostings (owner: OwnerStatements, orgId: OrgId): Promise<{ rows: number, seconds: number }> {
  const started = performance.now()
  await owner.execute(sql.raw(`create table ${BENCH_POSTINGS} (
    org_id uuid not null, lexeme text collate "C" not null, document_id uuid not null, chunk_index integer not null,
    tf integer not null, chunk_length integer not null)`))
  await protectTable(owner, BENCH_POSTINGS)
  await owner.execute(sql`
    insert into bench_postings (org_id, lexeme, document_id, chunk_index, tf, chunk_length)
    select c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), l.chunk_length
    from chunks c
    cross join lateral (select jack_indexed_vector(c.text, c.tsv) as vector offset 0) as v
    cross join lateral (select coalesce(sum(cardinality(u.positions)), 0) as chunk_length from unnest(v.vector) as u) as l
    cross join lateral unnest(v.vector) as t
    where c.org_id = ${orgId}`)
  await owner.execute(sql.raw(`alter table ${BENCH_POSTINGS} add constraint ${BENCH_POSTINGS}_pk primary key (org_id, lexeme, document_id, chunk_index) include (tf, chunk_length)`))
  const [row] = rowsOf<{ rows: string | number }>(await owner.execute(sql`select count(*) as rows from bench_postings where org_id = ${orgId}`))
  return { rows: Number(row?.rows ?? 0), seconds: (performance.now() - started) / 1000 }
}

/**
 * A document's rows, as the old insert trigger wrote them in finishJob's
 * transaction (vectors and lengths once per chunk, then one row per lexeme),
 * here in a transaction of its own after it.
 */
export async function addDocumentPostings (db: Db, orgId: OrgId, documentId: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    await tx.execute(sql`
      with chunk_vectors as materialized (
        select c.org_id, c.document_id, c.chunk_index, jack_indexed_vector(c.text, c.tsv) as vector
        from chunks c where c.org_id = ${orgId} and c.document_id = ${documentId}
      ), chunk_lengths as materialized (
        select v.org_id, v.document_id, v.chunk_index, v.vector,
               (select coalesce(sum(cardinality(t.positions)), 0) from unnest(v.vector) as t) as chunk_length
        from chunk_vectors v
      )
      insert into bench_postings (org_id, lexeme, document_id, chunk_index, tf, chunk_length)
      select c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), c.chunk_length
      from chunk_lengths c
      cross join lateral unnest(c.vector) as t`)
  })
}

/**
 * Deletes a document's rows as the old delete trigger did: one statement per
 * chunk, probing the primary key with the chunk's own lexemes. Call it before
 * the chunks go (deleteDocument).
 */
export async function deleteDocumentPostings (db: Db, orgId: OrgId, documentId: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    const chunks = rowsOf<{ chunk_index: number, lexemes: string[] | string }>(await tx.execute(sql`
      select c.chunk_index, array(select t.lexeme from unnest(jack_indexed_vector(c.text, c.tsv)) as t) as lexemes
      from chunks c where c.org_id = ${orgId} and c.document_id = ${documentId}`))
    for (const chunk of chunks) {
      const lexemes = Array.isArray(chunk.lexemes) ? chunk.lexemes : parseTextArray(chunk.lexemes)
      await tx.execute(sql`
        delete from bench_postings p
        where p.org_id = ${orgId} and p.lexeme = any(${textArray(lexemes)}) and p.document_id = ${documentId} and p.chunk_index = ${Number(chunk.chunk_index)}`)
    }
  })
}

/** A text[] as '{…}' (a driver that does not parse arrays). */
function parseTextArray (value: string): string[] {
  if (value === '{}') return []
  return value.slice(1, -1).split(',').map((item) => item.startsWith('"') ? JSON.parse(item) as string : item)
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
 * jack's searchChunks before issue #11 over bench_postings: exhaustive BM25
 * in one SQL statement, every posting of every query term read (df counted in
 * the index, then scored), candidates checked against their documents best
 * first. Same statistics, same terms, same ordering (score, then the older
 * document, then the lower chunk index) as it had.
 */
export async function searchExhaustiveSql (db: Db, orgId: OrgId, options: SearchOptions): Promise<SearchHit[]> {
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
      cross join lateral (select count(*) as df from bench_postings p where p.org_id = ${orgId} and p.lexeme = q.lexeme) as f
      where f.df > 0
    ),
    scores as materialized (
      select p.document_id, p.chunk_index, sum(w.weight * p.tf / (p.tf + w.norm_base + w.norm_per_length * p.chunk_length)) as score
      from term_weights w
      join bench_postings p on p.org_id = ${orgId} and p.lexeme = w.lexeme
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
