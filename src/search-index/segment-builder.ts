// A new segment's rows, built in memory: one document's chunks as the ingest writes them, or several segments' lists merged.
import { encodePostings } from './posting-codec.js'
import { encodeDocuments, type StoredDocuments } from './segment-documents.js'

export interface SegmentTerm {
  lexeme: string
  df: number
  postings: Uint8Array
}

export interface BuiltSegment {
  level: number
  /** One past the last relative ordinal. */
  ordinalSpan: number
  chunkCount: number
  documentCount: number
  documents: Uint8Array
  terms: SegmentTerm[]
}

/** One (chunk, lexeme) of a document as the database analyses it: tf is the lexeme's positions in the chunk. */
export interface ChunkPosting {
  chunkIndex: number
  lexeme: string
  tf: number
}

/** Ten segments of one level are merged into one of the next: log10 of the chunks. */
export function levelOf (chunkCount: number): number {
  return Math.floor(Math.log10(Math.max(1, chunkCount)))
}

/**
 * One document as a segment of its own: relative ordinal = chunk index. A
 * chunk's length is the sum of its lexemes' tf, as the statistics count it
 * (drizzle/0009_search_index_segments.sql).
 */
export function buildDocumentSegment (postings: readonly ChunkPosting[], chunkCount: number, metadata: Record<string, string>): BuiltSegment {
  const lengths = new Uint16Array(chunkCount)
  const byLexeme = new Map<string, Array<{ chunkIndex: number, tf: number }>>()
  for (const posting of postings) {
    if (posting.chunkIndex < 0 || posting.chunkIndex >= chunkCount) throw new RangeError(`chunk ${posting.chunkIndex} is outside the document's ${chunkCount} chunks`)
    lengths[posting.chunkIndex] = Math.min(0xffff, (lengths[posting.chunkIndex] as number) + posting.tf)
    let list = byLexeme.get(posting.lexeme)
    if (list === undefined) byLexeme.set(posting.lexeme, list = [])
    list.push({ chunkIndex: posting.chunkIndex, tf: posting.tf })
  }
  const terms: SegmentTerm[] = []
  for (const [lexeme, list] of byLexeme) {
    list.sort((a, b) => a.chunkIndex - b.chunkIndex)
    const ordinals = Int32Array.from(list, (entry) => entry.chunkIndex)
    const tfs = Uint16Array.from(list, (entry) => Math.min(0xffff, entry.tf))
    const chunkLengths = Uint16Array.from(list, (entry) => lengths[entry.chunkIndex] as number)
    terms.push({ lexeme, df: list.length, postings: encodePostings({ ordinals, tfs, lengths: chunkLengths }) })
  }
  const documents: StoredDocuments = { f: [0], n: [chunkCount], m: [metadata] }
  return { level: levelOf(chunkCount), ordinalSpan: chunkCount, chunkCount, documentCount: 1, documents: encodeDocuments(documents), terms }
}
