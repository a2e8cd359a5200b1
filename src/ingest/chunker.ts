// Splits a document's text into overlapping chunks of at most chunk_size o200k tokens, cut at paragraph, sentence or word ends.
import { alignToCodePoint, countTokens, countTokensBetween, isWhitespace, MAX_TOKEN_BYTES, tokenBoundaries, type TokenBoundaries } from './tokenizer.js'

export { countTokens } from './tokenizer.js'

/** A contiguous passage of the document: `text === documentText.slice(start, end)`, trimmed of whitespace. */
export interface Chunk {
  index: number
  text: string
  start: number
  end: number
  /** `countTokens(text)`: the passage tokenized on its own, which is what an embedding model sees. */
  tokenCount: number
}

export interface ChunkOptions {
  chunkSize: number
  chunkOverlap: number
}

/**
 * The smallest chunk_size accepted: one code point can take 4 tokens (one per UTF-8
 * byte), and a chunk must always be able to hold at least one, or cutting could stall.
 * The API's own range (128–4096) is enforced by its schema.
 */
export const MIN_CHUNK_SIZE = 8

/**
 * How far (in document tokens) past its target the overlap may start, to begin at a
 * word rather than inside one. Past it (a long word, CJK), the overlap starts at a
 * token boundary inside the word instead.
 */
export const OVERLAP_SNAP_TOKENS = 8

/**
 * Characters examined by the chunker's scans, plus the length of every passage whose
 * tokens it counts, summed over all calls since the process started. Only the
 * linearity test reads it: unlike a timing, the count is exact on a loaded machine.
 */
export const chunkerWork = { characters: 0 }

/** How good a place to end a chunk a cut is, worst first. */
type CutKind = 'inside a word' | 'word' | 'sentence' | 'paragraph'

/**
 * Splits `text` into chunks. The guarantees, each checked by a property test on
 * arbitrary Unicode:
 *
 * - Size: every chunk's `tokenCount` is `countTokens(chunk.text)` -- the passage
 *   tokenized on its own, not its span in the document, which can differ at the
 *   edges -- and at most `chunkSize`.
 * - Exact text: `text.slice(start, end) === chunk.text`, non-empty, with no leading
 *   or trailing whitespace (JavaScript's `\s`, what trim() removes). Cuts never fall
 *   inside a surrogate pair.
 * - Coverage: the first chunk starts at the first non-whitespace character and the
 *   last ends after the last one; starts and ends strictly increase; when a chunk
 *   starts after the previous one ends, only whitespace lies between. So every
 *   non-whitespace character is in a chunk. With `chunkOverlap` 0 chunks tile the
 *   text: each whitespace run between two chunks belongs to neither.
 * - Overlap: the shared text `text.slice(next.start, previous.end)` (empty if the
 *   next starts at or after the previous end) has at most `chunkOverlap` tokens by
 *   countTokens, and is as long as that allows: starting it at the word start before
 *   `next.start` (or, when `next.start` is inside a word, at the token boundary
 *   before it) would exceed `chunkOverlap`, or would not be after `previous.start`,
 *   or would leave the next chunk no room -- its shortest form, from there to the
 *   first token boundary after the previous chunk, would exceed `chunkSize` (only
 *   after a whitespace run of nearly chunk_size tokens, or with chunk_overlap close to
 *   chunk_size). Short of those limits the overlap is therefore within about one word of
 *   `chunkOverlap` tokens. A word start is a non-whitespace character after
 *   whitespace.
 * - Cuts: a chunk that does not reach the end of the text ends, among the token
 *   boundaries in the second half of its window (`chunkSize` document tokens from
 *   its start), at the last paragraph break (a whitespace run holding a blank line);
 *   else the last sentence end (`.`, `!` or `?` followed by whitespace, or `。`, `！`,
 *   `？`, `｡` with or without it, closing quotes and brackets allowed between);
 *   else the last whitespace; else at the window's end, inside a word. "e.g. " counts
 *   as a sentence end: telling abbreviations apart needs a list per language, and a
 *   cut there costs little. The second-half rule keeps chunks from being needlessly
 *   small.
 * - Deterministic: the same text and options give the same chunks (the tokenizer's
 *   merge cache changes speed only).
 *
 * Cost: one tokenization of the text, then for each chunk and overlap a count that
 * re-tokenizes only their edges (countTokensBetween); every scan is bounded by the
 * chunk or overlap it serves, so the work is linear in the text's length for any text
 * (a test counts it). Whitespace-free text, where every count re-tokenizes its whole
 * passage, is the slowest: see bench/chunker.ts.
 */
