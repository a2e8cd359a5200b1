// bench/index-designs: design B — pruning inside PostgreSQL: postings keyed by chunk ordinal with a second, impact-ordered index, and one SQL statement that reads only each query term's top-N postings by impact, proves that no unread chunk can reach the k-th score, and completes the few candidates by primary-key probes; a larger N, then the exhaustive sum, when the proof fails.
import { performance } from 'node:perf_hooks'
import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'
import { BM25_DEFAULTS } from '../../src/retrieval/bm25.js'
import { filterToSql, type Filter } from '../../src/retrieval/filters.js'
import { ORDINALS_TABLE, protectTable, textArrayLiteral, type Owner } from './corpus.js'
import { fetchChunks, type ChunkHit } from './ordinal-lookups.js'

export const PREFIX_TABLES = ['bench_b_postings', 'bench_b_terms', 'bench_b_sealed'] as const

const { k1: K1, b: B } = BM25_DEFAULTS
/** A tsvector keeps at most 256 positions per lexeme (drizzle/0003_search_index_maintenance.sql): no tf is larger. */
const MAX_TF = 256

/**
 * A posting's impact: its tf saturation tf / (tf + k1 (1 − b + b · length /
 * avgdl₀)) with a reference avgdl₀ fixed for the organisation, so the order
 * never changes as chunks come and go; the query's own contribution is idf ·
 * (k1 + 1) times the same expression with today's avgdl, bounded from the
 * impact as `impactBound` shows.
 */
function impactSql (tf: SQL, length: SQL, referenceLength: SQL): SQL {
  return sql`(${tf}::float8 / (${tf} + ${K1}::float8 * (1 - ${B}::float8) + ${K1}::float8 * ${B}::float8 * ${length} / ${referenceLength}))::real`
}

/**
 * Builds design B from bench_postings (the old layout; the owner's statements): the postings
 * again, keyed by (lexeme, ordinal) for probes and by (lexeme, impact) for the
 * prefixes; df per lexeme as of the build ("sealed"); postings from
 * `sealed_until` on are counted into df at query time until the next seal.
 */
export async function buildPrefixIndex (owner: Owner, orgId: OrgId, ordinalCount: number, referenceLength: number): Promise<{ seconds: number }> {
  const started = performance.now()
  await owner.execute(sql.raw(`create table bench_b_postings (
    org_id uuid not null, lexeme text collate "C" not null, ordinal integer not null, tf smallint not null, chunk_length smallint not null, impact real not null)`))
  await owner.execute(sql.raw(`create table bench_b_terms (
    org_id uuid not null, lexeme text collate "C" not null, df integer not null, primary key (org_id, lexeme))`))
  await owner.execute(sql.raw('create table bench_b_sealed (org_id uuid primary key, sealed_until integer not null, reference_length float8 not null)'))
  await owner.execute(sql`insert into bench_b_sealed (org_id, sealed_until, reference_length) values (${orgId}, ${ordinalCount}, ${referenceLength})`)
  await owner.execute(sql`
    insert into bench_b_postings (org_id, lexeme, ordinal, tf, chunk_length, impact)
    select p.org_id, p.lexeme, m.first_ordinal + p.chunk_index, p.tf, p.chunk_length, ${impactSql(sql`p.tf`, sql`p.chunk_length`, sql`${referenceLength}::float8`)}
    from bench_postings p join ${sql.raw(ORDINALS_TABLE)} m on m.org_id = p.org_id and m.document_id = p.document_id
    where p.org_id = ${orgId}`)
  await owner.execute(sql.raw('alter table bench_b_postings add primary key (org_id, lexeme, ordinal) include (tf, chunk_length)'))
  await owner.execute(sql.raw('create index bench_b_postings_impact_idx on bench_b_postings (org_id, lexeme, impact desc) include (ordinal, tf, chunk_length)'))
  await owner.execute(sql`insert into bench_b_terms (org_id, lexeme, df) select org_id, lexeme, count(*) from bench_b_postings where org_id = ${orgId} group by 1, 2`)
  for (const table of PREFIX_TABLES) await protectTable(owner, table)
  for (const table of PREFIX_TABLES) await owner.execute(sql.raw(`vacuum analyze ${table}`))
  return { seconds: (performance.now() - started) / 1000 }
}

/**
 * A fresh batch's postings (what an ingest trigger would write instead of
 * the old postings rows: from the chunks' jack_indexed_vector, as the old
 * trigger did), one row and two index entries each.
 */
