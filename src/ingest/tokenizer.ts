// The o200k_base tokenizer: token counts, and where a text's tokens begin as exact character offsets.
import bytePairRanks from 'gpt-tokenizer/bpeRanks/o200k_base'
import { countTokens as countWithOptions, encode } from 'gpt-tokenizer/encoding/o200k_base'
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants'

// Documents are data, not prompts: "<|endoftext|>" in a policy is text to count, and by default the library throws on it.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() }

/** o200k_base tokens in `text`, special-token markers counted as the plain text they are. */
export function countTokens (text: string): number {
  return hasLongStretch(text) ? countByHeapMerge(text) : countWithOptions(text, AS_PLAIN_TEXT)
}

/**
 * Past this many characters between two seams a text may hold a pre-tokenizer piece
 * this long, and the library's BPE (which rescans all of a piece's pairs after every
 * merge) is quadratic in a piece's length: 8,000 spaces take 42 ms, 500,000 would take
 * minutes. Such texts are counted by countByHeapMerge instead. Below it the library,
 * with its merge cache, is faster.
 */
export const LONG_STRETCH_CHARS = 256

/** Whether some stretch of `text` between seams (see countTokensBetween) is longer than LONG_STRETCH_CHARS. */
function hasLongStretch (text: string): boolean {
  if (text.length <= LONG_STRETCH_CHARS) return false
  let previous = 0
  for (let offset = 1; offset < text.length; offset++) {
    if (!isSeam(text, offset)) continue
    if (offset - previous > LONG_STRETCH_CHARS) return true
    previous = offset
  }
  return text.length - previous > LONG_STRETCH_CHARS
}

/**
 * The library's count, computed the library's way -- the same split pattern, then
 * byte-pair merges lowest rank first, leftmost among equals, pair ranks looked up as
 * the library does -- but with the pairs in a heap, so a piece of n bytes takes
 * O(n log n), not O(n²). Property tests check it against the library on arbitrary text.
 */
function countByHeapMerge (text: string): number {
  let count = 0
  for (const [piece] of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) count += mergeBytePairs(utf8.encode(piece)).tokens
  return count
}

/** The UTF-8 length of each of `text`'s tokens, by the same merge as countByHeapMerge. */
function tokenLengthsByHeapMerge (text: string): number[] {
  const lengths: number[] = []
  for (const [piece] of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) {
    const bytes = utf8.encode(piece)
    const { next } = mergeBytePairs(bytes)
    if (next === undefined) {
      lengths.push(bytes.length)
      continue
    }
    for (let start = 0; start < bytes.length; start = next[start] as number) lengths.push((next[start] as number) - start)
  }
  return lengths
}

const utf8 = new TextEncoder()
/** The longest o200k_base token, in bytes. */
export const MAX_TOKEN_BYTES = 128
let rankTable: Map<string, number> | undefined

/**
 * Ranks by token bytes (as a one-char-per-byte string). The library looks a byte
 * sequence up by its string when it is valid UTF-8 and among its byte-array tokens
 * otherwise, so the 9 byte-array tokens that are valid UTF-8 can never be reached
 * by a merge, and are left out here too. Built on first use: ~200,000 entries.
 */
function ranks (): Map<string, number> {
  if (rankTable !== undefined) return rankTable
  const strict = new TextDecoder('utf-8', { fatal: true })
  const table = new Map<string, number>()
  bytePairRanks.forEach((token, rank) => {
    if (typeof token === 'string') {
      table.set(Buffer.from(token, 'utf8').toString('latin1'), rank)
      return
    }
    try {
      strict.decode(Uint8Array.from(token))
    } catch {
      table.set(String.fromCharCode(...token), rank)
    }
  })
  rankTable = table
  return table
}

// The rank of the token two tokens merge into (-1: none), by left rank × 2^18 + right rank: looking pairs up by
// rank instead of by bytes made counting 3× faster. Cleared when full, so it stays within ~100 MB.
const pairRanks = new Map<number, number>()
const PAIR_CACHE_LIMIT = 1_000_000

/**
 * How many tokens BPE turns these bytes into, and where each starts: `next[start]` is
 * the start of the token after the one at `start` (the length for the last);
 * undefined for one token.
 */
