// An exhaustive in-memory Okapi BM25 over one organisation's ready chunks, read from the database's own text analysis (not from jack's index segments), and the test of a top k against it: the oracle bench/query.ts checks POST /v1/search with.
//
// What is read, in pages of documents by first ordinal (so a million chunks never sit in
// memory as rows): every ready document (ID, seq, first ordinal, chunk count, metadata);
// every chunk's length, Σ cardinality(positions) over all lexemes of
// jack_indexed_vector(text, tsv) — what the index takes a chunk's length to be; and the
// (lexeme, ordinal, tf) postings of the lexemes the caller will query (the union of its
// queries' lexemes), kept as typed arrays per lexeme. Restricting the postings to those
// lexemes changes nothing for those queries: a lexeme's df is its own postings' count
// and a chunk's length comes from all its lexemes. N and the total length are counted in
// the scan itself; org_chunk_stats (what jack ranks with) is read too, so a drift shows.
//
// Scores: src/retrieval/bm25.ts's termWeight and contribution (the definition, k1 1.2,
// b 0.75), each chunk's terms summed in the order the caller gives the lexemes ("C"
// order, as jack sums), term at a time over every posting of every query term.
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import type { Database } from '../../src/db/client.js'
import { textArray } from '../../src/db/array-parameters.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'
import { BM25_DEFAULTS, contribution, termWeight, type TermWeight } from '../../src/retrieval/bm25.js'
import { formatInt } from './report.js'
import { progress } from './server.js'

export interface OracleDocument {
  id: string
  seq: number
  firstOrdinal: number
  chunkCount: number
  metadata: Record<string, string>
}

export interface OracleHit {
  ordinal: number
  score: number
}

/** The question's lexemes as jack takes them (distinct lexemes of jack_search_query_vector), in "C" (byte) order. */
export async function queryLexemes (database: Database, question: string): Promise<string[]> {
  const rows = rowsOf<{ lexeme: string }>(await database.db.execute(sql`
    select lexeme from (select distinct lexeme from unnest(jack_search_query_vector(${question}::text))) as q
    order by lexeme collate "C"`))
  return rows.map((row) => row.lexeme)
}

class GrowingList {
  ordinals = new Int32Array(16)
  tfs = new Int32Array(16)
  length = 0

  push (ordinal: number, tf: number): void {
    if (this.length === this.ordinals.length) {
      const ordinals = new Int32Array(this.length * 2)
      ordinals.set(this.ordinals)
      this.ordinals = ordinals
      const tfs = new Int32Array(this.length * 2)
      tfs.set(this.tfs)
      this.tfs = tfs
    }
    this.ordinals[this.length] = ordinal
    this.tfs[this.length] = tf
    this.length++
  }
}

/** The k best (score, ordinal) pairs; ties at the k-th score are kept in whatever order they came (the comparison tolerates either). */
class TopK {
  private readonly scores: Float64Array
  private readonly ordinals: Int32Array
  private size = 0

  constructor (private readonly k: number) {
    this.scores = new Float64Array(k)
    this.ordinals = new Int32Array(k)
  }

  offer (score: number, ordinal: number): void {
    const { scores, ordinals } = this
    if (this.size < this.k) {
      let index = this.size++
      while (index > 0) {
        const parent = (index - 1) >> 1
        if ((scores[parent] as number) <= score) break
        scores[index] = scores[parent] as number
        ordinals[index] = ordinals[parent] as number
        index = parent
      }
      scores[index] = score
      ordinals[index] = ordinal
      return
    }
    if (score <= (scores[0] as number)) return
    let index = 0
    for (;;) {
      const left = 2 * index + 1
      if (left >= this.size) break
      const right = left + 1
      const child = right < this.size && (scores[right] as number) < (scores[left] as number) ? right : left
      if ((scores[child] as number) >= score) break
      scores[index] = scores[child] as number
      ordinals[index] = ordinals[child] as number
      index = child
    }
    scores[index] = score
    ordinals[index] = ordinal
  }

  hits (): OracleHit[] {
    const hits: OracleHit[] = []
    for (let i = 0; i < this.size; i++) hits.push({ ordinal: this.ordinals[i] as number, score: this.scores[i] as number })
    return hits.sort((a, b) => b.score - a.score || a.ordinal - b.ordinal)
  }
}