export async function addPostings (db: Db, orgId: OrgId, firstOrdinal: number): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    await tx.execute(sql`
      insert into bench_b_postings (org_id, lexeme, ordinal, tf, chunk_length, impact)
      select m.org_id, t.lexeme, m.first_ordinal + c.chunk_index, cardinality(t.positions), l.chunk_length,
             ${impactSql(sql`cardinality(t.positions)`, sql`l.chunk_length`, sql`s.reference_length`)}
      from ${sql.raw(ORDINALS_TABLE)} m
      join chunks c on c.org_id = m.org_id and c.document_id = m.document_id
      cross join lateral (select coalesce(sum(cardinality(u.positions)), 0) as chunk_length from unnest(jack_indexed_vector(c.text, c.tsv)) as u) as l
      cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
      cross join bench_b_sealed s
      where m.org_id = ${orgId} and s.org_id = ${orgId} and m.first_ordinal >= ${firstOrdinal}`)
  })
}

/** Folds the unsealed postings' counts into the stored df (a background job's statement: ingests never update a shared df row). */
export async function sealPostings (db: Db, orgId: OrgId, until: number): Promise<number> {
  return await inOrg(db, orgId, async (tx) => {
    const [sealed] = rowsOf<{ sealed_until: number }>(await tx.execute(sql`select sealed_until from bench_b_sealed where org_id = ${orgId} for update`))
    const from = Number(sealed?.sealed_until ?? 0)
    if (until <= from) return 0
    const rows = rowsOf<{ lexemes: string | number }>(await tx.execute(sql`
      with counted as (
        select lexeme, count(*) as df from bench_b_postings where org_id = ${orgId} and ordinal >= ${from} and ordinal < ${until} group by lexeme
      ), upserted as (
        insert into bench_b_terms (org_id, lexeme, df) select ${orgId}, lexeme, df from counted
        on conflict (org_id, lexeme) do update set df = bench_b_terms.df + excluded.df
        returning 1
      )
      select count(*) as lexemes from upserted`))
    await tx.execute(sql`update bench_b_sealed set sealed_until = ${until} where org_id = ${orgId}`)
    return Number(rows[0]?.lexemes ?? 0)
  })
}

/**
 * A deleted chunk's postings go at once (probing the key with the chunk's own
 * lexemes, as the old delete trigger did), and a sealed chunk's lexemes lose
 * one from their df, so df stays that of the live chunks.
 */
export async function deletePostings (db: Db, orgId: OrgId, chunks: ReadonlyArray<{ ordinal: number, lexemes: readonly string[] }>): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    const [sealed] = rowsOf<{ sealed_until: number }>(await tx.execute(sql`select sealed_until from bench_b_sealed where org_id = ${orgId}`))
    for (const chunk of chunks) {
      const lexemes = textArrayLiteral(chunk.lexemes)
      await tx.execute(sql`delete from bench_b_postings where org_id = ${orgId} and lexeme = any(${lexemes}::text[]) and ordinal = ${chunk.ordinal}`)
      if (sealed !== undefined && chunk.ordinal < Number(sealed.sealed_until)) {
        await tx.execute(sql`update bench_b_terms set df = df - 1 where org_id = ${orgId} and lexeme = any(${lexemes}::text[])`)
      }
    }
  })
}

export interface PrefixOutcome {
  hits: ChunkHit[]
  /** Prefix sizes tried; the last certified, or 0 when the exhaustive sum answered. */
  attempts: number[]
  prefixRows: number
  candidates: number
  probes: number
  /** Postings read by the exhaustive fallback (0 when a prefix answered). */
  fallbackPostings: number
  rankMs: number
  chunksMs: number
}

interface AttemptRow {
  ordinal: number | null
  score: number | null
  certified: boolean | null
  prefix_rows: string | number | null
  candidates: string | number | null
  probes: string | number | null
}