export function chunkText (text: string, options: ChunkOptions): Chunk[] {
  checkOptions(options)
  const first = skipWhitespace(text, 0)
  if (first === text.length) return []
  const chunker = new Chunker(text, options, tokenBoundaries(text))
  const chunks: Chunk[] = []
  let start = first
  let progress = first
  let previous: Chunk | undefined
  while (true) {
    const chunk = chunker.chunkFrom(start, progress, chunks.length, previous)
    chunks.push(chunk)
    progress = skipWhitespace(text, chunk.end)
    if (progress === text.length) return chunks
    start = chunker.overlapStart(chunk, progress)
    previous = chunk
  }
}

function checkOptions ({ chunkSize, chunkOverlap }: ChunkOptions): void {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
    throw new RangeError(`chunkSize must be an integer of at least ${MIN_CHUNK_SIZE}, got ${chunkSize}`)
  }
  if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0 || chunkOverlap >= chunkSize) {
    throw new RangeError(`chunkOverlap must be an integer from 0 to chunkSize - 1 (${chunkSize - 1}), got ${chunkOverlap}`)
  }
}

/**
 * Cut points are the document's token boundaries between whole code points, named by
 * their position in TokenBoundaries (`offsets[i]`, `tokenIndexes[i]`).
 */
class Chunker {
  private readonly text: string
  private readonly chunkSize: number
  private readonly chunkOverlap: number
  private readonly offsets: Int32Array
  private readonly tokenIndexes: Int32Array
  private readonly lastCut: number
  private readonly boundaries: TokenBoundaries
  // The whitespace run around the last classified cut, and its kind: cuts are
  // classified from the end of a window backwards, and a long run holds many cuts.
  private gapStart = -1
  private gapEnd = -1
  private gapKind: CutKind = 'word'

  constructor (text: string, options: ChunkOptions, boundaries: TokenBoundaries) {
    this.text = text
    this.chunkSize = options.chunkSize
    this.chunkOverlap = options.chunkOverlap
    this.boundaries = boundaries
    this.offsets = boundaries.offsets
    this.tokenIndexes = boundaries.tokenIndexes
    this.lastCut = boundaries.offsets.length - 1
  }

  /**
   * The chunk starting at `start` (a non-whitespace character) that ends after
   * `progress`, the first character no chunk holds yet. The shortest such chunk ends
   * at the first cut after `progress`; if even that is over `chunkSize`, the start
   * moves forward as little as it must (giving up overlap), and at `progress` the
   * chunk is cut at code points as a last resort. So this always returns, and the
   * caller always advances.
   */
  chunkFrom (start: number, progress: number, index: number, previous: Chunk | undefined): Chunk {
    const firstNewCut = this.cutAtOrBefore(progress) + 1
    const shortestEnd = skipWhitespaceBack(this.text, this.offsets[firstNewCut] as number)
    let from = start
    if (from < progress && this.countBetween(from, shortestEnd) > this.chunkSize) {
      from = previous === undefined ? progress : this.roomyStart(from, previous, progress, shortestEnd)
    }
    if (this.countBetween(from, shortestEnd) <= this.chunkSize) {
      const startToken = this.tokenIndexes[this.cutAtOrBefore(from)] as number
      const halfToken = startToken + Math.ceil(this.chunkSize / 2)
      let maxCut = Math.max(firstNewCut, this.cutAtOrBeforeToken(startToken + this.chunkSize))
      while (true) {
        const endCut = this.chooseEnd(firstNewCut, maxCut, halfToken)
        const end = skipWhitespaceBack(this.text, this.offsets[endCut] as number)
        const tokenCount = this.countBetween(from, end)
        if (tokenCount <= this.chunkSize) return { index, text: this.text.slice(from, end), start: from, end, tokenCount }
        if (endCut === firstNewCut) break // cannot happen: that chunk was measured above
        // Re-tokenized, the passage has more tokens than its span in the document: aim lower by the excess.
        const excess = tokenCount - this.chunkSize
        maxCut = Math.max(firstNewCut, Math.min(endCut - 1, this.cutAtOrBeforeToken((this.tokenIndexes[endCut] as number) - excess)))
      }
    }
    return this.hardCutAtCodePoints(from, index)
  }