function mergeBytePairs (bytes: Uint8Array): { tokens: number, next: Int32Array | undefined } {
  const length = bytes.length
  if (length <= 1) return { tokens: length, next: undefined }
  const table = ranks()
  const rankOfBytes = (start: number, end: number): number =>
    end - start > MAX_TOKEN_BYTES ? -1 : table.get(String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[])) ?? -1
  if (rankOfBytes(0, length) >= 0) return { tokens: 1, next: undefined }
  // Part i starts at byte i while it is alive; next[i] is where the following part starts (length for the last).
  // Every part is a token (a merge happens only when the pair is one), so a pair is looked up by its two ranks.
  const next = new Int32Array(length)
  const previous = new Int32Array(length)
  const partRank = new Int32Array(length)
  const pairRank = new Int32Array(length)
  const heap = new MinHeap()
  const rankOfPair = (left: number): number => {
    const right = next[left] as number
    if (right >= length) return -1
    const end = next[right] as number
    if (end - left > MAX_TOKEN_BYTES) return -1
    const key = (partRank[left] as number) * 262_144 + (partRank[right] as number)
    let rank = pairRanks.get(key)
    if (rank === undefined) {
      rank = rankOfBytes(left, end)
      if (pairRanks.size >= PAIR_CACHE_LIMIT) pairRanks.clear()
      pairRanks.set(key, rank)
    }
    return rank
  }
  for (let index = 0; index < length; index++) {
    next[index] = index + 1
    previous[index] = index - 1
    partRank[index] = rankOfBytes(index, index + 1)
  }
  for (let index = 0; index < length; index++) {
    pairRank[index] = rankOfPair(index)
    if (pairRank[index] as number >= 0) heap.push(pairRank[index] as number, index)
  }
  let parts = length
  while (heap.size > 0) {
    const entry = heap.pop()
    const rank = Math.floor(entry / 4_294_967_296)
    const start = entry % 4_294_967_296
    // An entry is stale once its part was merged away (-2) or its pair changed (a changed pair is another token, another rank).
    if (pairRank[start] !== rank) continue
    const merged = next[start] as number
    pairRank[merged] = -2
    parts--
    const after = next[merged] as number
    next[start] = after
    partRank[start] = rank
    if (after < length) previous[after] = start
    pairRank[start] = rankOfPair(start)
    if (pairRank[start] as number >= 0) heap.push(pairRank[start] as number, start)
    const before = previous[start] as number
    if (before >= 0) {
      pairRank[before] = rankOfPair(before)
      if (pairRank[before] as number >= 0) heap.push(pairRank[before] as number, before)
    }
  }
  return { tokens: parts, next }
}

/**
 * A binary min-heap of (rank, start) pairs packed as rank × 2^32 + start (exact below
 * 2^53), so ordering numbers orders by rank, then start: the library's lowest-rank,
 * leftmost choice.
 */
class MinHeap {
  private readonly entries: number[] = []

  get size (): number {
    return this.entries.length
  }

  push (rank: number, start: number): void {
    const entries = this.entries
    const entry = rank * 4_294_967_296 + start
    let child = entries.length
    entries.push(entry)
    while (child > 0) {
      const parent = (child - 1) >> 1
      if ((entries[parent] as number) <= entry) break
      entries[child] = entries[parent] as number
      child = parent
    }
    entries[child] = entry
  }

  /** Removes the smallest entry and returns it packed; `rankOf` and `startOf` unpack it. */
  pop (): number {
    const entries = this.entries
    const top = entries[0] as number
    const last = entries.pop() as number
    const size = entries.length
    if (size > 0) {
      let parent = 0
      while (true) {
        let child = 2 * parent + 1
        if (child >= size) break
        if (child + 1 < size && (entries[child + 1] as number) < (entries[child] as number)) child++
        if ((entries[child] as number) >= last) break
        entries[parent] = entries[child] as number
        parent = child
      }
      entries[parent] = last
    }
    return top
  }
}

/**
 * The token boundaries of a text that fall between whole code points. A boundary
 * inside a character (o200k splits some multi-byte UTF-8 characters, such as many
 * emoji, across tokens) has no character offset, so it is left out; every other
 * boundary is here, with `offsets` and `tokenIndexes` both strictly increasing.
 */