/** The CTEs both statements share: statistics, the query's lexemes, df (stored + unsealed), term weights, and with a filter the allowed ordinals. */
function commonCtes (orgId: OrgId, query: string, filter: Filter | undefined): { ctes: SQL, allowed: (ordinal: SQL) => SQL } {
  const filtered = filter !== undefined && (filter.all.length > 0 || filter.anyOf.length > 0)
  const allowedCte = filtered
    ? sql`allowed as materialized (
        select generate_series(m.first_ordinal, m.first_ordinal + m.chunk_count - 1) as ordinal
        from documents d join ${sql.raw(ORDINALS_TABLE)} m on m.org_id = d.org_id and m.document_id = d.id
        where d.org_id = ${orgId} and d.status = 'ready' and ${filterToSql(filter, sql`d.metadata`)}
      ),`
    : sql``
  const ctes = sql`
    corpus as materialized (
      select sum(chunk_count)::float8 as chunk_count,
             sum(total_length)::float8 / nullif(sum(chunk_count), 0)::float8 as average_length
      from org_chunk_stats where org_id = ${orgId}
    ),
    sealed as materialized (select sealed_until, reference_length from bench_b_sealed where org_id = ${orgId}),
    q as materialized (select lexeme collate "C" as lexeme from unnest(jack_search_query_vector(${query}::text))),
    ${allowedCte}
    terms as materialized (
      select q.lexeme, coalesce(t.df, 0) + f.df as df
      from q cross join sealed s
      left join lateral (select t.df from bench_b_terms t where t.org_id = ${orgId} and t.lexeme = q.lexeme offset 0) as t on true
      cross join lateral (
        select count(*) as df from bench_b_postings p where p.org_id = ${orgId} and p.lexeme = q.lexeme and p.ordinal >= s.sealed_until offset 0
      ) as f
    ),
    weights as materialized (
      select t.lexeme,
             ln(1 + (c.chunk_count - t.df + 0.5) / (t.df + 0.5)) * (${K1}::float8 + 1) as weight,
             ${K1}::float8 * (1 - ${B}::float8) as norm_base,
             ${K1}::float8 * ${B}::float8 / c.average_length as norm_per_length,
             s.reference_length / c.average_length as rho
      from terms t cross join corpus c cross join sealed s
      where t.df > 0
    ),`
  return { ctes, allowed: (ordinal) => filtered ? sql`and ${ordinal} in (select ordinal from allowed)` : sql`` }
}

/**
 * One attempt with prefixes of `size`, in one statement:
 * - prefix: each term's `size` highest-impact postings (of allowed chunks,
 *   with a filter), scored exactly;
 * - bound: what any posting of the term outside its prefix can contribute
 *   today — weight · the impact of the prefix's last posting, raised for
 *   avgdl drift (impactBound) — 0 when the prefix holds the whole list;
 * - threshold: the k-th best partial score, a lower bound of the true k-th;
 * - certified when Σ bounds ≤ threshold: a chunk in no prefix cannot beat it;
 * - seeds: the 4k chunks with the best upper bounds completed first by
 *   probing (lexeme, ordinal) for their unseen terms; their k-th exact score
 *   raises the threshold;
 * - candidates: the other chunks whose partial score + the bounds of their
 *   unseen terms still reach it, completed the same way; the top k of seeds
 *   and candidates is then exact.
 */
/** A candidate's exact score: its partial score plus, for each term with a tail it was not seen in, a probe of (lexeme, ordinal). */
function completion (orgId: OrgId, candidate: SQL): SQL {
  return sql`${candidate}.score + coalesce((
    select sum(w.weight * x.tf / (x.tf + w.norm_base + w.norm_per_length * x.chunk_length))
    from bounds b join weights w on w.lexeme = b.lexeme
    cross join lateral (
      select x.tf, x.chunk_length from bench_b_postings x
      where x.org_id = ${orgId} and x.lexeme = b.lexeme and x.ordinal = ${candidate}.ordinal offset 0
    ) as x
    where b.bound > 0 and b.lexeme <> all(${candidate}.seen)
  ), 0)`
}

