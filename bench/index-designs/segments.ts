// bench/index-designs: design A — per-organisation immutable segments in PostgreSQL, one bytea row of compressed posting blocks per (segment, lexeme), fetched in one statement and ranked in the application by block-max WAND, cold or through an in-process cache keyed by segment.
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'
import type { Filter } from '../../src/retrieval/filters.js'
import { intArrayLiteral, protectTable, textArrayLiteral, type MemoryIndex, type Owner } from './corpus.js'
import { allowList, checkFilter, fetchChunks, type ChunkHit } from './ordinal-lookups.js'
import { lowerBound, termWeight, TopK, type Eligibility, type Hit } from './oracle.js'
import { blockMaxWand, decodeAll, encodePostings, newCounters, readSkipTable, sourceBytes, TermCursor, type Counters, type PostingSource } from './posting-blocks.js'

export const SEGMENT_TABLES = ['bench_a_segments', 'bench_a_terms', 'bench_a_deleted'] as const

export async function createSegmentTables (owner: Owner): Promise<void> {
  await owner.execute(sql.raw(`create table bench_a_segments (
    org_id uuid not null, segment_id integer not null, live boolean not null,
    first_ordinal integer not null, ordinal_count integer not null, primary key (org_id, segment_id))`))
  // Lexeme first: a query reads its terms' rows of every live segment from one index range per lexeme.
  await owner.execute(sql.raw(`create table bench_a_terms (
    org_id uuid not null, lexeme text collate "C" not null, segment_id integer not null, df integer not null, postings bytea not null,
    primary key (org_id, lexeme, segment_id))`))
  // Already compressed: TOAST stores it out of line without trying pglz on it again.
  await owner.execute(sql.raw('alter table bench_a_terms alter column postings set storage external'))
  await owner.execute(sql.raw(`create table bench_a_deleted (
    org_id uuid not null, segment_id integer not null, ordinal integer not null, primary key (org_id, segment_id, ordinal))`))
  for (const table of SEGMENT_TABLES) await protectTable(owner, table)
}

export interface SegmentSpec {
  id: number
  firstOrdinal: number
  ordinalCount: number
}

export interface WriteResult {
  rows: number
  bytes: number
  postings: number
  encodeSeconds: number
  writeSeconds: number
}

const WRITE_BATCH_ROWS = 400
const WRITE_BATCH_BYTES = 4 * 2 ** 20

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Writes encoded rows of one segment and its segment row, in the caller's transaction. */
async function insertSegment (tx: Db, orgId: OrgId, spec: SegmentSpec, live: boolean, rows: ReadonlyArray<{ lexeme: string, df: number, bytes: Uint8Array }>): Promise<void> {
  await tx.execute(sql`insert into bench_a_segments (org_id, segment_id, live, first_ordinal, ordinal_count) values (${orgId}, ${spec.id}, ${live}, ${spec.firstOrdinal}, ${spec.ordinalCount})`)
  let batch: typeof rows[number][] = []
  let batchBytes = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    await tx.execute(sql`insert into bench_a_terms (org_id, lexeme, segment_id, df, postings) values
      ${sql.join(batch.map((row) => sql`(${orgId}, ${row.lexeme}, ${spec.id}, ${row.df}, ${asBuffer(row.bytes)})`), sql`, `)}`)
    batch = []
    batchBytes = 0
  }
  for (const row of rows) {
    batch.push(row)
    batchBytes += row.bytes.length
    if (batch.length >= WRITE_BATCH_ROWS || batchBytes >= WRITE_BATCH_BYTES) await flush()
  }
  await flush()
}

