// bench/index-designs: the two lookups every ordinal-based design makes in SQL — a metadata filter into an allow-list of chunk ordinals, and the top-k ordinals back into chunks with their text.
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'
import { filterToSql, type Filter } from '../../src/retrieval/filters.js'
import { intArrayLiteral, ORDINALS_TABLE, type Metadata } from './corpus.js'

/**
 * The ordinals of the ready documents `filter` matches, as a byte map of
 * `ordinalCount` entries. jack's own filter SQL (filterToSql) over documents,
 * in the caller's organisation transaction; one row back (two int arrays), not
 * one per document. Under row-level security the GIN index on metadata cannot
 * serve it (jsonb @> is not LEAKPROOF), so this reads every document of the
 * organisation: its cost grows with the documents, not with the answer.
 */
export async function allowList (tx: Db, orgId: OrgId, filter: Filter, ordinalCount: number): Promise<Uint8Array> {
  const [row] = rowsOf<{ firsts: unknown, counts: unknown }>(await tx.execute(sql`
    select array_agg(m.first_ordinal) as firsts, array_agg(m.chunk_count) as counts
    from documents d
    join ${sql.raw(ORDINALS_TABLE)} m on m.org_id = d.org_id and m.document_id = d.id
    where d.org_id = ${orgId} and d.status = 'ready' and ${filterToSql(filter, sql`d.metadata`)}`))
  const allowed = new Uint8Array(ordinalCount)
  const firsts = numbers(row?.firsts)
  const counts = numbers(row?.counts)
  for (const [index, first] of firsts.entries()) allowed.fill(1, first, Math.min(ordinalCount, first + (counts[index] ?? 0)))
  return allowed
}

function numbers (value: unknown): number[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) return value.map(Number)
  if (typeof value === 'string') return value === '{}' ? [] : value.slice(1, -1).split(',').map(Number)
  throw new Error(`expected an int array, got ${typeof value}`)
}

/** Whether each of these ordinals' documents is ready and passes `filter`: one probe per ordinal, jack's filter SQL on each document. */
export async function checkFilter (tx: Db, orgId: OrgId, filter: Filter, ordinals: readonly number[]): Promise<Array<{ firstOrdinal: number, chunkCount: number, passes: boolean }>> {
  if (ordinals.length === 0) return []
  const rows = rowsOf<{ first_ordinal: number, chunk_count: number, passes: boolean }>(await tx.execute(sql`
    select distinct m.first_ordinal, m.chunk_count, (d.status = 'ready' and ${filterToSql(filter, sql`d.metadata`)}) as passes
    from unnest(${intArrayLiteral(ordinals)}::int4[]) as o(ordinal)
    cross join lateral (
      select m.document_id, m.first_ordinal, m.chunk_count from ${sql.raw(ORDINALS_TABLE)} m
      where m.org_id = ${orgId} and m.first_ordinal <= o.ordinal
      order by m.first_ordinal desc limit 1
    ) as m
    cross join lateral (select d.status, d.metadata from documents d where d.org_id = ${orgId} and d.id = m.document_id offset 0) as d`))
  return rows.map((row) => ({ firstOrdinal: Number(row.first_ordinal), chunkCount: Number(row.chunk_count), passes: row.passes }))
}

export interface ChunkHit {
  ordinal: number
  score: number
  documentId: string
  chunkIndex: number
  text: string
  metadata: Metadata
}

/**
 * The chunks of the top-k ordinals, in their order: each ordinal's document
 * found by one probe of the (org_id, first_ordinal) index, then its chunk and
 * document by primary key — the same work searchChunks does for its hits.
 */
export async function fetchChunks (tx: Db, orgId: OrgId, hits: ReadonlyArray<{ ordinal: number, score: number }>): Promise<ChunkHit[]> {
  if (hits.length === 0) return []
  const rows = rowsOf<{ rank: string | number, document_id: string, chunk_index: number, text: string, metadata: Metadata }>(await tx.execute(sql`
    select o.rank, m.document_id, o.ordinal - m.first_ordinal as chunk_index, c.text, d.metadata
    from unnest(${intArrayLiteral(hits.map((hit) => hit.ordinal))}::int4[]) with ordinality as o(ordinal, rank)
    cross join lateral (
      select m.document_id, m.first_ordinal from ${sql.raw(ORDINALS_TABLE)} m
      where m.org_id = ${orgId} and m.first_ordinal <= o.ordinal
      order by m.first_ordinal desc limit 1
    ) as m
    cross join lateral (
      select c.text from chunks c where c.org_id = ${orgId} and c.document_id = m.document_id and c.chunk_index = o.ordinal - m.first_ordinal offset 0
    ) as c
    cross join lateral (
      select d.metadata from documents d where d.org_id = ${orgId} and d.id = m.document_id and d.status = 'ready' offset 0
    ) as d
    order by o.rank`))
  return rows.map((row) => {
    const hit = hits[Number(row.rank) - 1] as { ordinal: number, score: number }
    return { ordinal: hit.ordinal, score: hit.score, documentId: row.document_id, chunkIndex: Number(row.chunk_index), text: row.text, metadata: row.metadata }
  })
}
