// The o200k_base tokenizer: token counts, and where a text's tokens begin as exact character offsets.
import bytePairRanks from 'gpt-tokenizer/bpeRanks/o200k_base'
import { countTokens as countWithOptions, encode } from 'gpt-tokenizer/encoding/o200k_base'

// Documents are data, not prompts: "<|endoftext|>" in a policy is text to count, and by default the library throws on it.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() }

/** o200k_base tokens in `text`, special-token markers counted as the plain text they are. */
export function countTokens (text: string): number {
  return countWithOptions(text, AS_PLAIN_TEXT)
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
}

/**
 * The most characters tokenized in one call. The library's BPE is quadratic in the
 * length of a pre-tokenizer piece and spreads a piece's tokens as call arguments, so
 * one long run of letters without spaces or punctuation takes seconds (80,000
 * letters: 2.3 s measured) and, at a few hundred thousand, overflows the stack.
 * Text is cut at the last seam
 * before this length, which changes nothing (see countTokensBetween), or, in a run
 * this long without a seam, at a joint. 2,048 costs nothing measurable on prose.
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
    const tokens = encode(text.slice(segmentStart, segmentEnd), AS_PLAIN_TEXT)
    let offset = segmentStart
    // UTF-8 bytes of the character at `offset` already consumed by earlier tokens.
    let pendingBytes = 0
    for (let index = 0; index < tokens.length; index++) {
      const rank = bytePairRanks[tokens[index] as number]
      if (typeof rank === 'string' && pendingBytes === 0) {
        offset += rank.length
      } else if (rank !== undefined) {
        let bytes = typeof rank === 'string' ? Buffer.byteLength(rank) : rank.length
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
      } else {
        throw new Error(`o200k_base produced token ${tokens[index] as number}, which is not in its rank table`)
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
  return { offsets: offsets.values(), tokenIndexes: tokenIndexes.values(), tokenCount, joints: joints.values() }
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
  if (last <= first || hasJointBetween(boundaries.joints, first, last)) return countTokens(text.slice(start, end))
  const firstIndex = boundaryIndex(boundaries.offsets, first)
  const lastIndex = boundaryIndex(boundaries.offsets, last)
  // A seam that is not a token boundary would mean the tokenizer no longer splits as described above.
  if (firstIndex < 0 || lastIndex < 0) return countTokens(text.slice(start, end))
  return countTokens(text.slice(start, first)) +
    (boundaries.tokenIndexes[lastIndex] as number) - (boundaries.tokenIndexes[firstIndex] as number) +
    countTokens(text.slice(last, end))
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

/** Whether a joint lies strictly between `from` and `to`. */
function hasJointBetween (joints: Int32Array, from: number, to: number): boolean {
  if (joints.length === 0) return false
  let low = 0
  let high = joints.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((joints[middle] as number) <= from) low = middle + 1
    else high = middle
  }
  return low < joints.length && (joints[low] as number) < to
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