export interface Ranking {
  /** The top k among eligible chunks, best first. */
  hits: OracleHit[]
  /** Σ idf·(k1 + 1) over the query's terms with df > 0: what jack's 0–1 relevance divides by. */
  maxScore: number
  /** The exact scores of the probed ordinals (0 when the chunk holds no query term). */
  probes: number[]
}

export class Bm25Oracle {
  private accumulator: Float64Array
  private seen: Uint8Array
  private touched: Int32Array
  private readonly byId: Map<string, OracleDocument>

  constructor (
    readonly documents: readonly OracleDocument[],
    /** One past the highest ordinal of a ready document's chunk. */
    readonly ordinalEnd: number,
    readonly lengths: Int32Array,
    private readonly terms: ReadonlyMap<string, { ordinals: Int32Array, tfs: Int32Array, length: number }>,
    /** N and total length counted in the scan. */
    readonly chunkCount: number,
    readonly totalLength: number,
    /** The same from org_chunk_stats, as jack reads them. */
    readonly statsChunkCount: number,
    readonly statsTotalLength: number,
    readonly postings: number,
    readonly seconds: number
  ) {
    this.accumulator = new Float64Array(ordinalEnd)
    this.seen = new Uint8Array(ordinalEnd)
    this.touched = new Int32Array(ordinalEnd)
    this.byId = new Map(documents.map((document) => [document.id, document]))
  }

  /** The ordinal of a ready document's chunk, or undefined when no such chunk is ready. */
  ordinalOf (documentId: string, chunkIndex: number): number | undefined {
    const document = this.byId.get(documentId)
    if (document === undefined || !Number.isInteger(chunkIndex) || chunkIndex < 0 || chunkIndex >= document.chunkCount) return undefined
    return document.firstOrdinal + chunkIndex
  }

  /** Which ordinals a document filter lets through (by the documents' metadata). */
  allowList (matches: (metadata: Record<string, string>) => boolean): { allowed: Uint8Array, chunks: number } {
    const allowed = new Uint8Array(this.ordinalEnd)
    let chunks = 0
    for (const document of this.documents) {
      if (!matches(document.metadata)) continue
      allowed.fill(1, document.firstOrdinal, document.firstOrdinal + document.chunkCount)
      chunks += document.chunkCount
    }
    return { allowed, chunks }
  }

  /** Exhaustive BM25 for `lexemes` (distinct, in the order to sum them), the top `k` of the chunks `allowed` lets through (all when undefined). */
  rank (lexemes: readonly string[], allowed: Uint8Array | undefined, k: number, probes: readonly number[] = []): Ranking {
    const { accumulator, seen, touched, lengths } = this
    const k1 = BM25_DEFAULTS.k1
    const b = BM25_DEFAULTS.b
    const averageLength = this.totalLength / this.chunkCount
    let touchedCount = 0
    let maxScore = 0
    for (const lexeme of lexemes) {
      const term = this.terms.get(lexeme)
      if (term === undefined || term.length === 0) continue
      const weight: TermWeight = termWeight(this.chunkCount, averageLength, term.length, k1, b)
      maxScore += weight.weight
      const { ordinals, tfs } = term
      for (let i = 0; i < term.length; i++) {
        const ordinal = ordinals[i] as number
        if (seen[ordinal] === 0) {
          seen[ordinal] = 1
          accumulator[ordinal] = 0
          touched[touchedCount++] = ordinal
        }
        accumulator[ordinal] = (accumulator[ordinal] as number) + contribution(weight, tfs[i] as number, lengths[ordinal] as number)
      }
    }
    const top = new TopK(k)
    for (let i = 0; i < touchedCount; i++) {
      const ordinal = touched[i] as number
      if (allowed === undefined || allowed[ordinal] === 1) top.offer(accumulator[ordinal] as number, ordinal)
    }
    const probed = probes.map((ordinal) => ordinal >= 0 && ordinal < this.ordinalEnd && seen[ordinal] === 1 ? accumulator[ordinal] as number : 0)
    for (let i = 0; i < touchedCount; i++) seen[touched[i] as number] = 0
    return { hits: top.hits(), maxScore, probes: probed }
  }
}

/**
 * Reads the organisation's ready chunks into an oracle for queries over
 * `lexemes`, `pageOrdinals` ordinals of documents at a time, in the
 * organisation's transaction (row-level security), one statement per part.
 */