  /**
   * The first start after `from` (a word start or a token boundary) that leaves
   * room: its overlap with `previous` fits `chunkOverlap` and the chunk from it to
   * `shortestEnd` fits `chunkSize`; else `progress`. Tried one by one so that no start
   * that would do is skipped; this is reached only after a whitespace run of nearly
   * chunk_size tokens, or with chunk_overlap close to chunk_size.
   */
  private roomyStart (from: number, previous: Chunk, progress: number, shortestEnd: number): number {
    let start = from
    while (true) {
      const nextBoundary = skipWhitespace(this.text, this.offsets[this.cutAtOrBefore(start) + 1] as number)
      start = this.wordStartFrom(start + 1, nextBoundary)
      if (start >= previous.end) return progress
      if (this.overlapFits(start, previous) && this.countBetween(start, shortestEnd) <= this.chunkSize) return start
    }
  }

  /**
   * Where the chunk after `previous` starts. Aim at `chunkOverlap` document tokens
   * before its end; take the first word start from there (within
   * OVERLAP_SNAP_TOKENS) whose re-tokenized overlap fits, else the first token
   * boundary that fits; then move back over earlier starts of the same kind (word
   * starts, or token boundaries for a start inside a word) while the overlap still
   * fits, because re-tokenized text often needs fewer tokens than its span in the
   * document. So the overlap is as long as it can be: one more word (or token
   * boundary) would take it over `chunkOverlap`, or to the previous chunk's start.
   * `progress` (the first non-whitespace character after `previous`) means no overlap.
   */
  overlapStart (previous: Chunk, progress: number): number {
    if (this.chunkOverlap === 0) return progress
    const endToken = this.tokenIndexes[this.cutAtOrAfter(previous.end)] as number
    const earliestCut = this.cutAtOrBefore(previous.start) + 1
    const firstCut = Math.max(this.cutAtOrAfterToken(endToken - this.chunkOverlap), earliestCut)
    const snapLimit = (this.tokenIndexes[firstCut] as number) + OVERLAP_SNAP_TOKENS
    let start = -1
    for (let word = this.wordStartFrom(this.offsets[firstCut] as number, previous.end); word < previous.end; word = this.wordStartFrom(word + 1, previous.end)) {
      if (this.tokenAt(word) > snapLimit) break
      if (this.overlapFits(word, previous)) {
        start = word
        break
      }
    }
    if (start < 0) start = this.fittingOverlapStart(firstCut, previous, progress)
    if (this.isWordStart(start)) {
      for (let word = this.previousWordStart(start, previous.start); word >= 0 && this.overlapFits(word, previous); word = this.previousWordStart(word, previous.start)) {
        start = word
      }
    } else {
      for (let cut = this.cutAtOrBefore(start); cut >= earliestCut; cut--) {
        const candidate = skipWhitespace(this.text, this.offsets[cut] as number)
        if (candidate >= start) continue
        if (!this.overlapFits(candidate, previous)) break
        start = candidate
      }
    }
    return start
  }

  private overlapFits (start: number, previous: Chunk): boolean {
    return this.countBetween(start, previous.end) <= this.chunkOverlap
  }

  /** The first start at cut `cut` or later whose overlap with `previous` fits `chunkOverlap`, else `progress`. */
  private fittingOverlapStart (cut: number, previous: Chunk, progress: number): number {
    let current = cut
    while (current <= this.lastCut) {
      const start = skipWhitespace(this.text, this.offsets[current] as number)
      if (start >= previous.end) break
      const overlap = this.countBetween(start, previous.end)
      if (overlap <= this.chunkOverlap) return start
      // Skip ahead by the excess: each token of it needs at least one token less.
      const target = (this.tokenIndexes[current] as number) + overlap - this.chunkOverlap
      current = Math.max(current + 1, this.cutAtOrAfterToken(target))
    }
    return progress
  }

