// Merging an organisation's segments into one: their posting lists combined lexeme by lexeme with deleted documents' postings dropped, swapped in by one transaction.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Db } from '../db/client.js'
import { inOrg } from '../db/org-scope.js'
import type { OrgId } from '../org-id.js'
import { insertSegment, insertSegmentTerms, lockAndListSegments, readSegmentsToMerge, readTermPage, removeMerged, type SegmentContents, type SegmentSummary, type TermRow } from '../repositories/search-index.repo.js'
import { chooseMerge, DELETED_SHARE } from './merge-policy.js'
import { decodePostings, encodePostings, type PostingArrays } from './posting-codec.js'
import { isPacked, levelOf, packTerms, unpackTerms, type BuiltSegment, type SegmentTerm } from './segment-builder.js'
import { compareCodePoints, decodeDocuments, encodeDocuments, type StoredDocuments } from './segment-documents.js'

/** Lexemes read per statement: bounded memory even for a merge of a million chunks. */
const LEXEMES_PER_PAGE = 2000
/** A merge gives the event loop back at least this often. */
const YIELD_EVERY_MS = 10

export interface MergeResult {
  /** Segments merged (1: a segment rewritten without its deleted documents). */
  segments: number
  /** Set when the one segment chosen for its deletions turned out to hold too few of them: nothing was written. */
  notWorn?: { segmentId: number, estimate: number }
  /** The new segment's ID, or undefined when every document of the merged segments was deleted. */
  segmentId: number | undefined
  chunks: number
  /** Deleted documents whose postings were dropped. */
  expunged: number
  ms: number
}

interface MergedDocument {
  first: number
  count: number
  metadata: Record<string, string>
}

/** One lexeme's lists from several segments (absolute ordinals), without deleted chunks, relative to `base`. */
export function combineLists (parts: ReadonlyArray<{ base: number, postings: PostingArrays }>, deleted: (ordinal: number) => boolean, base: number): { postings: PostingArrays, count: number } {
  const total = parts.reduce((sum, part) => sum + part.postings.ordinals.length, 0)
  const postings: PostingArrays = { ordinals: new Int32Array(total), tfs: new Uint16Array(total), lengths: new Uint16Array(total) }
  let count = 0
  let sorted = true
  for (const part of [...parts].sort((a, b) => a.base - b.base)) {
    const { ordinals, tfs, lengths } = part.postings
    for (let i = 0; i < ordinals.length; i++) {
      const ordinal = part.base + (ordinals[i] as number)
      if (deleted(ordinal)) continue
      const relative = ordinal - base
      if (count > 0 && relative <= (postings.ordinals[count - 1] as number)) sorted = false
      postings.ordinals[count] = relative
      postings.tfs[count] = tfs[i] as number
      postings.lengths[count++] = lengths[i] as number
    }
  }
  if (!sorted) {
    // Segments whose ordinal ranges interleave (a re-indexed document lands far from its neighbours): order by ordinal.
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => (postings.ordinals[a] as number) - (postings.ordinals[b] as number))
    const ordered: PostingArrays = {
      ordinals: Int32Array.from(order, (i) => postings.ordinals[i] as number),
      tfs: Uint16Array.from(order, (i) => postings.tfs[i] as number),
      lengths: Uint16Array.from(order, (i) => postings.lengths[i] as number)
    }
    return { postings: ordered, count }
  }
  return { postings, count }
}

/**
 * The merged segments' terms, page by page in "C" lexeme order, each lexeme's
 * lists combined without deleted chunks. Packed segments are read whole (they
 * are small); the others a page of lexemes at a time.
 */
async function * mergedTerms (tx: Db, orgId: OrgId, chosen: readonly SegmentSummary[], contents: readonly SegmentContents[], isDeleted: (ordinal: number) => boolean, base: number): AsyncGenerator<SegmentTerm[]> {
  const baseOf = new Map(chosen.map((segment) => [segment.id, segment.base]))
  const packedParts = new Map<string, TermRow[]>()
  for (const row of contents) {
    if (row.packed === undefined) continue
    for (const term of unpackTerms(row.packed)) {
      const part = { segmentId: row.segmentId, lexeme: term.lexeme, postings: term.postings }
      const parts = packedParts.get(term.lexeme)
      if (parts === undefined) packedParts.set(term.lexeme, [part])
      else parts.push(part)
    }
  }
  const packedLexemes = [...packedParts.keys()].sort(compareCodePoints)
  let packedAt = 0
  const rowSegments = chosen.filter((candidate) => !candidate.packed)
  const largest = rowSegments.reduce<SegmentSummary | undefined>((a, b) => (a === undefined || b.chunkCount > a.chunkCount ? b : a), undefined)
  let after: string | undefined
  let busySince = performance.now()
  for (;;) {
    const page = largest === undefined ? { rows: [], upTo: undefined } : await readTermPage(tx, orgId, rowSegments.map((candidate) => candidate.id), largest.id, after, LEXEMES_PER_PAGE)
    const byLexeme = new Map<string, TermRow[]>()
    for (const row of page.rows) {
      const parts = byLexeme.get(row.lexeme)
      if (parts === undefined) byLexeme.set(row.lexeme, [row])
      else parts.push(row)
    }
    while (packedAt < packedLexemes.length && (page.upTo === undefined || compareCodePoints(packedLexemes[packedAt] as string, page.upTo) <= 0)) {
      const lexeme = packedLexemes[packedAt++] as string
      byLexeme.set(lexeme, [...(byLexeme.get(lexeme) ?? []), ...(packedParts.get(lexeme) ?? [])])
    }
    if (byLexeme.size === 0) return
    const terms: SegmentTerm[] = []
    for (const lexeme of [...byLexeme.keys()].sort(compareCodePoints)) {
      const parts = byLexeme.get(lexeme) as TermRow[]
      const combined = combineLists(parts.map((part) => ({ base: baseOf.get(part.segmentId) as number, postings: decodePostings(part.postings) })), isDeleted, base)
      if (combined.count > 0) terms.push({ lexeme, df: combined.count, postings: encodePostings(combined.postings, combined.count) })
      // Decoding and encoding are CPU work on the event loop the API serves from: let requests through every few ms.
      if (performance.now() - busySince > YIELD_EVERY_MS) {
        await yieldToEventLoop()
        busySince = performance.now()
      }
    }
    yield terms
    if (page.upTo === undefined) return
    after = page.upTo
  }
}