export async function buildOracle (database: Database, orgId: OrgId, lexemes: readonly string[], pageOrdinals: number, label: string): Promise<Bm25Oracle> {
  const started = performance.now()
  const wanted = [...new Set(lexemes)]
  const lists = new Map<string, GrowingList>(wanted.map((lexeme) => [lexeme, new GrowingList()]))
  const listById = wanted.map((lexeme) => lists.get(lexeme) as GrowingList)
  const [bounds] = rowsOf<{ ordinal_end: number | string | null, chunk_count: number | string, total_length: number | string }>(await inOrg(database.db, orgId, async (tx) => await tx.execute(sql`
    select (select max(first_ordinal + chunk_count) from documents where org_id = ${orgId} and status = 'ready' and first_ordinal is not null) as ordinal_end,
           (select coalesce(sum(chunk_count), 0) from org_chunk_stats where org_id = ${orgId}) as chunk_count,
           (select coalesce(sum(total_length), 0) from org_chunk_stats where org_id = ${orgId}) as total_length`)))
  const ordinalEnd = Number(bounds?.ordinal_end ?? 0)
  const lengths = new Int32Array(ordinalEnd).fill(-1)
  const documents: OracleDocument[] = []
  let chunkCount = 0
  let totalLength = 0
  let postings = 0
  let reported = started
  const wantedArray = textArray(wanted)
  for (let low = 0; low < ordinalEnd; low += pageOrdinals) {
    const high = low + pageOrdinals
    await inOrg(database.db, orgId, async (tx) => {
      const page = sql`d.org_id = ${orgId} and d.status = 'ready' and d.first_ordinal >= ${low}::int4 and d.first_ordinal < ${high}::int4`
      for (const row of rowsOf<{ id: string, seq: number | string, first_ordinal: number, chunk_count: number, metadata: Record<string, string> | string }>(await tx.execute(sql`
        select d.id, d.seq, d.first_ordinal, d.chunk_count, d.metadata from documents d where ${page}`))) {
        documents.push({
          id: row.id,
          seq: Number(row.seq),
          firstOrdinal: Number(row.first_ordinal),
          chunkCount: Number(row.chunk_count),
          metadata: (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata) as Record<string, string>
        })
      }
      for (const row of rowsOf<{ ordinal: number | string, length: number | string }>(await tx.execute(sql`
        select d.first_ordinal + c.chunk_index as ordinal,
               (select coalesce(sum(cardinality(t.positions)), 0) from unnest(jack_indexed_vector(c.text, c.tsv)) as t) as length
        from documents d join chunks c on c.org_id = d.org_id and c.document_id = d.id
        where ${page}`))) {
        const ordinal = Number(row.ordinal)
        const length = Number(row.length)
        if (lengths[ordinal] !== -1) throw new Error(`${label}: two ready chunks at ordinal ${ordinal}`)
        lengths[ordinal] = length
        chunkCount++
        totalLength += length
      }
      for (const row of rowsOf<{ id: number | string, ordinal: number | string, tf: number | string }>(await tx.execute(sql`
        select w.id, d.first_ordinal + c.chunk_index as ordinal, cardinality(t.positions) as tf
        from documents d join chunks c on c.org_id = d.org_id and c.document_id = d.id
        cross join lateral unnest(jack_indexed_vector(c.text, c.tsv)) as t
        join unnest(${wantedArray}) with ordinality as w(lexeme, id) on w.lexeme = t.lexeme
        where ${page}`))) {
        listById[Number(row.id) - 1]?.push(Number(row.ordinal), Number(row.tf))
        postings++
      }
    }, { isolationLevel: 'repeatable read', accessMode: 'read only' })
    if (performance.now() - reported > 15_000) {
      reported = performance.now()
      progress(`${label}: oracle read ${formatInt(chunkCount)} chunks (ordinals below ${formatInt(Math.min(high, ordinalEnd))} of ${formatInt(ordinalEnd)}) in ${((reported - started) / 1000).toFixed(0)} s`)
    }
  }
  documents.sort((a, b) => a.firstOrdinal - b.firstOrdinal)
  return new Bm25Oracle(documents, ordinalEnd, lengths, lists, chunkCount, totalLength, Number(bounds?.chunk_count ?? 0), Number(bounds?.total_length ?? 0), postings, (performance.now() - started) / 1000)
}

// ---------------------------------------------------------------------------------------------
// Judging a top k against the oracle

/** A hit as POST /v1/search returns it. */
export interface ReturnedHit {
  documentId: string
  chunkIndex: number
  /** The 0–1 relevance (score ÷ the query's maximum score). */
  relevance: number
}