export interface TokenBoundaries {
  /** Character (UTF-16 code unit) offsets into the text; the first is 0 and the last is `text.length`. */
  offsets: Int32Array
  /** How many tokens of the text precede each boundary; the last is `tokenCount`. */
  tokenIndexes: Int32Array
  /** Tokens in the text: `countTokens(text)` unless there are joints. */
  tokenCount: number
  /**
   * Offsets where the text was tokenized in two parts although no seam is there, in
   * runs of over SEGMENT_CHARS characters without one (see tokenBoundaries). Token
   * indexes across a joint are off by the few tokens BPE would have merged over it.
   */
  joints: Int32Array
  /**
   * Exact token counts of the seam-to-seam stretches that hold joints, as corrections
   * to the document's count across them, keyed by each stretch's first joint. Filled
   * as passages across them are counted, so a long run is re-tokenized once, not once
   * per passage.
   */
  stretchCorrections: Map<number, { end: number, correction: number }>
}

/**
 * The most characters tokenized in one call. The library's BPE is quadratic in the
 * length of a pre-tokenizer piece and spreads a piece's tokens as call arguments, so
 * one long run of letters without spaces or punctuation takes seconds (80,000
 * letters: 2.3 s measured) and, at a few hundred thousand, overflows the stack; the
 * heap merge is not quadratic but holds ~30 bytes per byte of a piece. Text is cut at
 * the last seam before this length, which changes nothing (see countTokensBetween),
 * or, in a run this long without a seam, at a joint. 2,048 costs nothing measurable
 * on prose.
 */
export const SEGMENT_CHARS = 2048

/**
 * Tokenizes `text` once and maps each token boundary to a character offset.
 *
 * The library's own decode() is no use here: it keeps an unfinished character's
 * bytes in a module-wide TextDecoder between calls, so decoding one token at a time
 * misplaces text. Instead the offsets come from each token's byte length (from the
 * rank table the encoder itself uses) walked along the text's UTF-8 lengths, which
 * is exact and linear. A token stored as a string is whole code points, so its
 * UTF-16 length is its advance; only the ~1,600 byte-fragment tokens need the walk.
 * Lone surrogates are encoded as U+FFFD (3 bytes), one code unit either way.
 */
export function tokenBoundaries (text: string): TokenBoundaries {
  const offsets = new GrowingIntegers(Math.ceil(text.length / 3) + 1)
  const tokenIndexes = new GrowingIntegers(Math.ceil(text.length / 3) + 1)
  const joints = new GrowingIntegers(0)
  offsets.push(0)
  tokenIndexes.push(0)
  let tokenCount = 0
  let segmentStart = 0
  while (segmentStart < text.length) {
    const segmentEnd = endOfSegment(text, segmentStart)
    if (segmentEnd < text.length && !isSeam(text, segmentEnd)) joints.push(segmentEnd)
    const tokens = segmentTokens(text.slice(segmentStart, segmentEnd))
    let offset = segmentStart
    // UTF-8 bytes of the character at `offset` already consumed by earlier tokens.
    let pendingBytes = 0
    for (let index = 0; index < tokens.length; index++) {
      const token = tokens[index]
      if (typeof token === 'string' && pendingBytes === 0) {
        offset += token.length
      } else if (token !== undefined) {
        let bytes = typeof token === 'string' ? Buffer.byteLength(token) : token
        while (bytes > 0) {
          const { byteLength, units } = utf8Width(text, offset)
          const needed = byteLength - pendingBytes
          if (bytes >= needed) {
            bytes -= needed
            offset += units
            pendingBytes = 0
          } else {
            pendingBytes += bytes
            bytes = 0
          }
        }
      }
      if (pendingBytes === 0) {
        offsets.push(offset)
        tokenIndexes.push(tokenCount + index + 1)
      }
    }
    if (offset !== segmentEnd || pendingBytes !== 0) {
      throw new Error(`token offsets end at ${offset} (+${pendingBytes} bytes), not at ${segmentEnd}`)
    }
    tokenCount += tokens.length
    segmentStart = segmentEnd
  }
  return { offsets: offsets.values(), tokenIndexes: tokenIndexes.values(), tokenCount, joints: joints.values(), stretchCorrections: new Map() }
}

