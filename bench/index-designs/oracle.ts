// bench/index-designs: Okapi BM25 exactly as jack computes it (the old SQL and today's searchChunks alike), an exhaustive in-memory ranker (the oracle every design is checked against), the top-k heap the designs share, and the agreement test.
import { BM25_DEFAULTS } from '../../src/retrieval/bm25.js'
import type { MemoryIndex } from './corpus.js'
import { TopK, type RankedOrdinal } from '../../src/search-index/top-k.js'

const { k1: K1, b: B } = BM25_DEFAULTS

/** The statistics a ranking uses: N and average length, and df per lexeme. */
export interface Statistics {
  chunkCount: number
  averageLength: number
  df: (lexeme: string) => number
}

/** One query term's constants: score(tf, length) = weight · tf / (tf + normBase + normPerLength · length). */
export interface TermWeight {
  weight: number
  normBase: number
  normPerLength: number
}

/** Lucene's idf, never negative, times (k1 + 1) — the same expression, in the same order, as the old SQL (bench/lib/bench-postings.ts) and src/retrieval/bm25.ts. */
export function termWeight (chunkCount: number, averageLength: number, df: number): TermWeight {
  return {
    weight: Math.log(1 + (chunkCount - df + 0.5) / (df + 0.5)) * (K1 + 1),
    normBase: K1 * (1 - B),
    normPerLength: K1 * B / averageLength
  }
}

export function contribution (term: TermWeight, tf: number, length: number): number {
  return term.weight * tf / (tf + term.normBase + term.normPerLength * length)
}

/** A ranked chunk; the heap the designs share is jack's own (src/search-index/top-k.ts). */
export type Hit = RankedOrdinal
export { TopK }

/** Which ordinals may be returned: a filter's allow-list and the deleted set, as byte maps by ordinal (undefined: all). */
export interface Eligibility {
  allowed: Uint8Array | undefined
  deleted: Uint8Array | undefined
}

export const EVERYTHING: Eligibility = { allowed: undefined, deleted: undefined }

export function eligible (eligibility: Eligibility, ordinal: number): boolean {
  return (eligibility.allowed === undefined || eligibility.allowed[ordinal] === 1) && (eligibility.deleted === undefined || eligibility.deleted[ordinal] !== 1)
}

/** Exhaustive term-at-a-time BM25 over the in-memory index: every posting of every query term, summed in lexeme order. */
export class ExhaustiveRanker {
  private accumulator = new Float64Array(0)
  private seen = new Uint8Array(0)
  private touched = new Int32Array(0)

  constructor (private readonly index: MemoryIndex) {}

  search (lexemes: readonly string[], statistics: Statistics, k: number, eligibility: Eligibility): { hits: Hit[], postings: number } {
    const { index } = this
    if (this.accumulator.length < index.ordinalCount) {
      this.accumulator = new Float64Array(index.ordinalCount)
      this.seen = new Uint8Array(index.ordinalCount)
      this.touched = new Int32Array(index.ordinalCount)
    }
    const { accumulator, seen, touched } = this
    let touchedCount = 0
    let postings = 0
    for (const lexeme of lexemes) {
      const term = index.terms.get(lexeme)
      const df = statistics.df(lexeme)
      if (term === undefined || df <= 0) continue
      const weight = termWeight(statistics.chunkCount, statistics.averageLength, df)
      const { ordinals, tfs } = term
      postings += ordinals.length
      for (let i = 0; i < ordinals.length; i++) {
        const ordinal = ordinals[i] as number
        if (seen[ordinal] === 0) {
          seen[ordinal] = 1
          accumulator[ordinal] = 0
          touched[touchedCount++] = ordinal
        }
        accumulator[ordinal] = (accumulator[ordinal] as number) + contribution(weight, tfs[i] as number, index.lengths[ordinal] as number)
      }
    }
    const top = new TopK(k)
    for (let i = 0; i < touchedCount; i++) {
      const ordinal = touched[i] as number
      seen[ordinal] = 0
      if (eligible(eligibility, ordinal)) top.offer(accumulator[ordinal] as number, ordinal)
    }
    return { hits: top.ranked(), postings }
  }

  /** One chunk's exact score (to judge a design's hit that the oracle did not return). */
  score (lexemes: readonly string[], statistics: Statistics, ordinal: number): number {
    let score = 0
    for (const lexeme of lexemes) {
      const term = this.index.terms.get(lexeme)
      const df = statistics.df(lexeme)
      if (term === undefined || df <= 0) continue
      const position = lowerBound(term.ordinals, ordinal)
      if (term.ordinals[position] !== ordinal) continue
      score += contribution(termWeight(statistics.chunkCount, statistics.averageLength, df), term.tfs[position] as number, this.index.lengths[ordinal] as number)
    }
    return score
  }
}

export function lowerBound (values: Int32Array, target: number): number {
  let low = 0
  let high = values.length
  while (low < high) {
    const middle = (low + high) >> 1
    if ((values[middle] as number) < target) low = middle + 1
    else high = middle
  }
  return low
}

/** The oracle's statistics: N and average length as given, df counted in the index. */
export function indexStatistics (index: MemoryIndex, chunkCount: number, totalLength: number): Statistics {
  return { chunkCount, averageLength: totalLength / chunkCount, df: (lexeme) => index.terms.get(lexeme)?.ordinals.length ?? 0 }
}

/**
 * A design agrees with the oracle when it returns as many hits and the same set
 * of chunks, or a set that differs only among chunks tied (within floating-point
 * noise: sums taken in another order) with the oracle's k-th score. Every hit
 * must be eligible and, judged by the oracle's exact score, no hit may fall
 * below that k-th score.
 */
export function agrees (oracle: readonly Hit[], design: readonly Hit[], exactScore: (ordinal: number) => number, eligibility: Eligibility): boolean {
  if (oracle.length !== design.length) return false
  const designSet = new Set(design.map((hit) => hit.ordinal))
  if (designSet.size !== design.length) return false
  if (design.some((hit) => !eligible(eligibility, hit.ordinal))) return false
  const oracleSet = new Set(oracle.map((hit) => hit.ordinal))
  const last = oracle[oracle.length - 1]
  if (last === undefined) return true
  const tolerance = 1e-9 * Math.max(1, Math.abs(last.score))
  for (const hit of design) {
    if (oracleSet.has(hit.ordinal)) continue
    if (Math.abs(exactScore(hit.ordinal) - last.score) > tolerance) return false
  }
  for (const hit of oracle) {
    if (designSet.has(hit.ordinal)) continue
    if (Math.abs(hit.score - last.score) > tolerance) return false
  }
  return true
}