  /**
   * The cut ending a chunk, among cuts `firstNewCut` to `maxCut` (all within the
   * window). The whole rest of the text when it fits; otherwise the preferred kind
   * of break in the window's second half (from token `halfToken`), latest first.
   */
  private chooseEnd (firstNewCut: number, maxCut: number, halfToken: number): number {
    if (maxCut === this.lastCut) return maxCut
    let sentence = -1
    let word = -1
    for (let cut = maxCut; cut >= firstNewCut && (this.tokenIndexes[cut] as number) >= halfToken; cut--) {
      const kind = this.classify(this.offsets[cut] as number)
      if (kind === 'paragraph') return cut
      if (kind === 'sentence' && sentence < 0) sentence = cut
      else if (kind === 'word' && word < 0) word = cut
    }
    if (sentence >= 0) return sentence
    if (word >= 0) return word
    return maxCut
  }

  /** What kind of break a cut at `offset` would be, judged by the whitespace run it touches and what precedes it. */
  private classify (offset: number): CutKind {
    if (offset < this.gapStart || offset > this.gapEnd) {
      this.gapStart = skipWhitespaceBack(this.text, offset)
      this.gapEnd = skipWhitespace(this.text, offset)
      this.gapKind = this.classifyGap()
    }
    return this.gapKind
  }

  private classifyGap (): CutKind {
    const text = this.text
    const contentEnd = this.gapStart
    if (contentEnd === this.gapEnd) {
      // No whitespace: only a CJK sentence end is a break here.
      return CJK_SENTENCE_ENDS.has(text.charCodeAt(skipClosers(text, contentEnd) - 1)) ? 'sentence' : 'inside a word'
    }
    if (contentEnd === 0) return 'word'
    let lineBreaks = 0
    for (let at = contentEnd; at < this.gapEnd; at++) {
      chunkerWork.characters++
      const code = text.charCodeAt(at)
      if (code === 0x0a || code === 0x2028 || (code === 0x0d && text.charCodeAt(at + 1) !== 0x0a)) lineBreaks++
      if (lineBreaks >= 2 || code === 0x2029) return 'paragraph'
    }
    return SENTENCE_ENDS.has(text.charCodeAt(skipClosers(text, contentEnd) - 1)) ? 'sentence' : 'word'
  }

  /** Whether `offset` is a word start: a non-whitespace character after whitespace. */
  private isWordStart (offset: number): boolean {
    return offset > 0 && offset < this.text.length && !isWhitespace(this.text.charCodeAt(offset)) && isWhitespace(this.text.charCodeAt(offset - 1))
  }

  /**
   * The first word start at or after `offset` and before `limit`, else `limit`. The
   * limit is what keeps chunking linear: unbounded, text without whitespace was
   * scanned to its end for every chunk (10 MB: 24 s).
   */
  private wordStartFrom (offset: number, limit: number): number {
    let at = Math.max(1, offset)
    while (at < limit && !this.isWordStart(at)) at++
    chunkerWork.characters += at - offset + 1
    return Math.min(at, limit)
  }

  /** The last word start before `offset` and after `floor`, else -1; bounded for the same reason. */
  private previousWordStart (offset: number, floor: number): number {
    const lowest = Math.max(0, floor)
    let at = offset - 1
    while (at > lowest && !this.isWordStart(at)) at--
    chunkerWork.characters += offset - at
    return at > lowest ? at : -1
  }

  /** The document token a character belongs to (that of the last cut at or before it). */
  private tokenAt (offset: number): number {
    return this.tokenIndexes[this.cutAtOrBefore(offset)] as number
  }

  /**
   * The last resort, reached only if no token boundary after `start` fits: the longest
   * code-point prefix that does, found by bisection. One code point always fits (see
   * MIN_CHUNK_SIZE).
   */
  private hardCutAtCodePoints (start: number, index: number): Chunk {
    const limit = this.offsets[Math.min(this.lastCut, this.cutAtOrBefore(start) + 1)] as number
    let fits = nextCodePoint(this.text, start)
    let tooLong = limit + 1
    while (true) {
      const middle = alignToCodePoint(this.text, Math.floor((fits + tooLong) / 2))
      if (middle <= fits || middle >= tooLong) break
      chunkerWork.characters += middle - start
      if (countTokens(this.text.slice(start, skipWhitespaceBack(this.text, middle))) <= this.chunkSize) fits = middle
      else tooLong = middle
    }
    const end = skipWhitespaceBack(this.text, fits)
    const chunkText = this.text.slice(start, end)
    return { index, text: chunkText, start, end, tokenCount: countTokens(chunkText) }
  }