async function attempt (tx: Db, orgId: OrgId, query: string, k: number, filter: Filter | undefined, size: number): Promise<AttemptRow[]> {
  const { ctes, allowed } = commonCtes(orgId, query, filter)
  // The bound of an impact x under today's avgdl: x when avgdl has not grown since the reference
  // (ρ = avgdl₀ / avgdl ≥ 1), else the most tf/(tf + c + d·L/avgdl) can be given
  // tf/(tf + c + d·L/avgdl₀) ≤ x, reached at tf = MAX_TF. Raised by 1e-6 for the real (float4) impacts.
  const c = K1 * (1 - B)
  const impactBound = sql`(case when w.rho >= 1 then min(p.impact)::float8
    else greatest(min(p.impact)::float8, ${MAX_TF}::float8 / (${MAX_TF}::float8 * (1 + w.rho * (1 / min(p.impact)::float8 - 1)) + ${c}::float8 * (1 - w.rho))) end)`
  return rowsOf<AttemptRow>(await tx.execute(sql`
    with ${ctes}
    prefix as materialized (
      select w.lexeme, p.ordinal, w.weight * p.tf / (p.tf + w.norm_base + w.norm_per_length * p.chunk_length) as contribution, p.impact
      from weights w cross join lateral (
        select p.ordinal, p.tf, p.chunk_length, p.impact from bench_b_postings p
        where p.org_id = ${orgId} and p.lexeme = w.lexeme ${allowed(sql`p.ordinal`)}
        order by p.impact desc limit ${size}
      ) as p
    ),
    bounds as materialized (
      select w.lexeme, case when count(p.ordinal) < ${size} then 0::float8 else w.weight * ${impactBound} * (1 + 1e-6) end as bound
      from weights w left join prefix p on p.lexeme = w.lexeme
      group by w.lexeme, w.weight, w.rho
    ),
    partial as materialized (
      select p.ordinal, sum(p.contribution) as score, sum(b.bound) as seen_bound, array_agg(p.lexeme) as seen
      from prefix p join bounds b on b.lexeme = p.lexeme
      group by p.ordinal
    ),
    total as materialized (select coalesce(sum(bound), 0) as bound from bounds),
    threshold as materialized (select coalesce((select score from partial order by score desc offset ${k - 1} limit 1), -1) as score),
    -- The best partial scores completed first: their k-th exact score is a far better threshold than the k-th partial one.
    seeds as materialized (
      select p.ordinal, p.score, p.seen from partial p order by p.score + (select bound from total) - p.seen_bound desc, p.ordinal limit ${4 * k}
    ),
    seed_scores as materialized (select s.ordinal, ${completion(orgId, sql`s`)} as score from seeds s),
    exact_threshold as materialized (
      select greatest((select score from threshold), coalesce((select score from seed_scores order by score desc offset ${k - 1} limit 1), -1)) as score
    ),
    candidates as materialized (
      select p.ordinal, p.score, p.seen from partial p cross join total t cross join exact_threshold h
      where p.score + (t.bound - p.seen_bound) >= h.score and p.ordinal not in (select ordinal from seeds)
    ),
    completed as materialized (
      select c.ordinal, ${completion(orgId, sql`c`)} as score from candidates c
      union all select ordinal, score from seed_scores
    ),
    ranked as materialized (select ordinal, score from completed order by score desc, ordinal limit ${k})
    select r.ordinal, r.score,
           (select t.bound <= h.score from total t cross join exact_threshold h) as certified,
           (select count(*) from prefix) as prefix_rows,
           (select count(*) from candidates) + (select count(*) from seeds) as candidates,
           (select count(*) from (select ordinal, seen from candidates union all select ordinal, seen from seeds) c
            cross join bounds b where b.bound > 0 and b.lexeme <> all(c.seen)) as probes
    from (select 1) as one left join ranked r on true
    order by r.score desc, r.ordinal`))
}

/** The exhaustive sum over design B's postings: the fallback when no prefix size proves its answer. */
async function exhaustive (tx: Db, orgId: OrgId, query: string, k: number, filter: Filter | undefined): Promise<Array<{ ordinal: number, score: number, postings: string | number }>> {
  const { ctes, allowed } = commonCtes(orgId, query, filter)
  return rowsOf(await tx.execute(sql`
    with ${ctes}
    scores as materialized (
      select p.ordinal, sum(w.weight * p.tf / (p.tf + w.norm_base + w.norm_per_length * p.chunk_length)) as score, count(*) as postings
      from weights w cross join lateral (
        select p.ordinal, p.tf, p.chunk_length from bench_b_postings p where p.org_id = ${orgId} and p.lexeme = w.lexeme ${allowed(sql`p.ordinal`)} offset 0
      ) as p
      group by p.ordinal
    )
    select ordinal, score, (select sum(postings) from scores) as postings from scores order by score desc, ordinal limit ${k}`))
}

/** The top k: prefix sizes in turn until one is certified, else the exhaustive sum; then the hits' chunks. */
export async function searchPrefixes (db: Db, orgId: OrgId, query: string, k: number, filter: Filter | undefined, sizes: readonly number[]): Promise<PrefixOutcome> {
  return await inOrg(db, orgId, async (tx) => {
    const started = performance.now()
    const outcome: PrefixOutcome = { hits: [], attempts: [], prefixRows: 0, candidates: 0, probes: 0, fallbackPostings: 0, rankMs: 0, chunksMs: 0 }
    let ranked: Array<{ ordinal: number, score: number }> | undefined
    for (const size of sizes) {
      const rows = await attempt(tx, orgId, query, k, filter, size)
      outcome.attempts.push(size)
      const first = rows[0]
      outcome.prefixRows += Number(first?.prefix_rows ?? 0)
      outcome.candidates += Number(first?.candidates ?? 0)
      outcome.probes += Number(first?.probes ?? 0)
      if (first?.certified === true) {
        ranked = rows.filter((row) => row.ordinal !== null).map((row) => ({ ordinal: Number(row.ordinal), score: Number(row.score) }))
        break
      }
    }
    if (ranked === undefined) {
      outcome.attempts.push(0)
      const rows = await exhaustive(tx, orgId, query, k, filter)
      outcome.fallbackPostings = Number(rows[0]?.postings ?? 0)
      ranked = rows.map((row) => ({ ordinal: Number(row.ordinal), score: Number(row.score) }))
    }
    outcome.rankMs = performance.now() - started
    const chunksStarted = performance.now()
    outcome.hits = await fetchChunks(tx, orgId, ranked)
    outcome.chunksMs = performance.now() - chunksStarted
    return outcome
  })
}
