// A new segment's rows, built in memory: one document's chunks as the ingest writes them, or several segments' lists merged.
import { encodePostings } from './posting-codec.js'
import { ByteWriter, readVarint, type ByteReader } from './varint.js'
import { encodeDocuments, type StoredDocuments } from './segment-documents.js'

export interface SegmentTerm {
  lexeme: string
  df: number
  postings: Uint8Array
}

export interface BuiltSegment {
  level: number
  /** The terms packed into one value (small segments), or undefined: one index_terms row each. */
  packed: Uint8Array | undefined
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

/**
 * Segments of fewer chunks keep their terms packed in their own row. Written
 * as one index_terms row per lexeme, a one-chunk document cost ~100 rows, and
 * every merge level rewrote them again: SciFact's ingest (5,183 documents) on
 * PostgreSQL wrote 986 MiB of WAL and took 155 s against 110 s before the
 * index, on a loaded machine. Queries read a packed segment whole, which
 * stays small below this size (levels 0–2).
 */
export const PACKED_BELOW_CHUNKS = 1000

let packedBelow = PACKED_BELOW_CHUNKS

/** Changes the threshold for this process: tests run small corpora through both formats with it. */
export function setPackedBelowChunks (chunks: number): void {
  packedBelow = chunks
}

export function isPacked (chunkCount: number): boolean {
  return chunkCount < packedBelow
}

/** Terms in one value: varint count, then per term its lexeme (varint length, UTF-8), df and posting list (varint length, bytes). */
export function packTerms (terms: readonly SegmentTerm[]): Uint8Array {
  const encoder = new TextEncoder()
  const out = new ByteWriter(terms.reduce((sum, term) => sum + 16 + term.lexeme.length * 3 + term.postings.length, 8))
  out.varint(terms.length)
  for (const term of terms) {
    const lexeme = encoder.encode(term.lexeme)
    out.varint(lexeme.length)
    out.raw(lexeme)
    out.varint(term.df)
    out.varint(term.postings.length)
    out.raw(term.postings)
  }
  return out.result()
}

/** The terms of a packed value; postings are views into it. */
export function unpackTerms (packed: Uint8Array): SegmentTerm[] {
  const decoder = new TextDecoder()
  const reader: ByteReader = { bytes: packed, at: 0 }
  const take = (length: number): Uint8Array => {
    if (reader.at + length > packed.length) throw new RangeError('a packed segment is cut short')
    const bytes = packed.subarray(reader.at, reader.at + length)
    reader.at += length
    return bytes
  }
  const count = readVarint(reader)
  const terms: SegmentTerm[] = []
  for (let i = 0; i < count; i++) {
    const lexeme = decoder.decode(take(readVarint(reader)))
    const df = readVarint(reader)
    terms.push({ lexeme, df, postings: take(readVarint(reader)) })
  }
  return terms
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
  const packed = isPacked(chunkCount) ? packTerms(terms) : undefined
  return { level: levelOf(chunkCount), packed, ordinalSpan: chunkCount, chunkCount, documentCount: 1, documents: encodeDocuments(documents), terms: packed === undefined ? terms : [] }
}