/** Encodes the in-memory postings of ordinals [first, first + count) as segment `spec.id` and writes it (a build job's work). */
export async function buildSegment (db: Db, orgId: OrgId, index: MemoryIndex, spec: SegmentSpec, blockSize: number, live: boolean): Promise<WriteResult> {
  const started = performance.now()
  const rows: Array<{ lexeme: string, df: number, bytes: Uint8Array }> = []
  const stop = spec.firstOrdinal + spec.ordinalCount
  let bytes = 0
  let postings = 0
  for (const [lexeme, term] of index.terms) {
    const from = lowerBound(term.ordinals, spec.firstOrdinal)
    const to = lowerBound(term.ordinals, stop)
    if (to <= from) continue
    const ordinals = new Int32Array(to - from)
    const lengths = new Uint16Array(to - from)
    for (let i = from; i < to; i++) {
      const ordinal = term.ordinals[i] as number
      ordinals[i - from] = ordinal - spec.firstOrdinal
      lengths[i - from] = index.lengths[ordinal] as number
    }
    const encoded = encodePostings(ordinals, term.tfs.subarray(from, to), lengths, blockSize)
    rows.push({ lexeme, df: to - from, bytes: encoded })
    bytes += encoded.length
    postings += to - from
  }
  const encoded = performance.now()
  await inOrg(db, orgId, async (tx) => { await insertSegment(tx, orgId, spec, live, rows) })
  return { rows: rows.length, bytes, postings, encodeSeconds: (encoded - started) / 1000, writeSeconds: (performance.now() - encoded) / 1000 }
}

/** Makes exactly these segments live (one statement: a query sees the old set or the new, never a mix). */
export async function activateSegments (db: Db, orgId: OrgId, ids: readonly number[]): Promise<void> {
  await inOrg(db, orgId, async (tx) => {
    await tx.execute(sql`update bench_a_segments set live = (segment_id = any(${intArrayLiteral(ids)}::int4[])) where org_id = ${orgId}`)
  })
}

/** Marks deleted chunks; a query skips them from the next statement on. */
export async function markDeleted (db: Db, orgId: OrgId, ordinals: readonly number[]): Promise<void> {
  if (ordinals.length === 0) return
  await inOrg(db, orgId, async (tx) => {
    await tx.execute(sql`
      insert into bench_a_deleted (org_id, segment_id, ordinal)
      select ${orgId}, s.segment_id, o.ordinal
      from unnest(${intArrayLiteral(ordinals)}::int4[]) as o(ordinal)
      join bench_a_segments s on s.org_id = ${orgId} and s.live and o.ordinal >= s.first_ordinal and o.ordinal < s.first_ordinal + s.ordinal_count`)
  })
}

/**
 * Merges adjacent live segments into one new segment: their rows decoded,
 * concatenated per lexeme in ordinal order with the deleted chunks left out,
 * encoded again; then the new segment replaces them in one transaction and
 * their rows and deletion marks are removed. Ordinals are kept (a gap where a
 * deleted chunk was), so nothing else has to be renumbered.
 */