/**
 * Merges the segments the policy picks, if any, in one transaction of the
 * organisation; undefined when there is nothing to merge or another process
 * is merging this organisation's segments. Queries running meanwhile keep
 * reading the old segments (their snapshot); the next query sees the new one.
 */
export async function mergeNext (db: Db, orgId: OrgId, checked: ReadonlyMap<number, number> = new Map()): Promise<MergeResult | undefined> {
  const started = performance.now()
  return await inOrg(db, orgId, async (tx) => {
    const segments = await lockAndListSegments(tx, orgId)
    if (segments === undefined) return undefined
    const chosen = chooseMerge(segments, checked)
    if (chosen === undefined) return undefined
    const chosenSegments = segments.filter((segment) => chosen.includes(segment.id))
    const baseOf = new Map(chosenSegments.map((segment) => [segment.id, segment.base]))
    const low = Math.min(...chosenSegments.map((segment) => segment.base))
    const high = Math.max(...chosenSegments.map((segment) => segment.base + segment.ordinalSpan))
    const contents = await readSegmentsToMerge(tx, orgId, chosen, low, high)
    const documents: MergedDocument[] = []
    for (const row of contents.segments) {
      const base = baseOf.get(row.segmentId) as number
      const stored = decodeDocuments(row.documents)
      for (const [i, first] of stored.f.entries()) documents.push({ first: base + first, count: stored.n[i] as number, metadata: stored.m[i] as Record<string, string> })
    }
    // Deletions in the range may belong to other segments whose ranges interleave: only these documents' count.
    const firsts = new Set(documents.map((document) => document.first))
    const deletedFirsts = new Set(contents.deletedFirsts.filter((first) => firsts.has(first)))
    const [only] = chosenSegments
    if (chosenSegments.length === 1 && only !== undefined) {
      const deletedChunks = documents.filter((document) => deletedFirsts.has(document.first)).reduce((sum, document) => sum + document.count, 0)
      if (deletedChunks < DELETED_SHARE * only.chunkCount) {
        return { segments: 1, notWorn: { segmentId: only.id, estimate: only.deletedChunks }, segmentId: only.id, chunks: only.chunkCount, expunged: 0, ms: performance.now() - started }
      }
    }
    const kept = documents.filter((document) => !deletedFirsts.has(document.first)).sort((a, b) => a.first - b.first)
    const deletedOrdinals = new Uint8Array(Math.max(0, high - low))
    for (const document of documents) if (deletedFirsts.has(document.first)) deletedOrdinals.fill(1, document.first - low, document.first - low + document.count)
    const isDeleted = (ordinal: number): boolean => deletedOrdinals[ordinal - low] === 1
    const expunged = [...deletedFirsts]
    const first = kept[0]
    const last = kept[kept.length - 1]
    if (first === undefined || last === undefined) {
      await removeMerged(tx, orgId, chosen, expunged)
      return { segments: chosen.length, segmentId: undefined, chunks: 0, expunged: expunged.length, ms: performance.now() - started }
    }
    const base = first.first
    const chunkCount = kept.reduce((sum, document) => sum + document.count, 0)
    const stored: StoredDocuments = { f: kept.map((document) => document.first - base), n: kept.map((document) => document.count), m: kept.map((document) => document.metadata) }
    const packedOutput = isPacked(chunkCount)
    const segment: Omit<BuiltSegment, 'terms'> = { level: levelOf(chunkCount), packed: undefined, ordinalSpan: last.first + last.count - base, chunkCount, documentCount: kept.length, documents: encodeDocuments(stored) }
    const outputTerms: SegmentTerm[] = []
    const segmentId = packedOutput ? undefined : await insertSegment(tx, orgId, segment, base)
    for await (const terms of mergedTerms(tx, orgId, chosenSegments, contents.segments, isDeleted, base)) {
      if (segmentId === undefined) outputTerms.push(...terms)
      else await insertSegmentTerms(tx, orgId, segmentId, terms)
    }
    const writtenId = segmentId ?? await insertSegment(tx, orgId, { ...segment, packed: packTerms(outputTerms) }, base)
    await removeMerged(tx, orgId, chosen, expunged)
    return { segments: chosen.length, segmentId: writtenId, chunks: chunkCount, expunged: expunged.length, ms: performance.now() - started }
  })
}
