// Okapi BM25's tuning parameters: the defaults jack ranks with and their valid ranges.

/**
 * k1 bounds how much repeating a term raises a chunk's score (0: not at all);
 * b how far a long chunk is penalised for its length (0: not at all, 1: fully).
 * 1.2 and 0.75 are the usual defaults (Lucene, Elasticsearch, Anserini).
 */
export const BM25_DEFAULTS = Object.freeze({ k1: 1.2, b: 0.75 })

/** Throws RangeError unless k1 is a finite number ≥ 0 and b is within 0–1. */
export function checkBm25Parameters (k1: number, b: number): void {
  if (!Number.isFinite(k1) || k1 < 0) throw new RangeError(`BM25 k1 must be a finite number of at least 0, got ${k1}`)
  if (!Number.isFinite(b) || b < 0 || b > 1) throw new RangeError(`BM25 b must be a number from 0 to 1, got ${b}`)
}

/** One query term's constants: score(tf, length) = weight · tf / (tf + normBase + normPerLength · length). */
export interface TermWeight {
  weight: number
  normBase: number
  normPerLength: number
}

/**
 * Lucene's idf (never negative) times (k1 + 1), and the two parts of tf's
 * normaliser k1 · (1 − b + b · length / avgdl), for a term in `df` of an
 * organisation's `chunkCount` chunks of mean length `averageLength`.
 */
export function termWeight (chunkCount: number, averageLength: number, df: number, k1: number, b: number): TermWeight {
  return {
    weight: Math.log(1 + (chunkCount - df + 0.5) / (df + 0.5)) * (k1 + 1),
    normBase: k1 * (1 - b),
    normPerLength: averageLength > 0 ? k1 * b / averageLength : 0
  }
}

/** A term's share of a chunk's score, given its tf in the chunk and the chunk's length. */
export function contribution (term: TermWeight, tf: number, length: number): number {
  return term.weight * tf / (tf + term.normBase + term.normPerLength * length)
}