  /**
   * `countTokens(text.slice(start, end))`, re-tokenizing only the edges; or, for a
   * passage that cannot fit `chunkSize` (no token is over MAX_TOKEN_BYTES bytes, and a
   * UTF-16 unit is at least one byte), that lower bound, uncounted. Every caller
   * compares with `chunkSize` or less, or steps by the excess, which a lower bound
   * only makes smaller; and counting a passage that spans a long run cost a
   * re-tokenization of the run per candidate start.
   */
  private countBetween (start: number, end: number): number {
    const atLeast = Math.ceil((end - start) / MAX_TOKEN_BYTES)
    if (atLeast > this.chunkSize) return atLeast
    chunkerWork.characters += end - start + 1
    return countTokensBetween(this.text, this.boundaries, start, end)
  }

  /** The last cut at or before character `offset`. */
  private cutAtOrBefore (offset: number): number {
    return lastAtOrBelow(this.offsets, offset)
  }

  /** The first cut at or after character `offset`. */
  private cutAtOrAfter (offset: number): number {
    const cut = lastAtOrBelow(this.offsets, offset)
    return this.offsets[cut] === offset ? cut : cut + 1
  }

  /** The last cut at or before token `token`; cut 0 if none. */
  private cutAtOrBeforeToken (token: number): number {
    return Math.max(0, lastAtOrBelow(this.tokenIndexes, token))
  }

  /** The first cut at or after token `token`; the last cut if none. */
  private cutAtOrAfterToken (token: number): number {
    const cut = lastAtOrBelow(this.tokenIndexes, token)
    return cut >= 0 && this.tokenIndexes[cut] === token ? cut : Math.min(this.lastCut, cut + 1)
  }
}

/** The index of the last element ≤ `value` in an ascending array, or -1. */
function lastAtOrBelow (values: Int32Array, value: number): number {
  let low = 0
  let high = values.length - 1
  let found = -1
  while (low <= high) {
    const middle = (low + high) >>> 1
    if ((values[middle] as number) <= value) {
      found = middle
      low = middle + 1
    } else {
      high = middle - 1
    }
  }
  return found
}

const SENTENCE_ENDS = new Set(['.', '!', '?', '。', '！', '？', '｡'].map((end) => end.charCodeAt(0)))
const CJK_SENTENCE_ENDS = new Set(['。', '！', '？', '｡'].map((end) => end.charCodeAt(0)))
// Quotes and brackets that may close a sentence after its full stop: `He said "no."`
const CLOSERS = new Set(['"', '\'', ')', ']', '}', '”', '’', '»', '」', '』', '）', '】'].map((closer) => closer.charCodeAt(0)))

/** `end` moved back over at most three closing quotes or brackets. */
function skipClosers (text: string, end: number): number {
  let at = end
  while (at > 0 && end - at < 3 && CLOSERS.has(text.charCodeAt(at - 1))) at--
  return at
}

/** The first non-whitespace offset at or after `offset`, or `text.length`. */
function skipWhitespace (text: string, offset: number): number {
  let at = offset
  while (at < text.length && isWhitespace(text.charCodeAt(at))) at++
  chunkerWork.characters += at - offset + 1
  return at
}

/** `offset` moved back over whitespace: the end of the content before it. */
function skipWhitespaceBack (text: string, offset: number): number {
  let at = offset
  while (at > 0 && isWhitespace(text.charCodeAt(at - 1))) at--
  chunkerWork.characters += offset - at + 1
  return at
}

/** The offset after the code point at `offset`. */
function nextCodePoint (text: string, offset: number): number {
  const code = text.charCodeAt(offset)
  const next = text.charCodeAt(offset + 1)
  return code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? offset + 2 : offset + 1
}