/**
 * A segment's tokens, each as its text (a token of whole code points) or its UTF-8
 * length. A segment with a long stretch goes through the heap merge: 3× faster than
 * the library's encode on text without spaces (1 MB of letters: 3.3 s → 1.1 s).
 */
function segmentTokens (segment: string): Array<string | number> {
  if (hasLongStretch(segment)) return tokenLengthsByHeapMerge(segment)
  return encode(segment, AS_PLAIN_TEXT).map((id) => {
    const token = bytePairRanks[id]
    if (token === undefined) throw new Error(`o200k_base produced token ${id}, which is not in its rank table`)
    return typeof token === 'string' ? token : token.length
  })
}

/** Where the segment starting at `start` ends: the text's end, the last seam within SEGMENT_CHARS, or a joint. */
function endOfSegment (text: string, start: number): number {
  const limit = start + SEGMENT_CHARS
  if (limit >= text.length) return text.length
  for (let offset = limit; offset > start; offset--) {
    if (isSeam(text, offset)) return offset
  }
  return alignToCodePoint(text, limit)
}

/**
 * `countTokens(text.slice(start, end))`, but re-tokenizing only the edges of the
 * passage, because verifying every chunk by re-tokenizing it whole doubled the cost
 * of chunking.
 *
 * Why it is exact: o200k_base first splits text into pieces with a regular
 * expression (no lookbehind) and encodes each piece on its own. Call offset p a seam
 * when the characters before and at p are (not whitespace, whitespace other than \r
 * and \n), or (\r or \n, neither whitespace nor "/"). No piece holds either pair:
 * whitespace only starts a letter or punctuation piece, whitespace pieces hold only
 * whitespace, and a line break is followed inside a piece only by another or by "/"
 * (the `[\r\n/]*` tail of punctuation). And no match before p looks at the
 * character at p except to find it is not a letter, digit, apostrophe, whitespace,
 * \r, \n or "/" -- which the end of a string is not either (a whitespace run ending
 * in a line break is taken whole by `\s*[\r\n]+` before `\s+(?!\S)` could peek).
 * So a text splits at a seam into two texts whose token counts add up, in any
 * context; and between two seams of the document a passage has exactly the
 * document's tokens. A passage without two seams (a run of CJK or Thai, one long
 * word) is re-tokenized whole. Property tests check the identity on arbitrary Unicode.
 */
export function countTokensBetween (text: string, boundaries: TokenBoundaries, start: number, end: number): number {
  let first = start + 1
  while (first < end && !isSeam(text, first)) first++
  let last = end
  while (last > first && !isSeam(text, last)) last--
  if (last <= first) return countTokens(text.slice(start, end))
  const middle = tokensBetweenSeams(text, boundaries, first, last)
  if (middle === undefined) return countTokens(text.slice(start, end))
  return countTokens(text.slice(start, first)) + middle + countTokens(text.slice(last, end))
}

/**
 * Tokens between seams `first` and `last`: the document's count, corrected for each
 * stretch holding joints by its exact count (a stretch is seam to seam, so it adds up
 * like any other). undefined if a seam is not a token boundary, which would mean the
 * tokenizer no longer splits as described above.
 */
function tokensBetweenSeams (text: string, boundaries: TokenBoundaries, first: number, last: number): number | undefined {
  const tokensAt = (offset: number): number | undefined => {
    const index = boundaryIndex(boundaries.offsets, offset)
    return index < 0 ? undefined : boundaries.tokenIndexes[index] as number
  }
  const firstTokens = tokensAt(first)
  const lastTokens = tokensAt(last)
  if (firstTokens === undefined || lastTokens === undefined) return undefined
  let tokens = lastTokens - firstTokens
  const joints = boundaries.joints
  for (let joint = firstJointAfter(joints, first); joint < joints.length && (joints[joint] as number) < last;) {
    const stretch = stretchCorrection(text, boundaries, joints[joint] as number, tokensAt)
    if (stretch === undefined) return undefined
    tokens += stretch.correction
    joint = firstJointAfter(joints, stretch.end - 1)
  }
  return tokens
}