export async function mergeSegments (db: Db, orgId: OrgId, segments: readonly SegmentSpec[], newId: number, blockSize: number): Promise<WriteResult & { seconds: number }> {
  const started = performance.now()
  const sorted = [...segments].sort((a, b) => a.firstOrdinal - b.firstOrdinal)
  const first = sorted[0]
  const last = sorted[sorted.length - 1]
  if (first === undefined || last === undefined) throw new Error('nothing to merge')
  const spec: SegmentSpec = { id: newId, firstOrdinal: first.firstOrdinal, ordinalCount: last.firstOrdinal + last.ordinalCount - first.firstOrdinal }
  const base = new Map(sorted.map((segment) => [segment.id, segment.firstOrdinal]))
  const ids = intArrayLiteral(sorted.map((segment) => segment.id))
  let encodeSeconds = 0
  let result: WriteResult | undefined
  await inOrg(db, orgId, async (tx) => {
    const deletedRows = rowsOf<{ ordinal: number }>(await tx.execute(sql`select ordinal from bench_a_deleted where org_id = ${orgId} and segment_id = any(${ids}::int4[])`))
    const deleted = new Set(deletedRows.map((row) => Number(row.ordinal)))
    const stored = rowsOf<{ lexeme: string, segment_id: number, postings: Uint8Array }>(await tx.execute(sql`
      select lexeme, segment_id, postings from bench_a_terms where org_id = ${orgId} and segment_id = any(${ids}::int4[])
      order by lexeme collate "C"`))
    const encodeStarted = performance.now()
    const byLexeme = new Map<string, Array<{ segment: number, source: PostingSource }>>()
    for (const row of stored) {
      const bytes = new Uint8Array(row.postings)
      const list = byLexeme.get(row.lexeme) ?? []
      list.push({ segment: Number(row.segment_id), source: decodeAll(bytes, readSkipTable(bytes)) })
      byLexeme.set(row.lexeme, list)
    }
    const rows: Array<{ lexeme: string, df: number, bytes: Uint8Array }> = []
    let bytes = 0
    let postings = 0
    for (const [lexeme, parts] of byLexeme) {
      parts.sort((a, b) => (base.get(a.segment) ?? 0) - (base.get(b.segment) ?? 0))
      const total = parts.reduce((sum, part) => sum + part.source.skips.df, 0)
      const ordinals = new Int32Array(total)
      const tfs = new Uint16Array(total)
      const lengths = new Uint16Array(total)
      let count = 0
      for (const part of parts) {
        if (part.source.kind !== 'decoded') continue
        const offset = (base.get(part.segment) ?? 0) - spec.firstOrdinal
        for (let i = 0; i < part.source.skips.df; i++) {
          const relative = (part.source.ordinals[i] as number) + offset
          if (deleted.has(relative + spec.firstOrdinal)) continue
          ordinals[count] = relative
          tfs[count] = part.source.tfs[i] as number
          lengths[count++] = part.source.lengths[i] as number
        }
      }
      if (count === 0) continue
      const encoded = encodePostings(ordinals.subarray(0, count), tfs.subarray(0, count), lengths.subarray(0, count), blockSize)
      rows.push({ lexeme, df: count, bytes: encoded })
      bytes += encoded.length
      postings += count
    }
    encodeSeconds = (performance.now() - encodeStarted) / 1000
    const writeStarted = performance.now()
    await insertSegment(tx, orgId, spec, true, rows)
    await tx.execute(sql`update bench_a_segments set live = false where org_id = ${orgId} and segment_id = any(${ids}::int4[])`)
    await tx.execute(sql`delete from bench_a_terms where org_id = ${orgId} and segment_id = any(${ids}::int4[])`)
    await tx.execute(sql`delete from bench_a_deleted where org_id = ${orgId} and segment_id = any(${ids}::int4[])`)
    await tx.execute(sql`delete from bench_a_segments where org_id = ${orgId} and segment_id = any(${ids}::int4[])`)
    result = { rows: rows.length, bytes, postings, encodeSeconds, writeSeconds: (performance.now() - writeStarted) / 1000 }
  })
  if (result === undefined) throw new Error('merge wrote nothing')
  return { ...result, seconds: (performance.now() - started) / 1000 }
}