export interface Verdict {
  agrees: boolean
  /** Another number of hits, a hit that is not an eligible ready chunk, a duplicate, or a set that differs beyond ties at the k-th score. */
  setDiffers: boolean
  /** Hits not in non-increasing order of their exact scores. */
  orderDiffers: boolean
  /** A hit whose relevance is not its exact score ÷ the query's maximum. */
  scoreDiffers: boolean
  problems: string[]
}

const RELATIVE_TOLERANCE = 1e-9

function close (a: number, b: number): boolean {
  return Math.abs(a - b) <= RELATIVE_TOLERANCE * Math.max(1, Math.abs(b))
}

/**
 * Whether `returned` is a correct top k for the query: as many hits as the
 * oracle has, each an eligible ready chunk, once; the same set as the oracle's
 * top k but for chunks tied (to floating-point noise) with its k-th score,
 * either way; in non-increasing order of exact score; each hit's relevance its
 * exact score ÷ the query's maximum score.
 */
export function judge (oracle: Bm25Oracle, lexemes: readonly string[], allowed: Uint8Array | undefined, k: number, returned: readonly ReturnedHit[]): { verdict: Verdict, expected: OracleHit[], exact: number[], ordinals: Array<number | undefined> } {
  const ordinals = returned.map((hit) => oracle.ordinalOf(hit.documentId, hit.chunkIndex))
  const ranking = oracle.rank(lexemes, allowed, k, ordinals.map((ordinal) => ordinal ?? -1))
  const expected = ranking.hits
  const exact = ranking.probes
  const problems: string[] = []
  let setDiffers = false
  let orderDiffers = false
  let scoreDiffers = false
  if (returned.length !== expected.length) {
    setDiffers = true
    problems.push(`${returned.length} hits, expected ${expected.length}`)
  }
  const seen = new Set<number>()
  ordinals.forEach((ordinal, index) => {
    const hit = returned[index] as ReturnedHit
    if (ordinal === undefined) {
      setDiffers = true
      problems.push(`hit ${index + 1} (${hit.documentId}/${hit.chunkIndex}) is no ready chunk`)
      return
    }
    if (seen.has(ordinal)) {
      setDiffers = true
      problems.push(`hit ${index + 1} (${hit.documentId}/${hit.chunkIndex}) is returned twice`)
    }
    seen.add(ordinal)
    if (allowed !== undefined && allowed[ordinal] !== 1) {
      setDiffers = true
      problems.push(`hit ${index + 1} (${hit.documentId}/${hit.chunkIndex}) does not pass the filter`)
    }
  })
  const kth = expected[expected.length - 1]?.score
  if (kth !== undefined) {
    const expectedSet = new Set(expected.map((hit) => hit.ordinal))
    ordinals.forEach((ordinal, index) => {
      if (ordinal === undefined || expectedSet.has(ordinal)) return
      const score = exact[index] as number
      if (!close(score, kth)) {
        setDiffers = true
        problems.push(`hit ${index + 1} (exact score ${score}) is not in the oracle's top ${k} and not tied with its k-th (${kth})`)
      }
    })
    for (const hit of expected) {
      if (seen.has(hit.ordinal) || close(hit.score, kth)) continue
      setDiffers = true
      problems.push(`ordinal ${hit.ordinal} (score ${hit.score}, above the k-th ${kth}) is missing`)
    }
  }
  for (let i = 1; i < exact.length; i++) {
    if ((exact[i] as number) > (exact[i - 1] as number) + RELATIVE_TOLERANCE * Math.max(1, exact[i] as number)) {
      orderDiffers = true
      problems.push(`hit ${i + 1} (exact ${exact[i]}) outranks hit ${i} (exact ${exact[i - 1]})`)
    }
  }
  returned.forEach((hit, index) => {
    if (ordinals[index] === undefined) return
    const relevance = ranking.maxScore > 0 ? Math.min(1, (exact[index] as number) / ranking.maxScore) : 0
    if (Math.abs(hit.relevance - relevance) > RELATIVE_TOLERANCE) {
      scoreDiffers = true
      problems.push(`hit ${index + 1} relevance ${hit.relevance}, exactly ${relevance}`)
    }
  })
  return { verdict: { agrees: !setDiffers && !orderDiffers && !scoreDiffers, setDiffers, orderDiffers, scoreDiffers, problems }, expected, exact, ordinals }
}