/** The correction for the stretch whose first joint is at `joint`: its exact tokens less the document's across it. */
function stretchCorrection (text: string, boundaries: TokenBoundaries, joint: number,
  tokensAt: (offset: number) => number | undefined): { end: number, correction: number } | undefined {
  const known = boundaries.stretchCorrections.get(joint)
  if (known !== undefined) return known
  let start = joint
  while (start > 0 && !isSeam(text, start)) start--
  let end = joint
  while (end < text.length && !isSeam(text, end)) end++
  const startTokens = tokensAt(start)
  const endTokens = tokensAt(end)
  if (startTokens === undefined || endTokens === undefined) return undefined
  const stretch = { end, correction: countTokens(text.slice(start, end)) - (endTokens - startTokens) }
  boundaries.stretchCorrections.set(joint, stretch)
  return stretch
}

const LINE_FEED = 0x0a
const CARRIAGE_RETURN = 0x0d
const SLASH = 0x2f

/** Whether `offset` is a seam (see countTokensBetween): no o200k piece spans it, whatever surrounds the text. */
export function isSeam (text: string, offset: number): boolean {
  if (offset <= 0 || offset >= text.length) return false
  const before = text.charCodeAt(offset - 1)
  const at = text.charCodeAt(offset)
  if (isWhitespace(at)) return at !== LINE_FEED && at !== CARRIAGE_RETURN && !isWhitespace(before)
  return (before === LINE_FEED || before === CARRIAGE_RETURN) && at !== SLASH
}

/** Whitespace as o200k's split pattern (`\s`) and String.prototype.trim() see it, by UTF-16 code unit. */
export function isWhitespace (code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d)
  if (code < 0xa0) return false
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff
}

/** `offset` moved back if it falls between the halves of a surrogate pair. */
export function alignToCodePoint (text: string, offset: number): number {
  const code = text.charCodeAt(offset)
  const before = text.charCodeAt(offset - 1)
  return code >= 0xdc00 && code <= 0xdfff && before >= 0xd800 && before <= 0xdbff ? offset - 1 : offset
}

/** The index of the first joint after `offset`, or `joints.length`. */
function firstJointAfter (joints: Int32Array, offset: number): number {
  let low = 0
  let high = joints.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((joints[middle] as number) <= offset) low = middle + 1
    else high = middle
  }
  return low
}

/** The index of `offset` in the ascending `offsets`, or -1. */
function boundaryIndex (offsets: Int32Array, offset: number): number {
  let low = 0
  let high = offsets.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const value = offsets[middle] as number
    if (value === offset) return middle
    if (value < offset) low = middle + 1
    else high = middle - 1
  }
  return -1
}

/** An Int32Array that grows as values are pushed: a token array of a 5 MB text would otherwise be ~20 MB of doubles. */
class GrowingIntegers {
  private buffer: Int32Array
  private length = 0

  constructor (capacity: number) {
    this.buffer = new Int32Array(Math.max(16, capacity))
  }

  push (value: number): void {
    if (this.length === this.buffer.length) {
      const larger = new Int32Array(this.buffer.length * 2)
      larger.set(this.buffer)
      this.buffer = larger
    }
    this.buffer[this.length++] = value
  }

  /** The values, copied to an array of exactly their length. */
  values (): Int32Array {
    return this.buffer.slice(0, this.length)
  }
}

/** UTF-8 bytes and UTF-16 code units of the code point at `offset`, as TextEncoder (the tokenizer's encoder) sees it. */
function utf8Width (text: string, offset: number): { byteLength: number, units: number } {
  const code = text.charCodeAt(offset)
  if (Number.isNaN(code)) throw new Error(`token bytes run past the end of the text at ${offset}`)
  if (code < 0x80) return ONE_BYTE
  if (code < 0x800) return TWO_BYTES
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(offset + 1)
    if (next >= 0xdc00 && next <= 0xdfff) return SURROGATE_PAIR
  }
  return THREE_BYTES
}

const ONE_BYTE = { byteLength: 1, units: 1 }
const TWO_BYTES = { byteLength: 2, units: 1 }
const THREE_BYTES = { byteLength: 3, units: 1 }
const SURROGATE_PAIR = { byteLength: 4, units: 2 }
