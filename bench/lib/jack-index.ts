// jack's search index (src/search-index/) seen from a benchmark: an organisation's segments merged as the worker's IndexMerger merges them, and what the index holds.
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'
import { mergeNext } from '../../src/search-index/merge-segments.js'
import { formatInt } from './report.js'

/** The index's tables (drizzle/0009_search_index_segments.sql), for sizes and VACUUM. */
export const JACK_INDEX_TABLES = ['index_segments', 'index_terms', 'index_deletions', 'index_deleted_terms', 'org_ordinals'] as const

export interface MergeRun {
  /** Merges written (a segment rewritten alone for its deletions counts as one). */
  merges: number
  segmentsMerged: number
  /** Deleted documents whose postings the merges dropped. */
  expunged: number
  seconds: number
}

/**
 * Merges the organisation's segments until the merge policy asks for no more,
 * in this process and in the foreground: what the worker's IndexMerger does in
 * the background after the documents it indexed (the same loop as its
 * mergeWhileNeeded, on mergeNext).
 */
export async function settleMerges (db: Db, orgId: OrgId): Promise<MergeRun> {
  const started = performance.now()
  const checked = new Map<number, number>()
  const run: MergeRun = { merges: 0, segmentsMerged: 0, expunged: 0, seconds: 0 }
  for (;;) {
    const result = await mergeNext(db, orgId, checked)
    if (result === undefined) break
    if (result.notWorn !== undefined) {
      checked.set(result.notWorn.segmentId, result.notWorn.estimate)
      continue
    }
    run.merges++
    run.segmentsMerged += result.segments
    run.expunged += result.expunged
    if (result.segments === 1 && result.expunged === 0) break
  }
  run.seconds = (performance.now() - started) / 1000
  return run
}

export interface IndexSummary {
  segments: number
  /** Live segments per level, highest level first. */
  levels: Array<[number, number]>
  /** Σ chunk_count of the live segments (deleted documents' chunks included until merged). */
  chunks: number
  termRows: number
  /** The compressed posting lists' bytes: index_terms.postings, and index_segments.packed where the schema has it (small segments' terms in their own row). */
  listBytes: number
  /** Deleted documents not yet dropped by a merge. */
  deletions: number
}

/** What the organisation's index holds, read as its owner would see it (in an organisation transaction, under row-level security). */
export async function summariseIndex (db: Db, orgId: OrgId): Promise<IndexSummary> {
  return await inOrg(db, orgId, async (tx) => {
    const [packed] = rowsOf<{ present: boolean }>(await tx.execute(sql`
      select exists (select 1 from information_schema.columns where table_name = 'index_segments' and column_name = 'packed') as present`))
    const packedBytes = packed?.present === true ? sql`sum(octet_length(s.packed))` : sql`0`
    const levels = rowsOf<{ level: number, segments: string | number }>(await tx.execute(sql`
      select level, count(*) as segments from index_segments where org_id = ${orgId} and base_ordinal is not null group by level order by level desc`))
    const [segments] = rowsOf<{ chunks: string | number | null, packed_bytes: string | number | null }>(await tx.execute(sql`
      select sum(s.chunk_count) as chunks, ${packedBytes} as packed_bytes from index_segments s where s.org_id = ${orgId} and s.base_ordinal is not null`))
    const [terms] = rowsOf<{ rows: string | number, bytes: string | number | null }>(await tx.execute(sql`
      select count(*) as rows, sum(octet_length(t.postings)) as bytes
      from index_terms t join index_segments s on s.org_id = t.org_id and s.segment_id = t.segment_id
      where t.org_id = ${orgId} and s.base_ordinal is not null`))
    const [deletions] = rowsOf<{ count: string | number }>(await tx.execute(sql`select count(*) as count from index_deletions where org_id = ${orgId}`))
    return {
      segments: levels.reduce((sum, row) => sum + Number(row.segments), 0),
      levels: levels.map((row) => [Number(row.level), Number(row.segments)]),
      chunks: Number(segments?.chunks ?? 0),
      termRows: Number(terms?.rows ?? 0),
      listBytes: Number(terms?.bytes ?? 0) + Number(segments?.packed_bytes ?? 0),
      deletions: Number(deletions?.count ?? 0)
    }
  })
}

/** One line; with `postings` (the postings the lists hold, counted elsewhere) also bytes per posting. */
export function describeIndex (summary: IndexSummary, postings?: number): string {
  const levels = summary.levels.map(([level, count]) => `${count} at level ${level}`).join(', ')
  return `${formatInt(summary.segments)} segments (${levels === '' ? 'none' : levels}), ${formatInt(summary.termRows)} index_terms rows, ` +
    `lists ${(summary.listBytes / 2 ** 20).toFixed(1)} MiB${postings !== undefined && postings > 0 ? ` = ${(summary.listBytes / postings).toFixed(2)} bytes/posting` : ''}` +
    (summary.deletions > 0 ? `, ${formatInt(summary.deletions)} deleted documents not merged away` : '')
}