/** The stored bytes of some segments' rows (sum of octet_length): a layout's payload without table overhead. */
export async function segmentPayloadBytes (db: Db, orgId: OrgId, ids: readonly number[]): Promise<number> {
  const [row] = rowsOf<{ bytes: string | number | null }>(await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    select sum(octet_length(postings)) as bytes from bench_a_terms where org_id = ${orgId} and segment_id = any(${intArrayLiteral(ids)}::int4[])`)))
  return Number(row?.bytes ?? 0)
}

// ---------------------------------------------------------------------------------------------
// Queries

/** cold: every query fetches its rows; encoded: rows cached as stored, blocks decoded per query; decoded: rows cached fully decoded. */
export type CacheMode = 'cold' | 'encoded' | 'decoded'

export interface SearchOutcome {
  hits: ChunkHit[]
  counters: Counters
  rowsFetched: number
  bytesFetched: number
  /** Time in each step, ms: the state statement (statistics, lexemes, segments, deletions), fetching rows, the filter (allow-list or checks), fetching the hits' chunks. */
  stateMs: number
  fetchMs: number
  filterMs: number
  rankMs: number
  chunksMs: number
  /** The verify strategy's rounds and the hits it checked in SQL (0 with the allow-list). */
  verifyRounds: number
  verified: number
}

interface StateRow {
  chunk_count: string | number
  total_length: string | number
  lexemes: string[] | string
  segments: Array<[number, number, number]> | string
  deleted: unknown
}

function textArray (value: string[] | string): string[] {
  if (Array.isArray(value)) return value
  if (value === '{}') return []
  return value.slice(1, -1).split(',').map((item) => item.startsWith('"') ? JSON.parse(item) as string : item)
}

function intList (value: unknown): number[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) return value.map(Number)
  if (typeof value === 'string') return value === '{}' ? [] : value.slice(1, -1).split(',').map(Number)
  throw new Error(`expected an int array, got ${typeof value}`)
}

/**
 * allow-list: the filter's ordinals from SQL before ranking (reads every document of the organisation);
 * verify: rank first, then check only the hits' documents against the filter; rank again with enough hits for k to pass at the share
 * that passed so far (at least 4× more), up to VERIFY_ROUNDS rounds, then the allow-list;
 * cached-allow-list: the allow-list kept per filter (and ordinal range) in process — valid only as long as no document's
 * metadata or status changes, so a real cache would key it by a per-organisation metadata generation as well.
 */
export type FilterStrategy = 'allow-list' | 'verify' | 'cached-allow-list'

const VERIFY_ROUNDS = 4
/** The verify strategy ranks at most this many times k hits in a round; a filter that passes fewer is left to the allow-list. */
const MAX_VERIFY_FACTOR = 256

export class SegmentSearcher {
  private readonly cache = new Map<string, PostingSource | null>()
  private readonly allowLists = new Map<string, Uint8Array>()
  cachedBytes = 0
  cacheHits = 0
  cacheMisses = 0

  constructor (private readonly db: Db, private readonly orgId: OrgId, readonly mode: CacheMode, private readonly cacheLimitBytes: number, readonly filterStrategy: FilterStrategy = 'allow-list') {}

  clearCache (): void {
    this.cache.clear()
    this.cachedBytes = 0
    this.cacheHits = 0
    this.cacheMisses = 0
  }

  private remember (key: string, source: PostingSource | null): void {
    const previous = this.cache.get(key)
    if (previous !== undefined) return
    this.cache.set(key, source)
    this.cachedBytes += 64 + (source === null ? 0 : sourceBytes(source))
    for (const [oldKey, oldSource] of this.cache) {
      if (this.cachedBytes <= this.cacheLimitBytes) break
      this.cache.delete(oldKey)
      this.cachedBytes -= 64 + (oldSource === null ? 0 : sourceBytes(oldSource))
    }
  }

  async search (query: string, k: number, filter: Filter | undefined): Promise<SearchOutcome> {
    const { orgId } = this
    return await inOrg(this.db, orgId, async (tx) => {
      let started = performance.now()
      const [state] = rowsOf<StateRow>(await tx.execute(sql`
        select (select coalesce(sum(chunk_count), 0) from org_chunk_stats where org_id = ${orgId}) as chunk_count,
               (select coalesce(sum(total_length), 0) from org_chunk_stats where org_id = ${orgId}) as total_length,
               (select coalesce(array_agg(lexeme order by lexeme collate "C"), '{}') from unnest(jack_search_query_vector(${query}::text))) as lexemes,
               (select coalesce(json_agg(json_build_array(s.segment_id, s.first_ordinal, s.ordinal_count) order by s.first_ordinal), '[]')
                from bench_a_segments s where s.org_id = ${orgId} and s.live) as segments,
               (select array_agg(x.ordinal) from bench_a_deleted x
                join bench_a_segments s on s.org_id = x.org_id and s.segment_id = x.segment_id and s.live
                where x.org_id = ${orgId}) as deleted`))
      if (state === undefined) throw new Error('no state row')
      const lexemes = textArray(state.lexemes)
      const segments = (typeof state.segments === 'string' ? JSON.parse(state.segments) as Array<[number, number, number]> : state.segments)
        .map(([id, firstOrdinal, ordinalCount]) => ({ id, firstOrdinal, ordinalCount }))
      const chunkCount = Number(state.chunk_count)
      const averageLength = Number(state.total_length) / chunkCount
      const ordinalEnd = segments.reduce((max, segment) => Math.max(max, segment.firstOrdinal + segment.ordinalCount), 0)
      const deletedOrdinals = intList(state.deleted)
      let deleted: Uint8Array | undefined
      if (deletedOrdinals.length > 0) {
        deleted = new Uint8Array(ordinalEnd)
        for (const ordinal of deletedOrdinals) deleted[ordinal] = 1
      }
      const stateMs = performance.now() - started
      started = performance.now()
      const counters = newCounters()
      let rowsFetched = 0
      let bytesFetched = 0
      // Sources by segment, then lexeme.
      const sources = new Map<number, Map<string, PostingSource>>()
      const missingSegments = new Set<number>()
      const missingLexemes = new Set<string>()
      for (const segment of segments) {
        const bySegment = new Map<string, PostingSource>()
        sources.set(segment.id, bySegment)
        for (const lexeme of lexemes) {
          if (this.mode === 'cold') {
            missingSegments.add(segment.id)
            missingLexemes.add(lexeme)
            continue
          }
          const key = `${segment.id}\u0000${lexeme}`
          const cached = this.cache.get(key)
          if (cached === undefined) {
            this.cacheMisses++
            missingSegments.add(segment.id)
            missingLexemes.add(lexeme)
          } else {
            this.cacheHits++
            // Most recently used last.
            this.cache.delete(key)
            this.cache.set(key, cached)
            if (cached !== null) bySegment.set(lexeme, cached)
          }
        }
      }
      if (missingLexemes.size > 0 && lexemes.length > 0) {
        const stored = rowsOf<{ segment_id: number, lexeme: string, postings: Uint8Array }>(await tx.execute(sql`
          select t.segment_id, t.lexeme, t.postings from bench_a_terms t
          where t.org_id = ${orgId} and t.lexeme = any(${textArrayLiteral([...missingLexemes])}::text[])
            and t.segment_id = any(${intArrayLiteral([...missingSegments])}::int4[])`))
        const found = new Set<string>()
        for (const row of stored) {
          const bytes = new Uint8Array(row.postings.buffer, row.postings.byteOffset, row.postings.byteLength)
          rowsFetched++
          bytesFetched += bytes.length
          const skips = readSkipTable(bytes)
          const source: PostingSource = this.mode === 'decoded' ? decodeAll(bytes, skips) : { kind: 'encoded', bytes, skips }
          const segmentId = Number(row.segment_id)
          sources.get(segmentId)?.set(row.lexeme, source)
          const key = `${segmentId}\u0000${row.lexeme}`
          found.add(key)
          if (this.mode !== 'cold') this.remember(key, source)
        }
        if (this.mode !== 'cold') {
          for (const segmentId of missingSegments) {
            for (const lexeme of missingLexemes) {
              const key = `${segmentId}\u0000${lexeme}`
              if (!found.has(key)) this.remember(key, null)
            }
          }
        }
      }
      const fetchMs = performance.now() - started
      started = performance.now()
      const df = new Map<string, number>()
      for (const bySegment of sources.values()) {
        for (const [lexeme, source] of bySegment) df.set(lexeme, (df.get(lexeme) ?? 0) + source.skips.df)
      }
      const weights = new Map(lexemes.filter((lexeme) => (df.get(lexeme) ?? 0) > 0).map((lexeme) => [lexeme, termWeight(chunkCount, averageLength, df.get(lexeme) ?? 0)]))
      let rankMs = 0
      const rank = (size: number, eligibility: Eligibility): Hit[] => {
        const rankStarted = performance.now()
        const top = new TopK(size)
        for (const segment of segments) {
          const bySegment = sources.get(segment.id)
          if (bySegment === undefined) continue
          const cursors: TermCursor[] = []
          // Lexeme order, as the oracle sums.
          for (const lexeme of lexemes) {
            const source = bySegment.get(lexeme)
            const weight = weights.get(lexeme)
            if (source !== undefined && weight !== undefined) cursors.push(new TermCursor(source, segment.firstOrdinal, weight, counters))
          }
          blockMaxWand(cursors, top, eligibility, counters)
        }
        rankMs += performance.now() - rankStarted
        return top.ranked()
      }
      const filtered = filter !== undefined && (filter.all.length > 0 || filter.anyOf.length > 0)
      let ranked: Hit[] | undefined
      let verifyRounds = 0
      let verified = 0
      if (filtered && this.filterStrategy === 'verify') {
        // Rank as if every unchecked chunk passed the filter; check the hits' documents in SQL; repeat with more hits until the top k are all checked.
        const excluded = deleted === undefined ? new Uint8Array(ordinalEnd) : Uint8Array.from(deleted)
        const passed = new Uint8Array(ordinalEnd)
        let checkedCount = 0
        let passedCount = 0
        for (let size = k; verifyRounds < VERIFY_ROUNDS;) {
          verifyRounds++
          const hits = rank(size, { allowed: undefined, deleted: excluded })
          const best = hits.slice(0, k)
          if (best.every((hit) => passed[hit.ordinal] === 1)) {
            ranked = best
            break
          }
          const unchecked = hits.filter((hit) => passed[hit.ordinal] === 0).map((hit) => hit.ordinal)
          verified += unchecked.length
          for (const ordinal of unchecked) excluded[ordinal] = 1
          for (const document of await checkFilter(tx, orgId, filter, unchecked)) {
            const end = Math.min(ordinalEnd, document.firstOrdinal + document.chunkCount)
            if (document.passes) {
              passed.fill(1, document.firstOrdinal, end)
              for (let ordinal = document.firstOrdinal; ordinal < end; ordinal++) if (deleted?.[ordinal] !== 1) excluded[ordinal] = 0
            } else {
              excluded.fill(1, document.firstOrdinal, end)
            }
          }
          checkedCount += unchecked.length
          passedCount += unchecked.filter((ordinal) => passed[ordinal] === 1).length
          // Enough hits next round for k to pass at the share seen so far (with a margin), at least 4× more.
          const share = (passedCount + 1) / (checkedCount + 2)
          size = Math.min(k * MAX_VERIFY_FACTOR, Math.max(size * 4, Math.ceil(2 * k / share)))
        }
      }
      if (ranked === undefined) {
        let allowed: Uint8Array | undefined
        if (filtered) {
          const key = `${ordinalEnd}\u0000${JSON.stringify(filter)}`
          allowed = this.filterStrategy === 'cached-allow-list' ? this.allowLists.get(key) : undefined
          if (allowed === undefined) {
            allowed = await allowList(tx, orgId, filter, ordinalEnd)
            if (this.filterStrategy === 'cached-allow-list') this.allowLists.set(key, allowed)
          }
        }
        ranked = rank(k, { allowed, deleted })
      }
      // The filter's own time: the allow-list or the checks, without the ranking they interleave with.
      const filterMs = performance.now() - started - rankMs
      started = performance.now()
      const hits = await fetchChunks(tx, orgId, ranked)
      const chunksMs = performance.now() - started
      return { hits, counters, rowsFetched, bytesFetched, stateMs, fetchMs, filterMs, rankMs, chunksMs, verifyRounds, verified }
    })
  }
}
