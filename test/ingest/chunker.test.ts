import fc from 'fast-check'
import bytePairRanks from 'gpt-tokenizer/bpeRanks/o200k_base'
import { clearMergeCache, encode } from 'gpt-tokenizer/encoding/o200k_base'
import t from 'tap'
import { type Chunk, type ChunkOptions, chunkerWork, chunkText, countTokens } from '../../src/ingest/chunker.js'
import { countTokensBetween, isSeam, MAX_TOKEN_BYTES, SEGMENT_CHARS, tokenBoundaries, type TokenBoundaries } from '../../src/ingest/tokenizer.js'
import { seededRandom } from '../helpers/seeded-random.js'

// CHUNKER_RUNS=2000 for a deeper search than the suite's.
const RUNS = Number(process.env.CHUNKER_RUNS ?? 150)

// --- Generators ------------------------------------------------------------------------------------------------------

const WORDS = ['the', 'refund', 'policy', 'Customers', 'may', 'return', 'goods', 'within', 'thirty', 'days', 'of', 'purchase',
  'naïve', 'café', 'Straße', 'U.S.', 'e.g.', 'don\'t', 'it\'s', 'IT\'S', '2024', '3.14', '§12', 'http://example.com/a/b', 'x']
const LETTERS = [...'abcdefghijklmnopqrstuvwxyz']
const word = fc.oneof(
  { arbitrary: fc.constantFrom(...WORDS), weight: 3 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...LETTERS), minLength: 1, maxLength: 14 }), weight: 2 }
)
const punctuation = fc.constantFrom('.', ',', '!', '?', ';', ':', '"', '(', ')', '—', '...', '’', '»', '/', '-', '\'')
const whitespace = fc.constantFrom(' ', ' ', ' ', ' ', '\n', '\n\n', '\t', '  ', '\r\n', '\r\n\r\n', '\r', '\u00a0', '\u3000',
  ' \n \n ', '\u2029', '\u2028', '\n\n\n\n')
const unicode = fc.oneof(
  fc.constantFrom('🎉', '👍🏽', '👨‍👩‍👧', '🇯🇵', '𝄞', '漢字', 'テキスト', '中文句子', '。', '！', '？', '」', 'e\u0301', '\u0301',
    'a\u0308\u0304', 'ก่อน', 'Привет', 'مرحبا', '<|endoftext|>', '\ufeff', '\u200b'),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) // a lone surrogate
)
const part = fc.oneof(
  { arbitrary: word, weight: 10 },
  { arbitrary: whitespace, weight: 8 },
  { arbitrary: punctuation, weight: 3 },
  { arbitrary: unicode, weight: 2 }
)
/** Text of up to ~2,000 tokens: words, punctuation, line and paragraph breaks, emoji, CJK, combining marks, any code point. */
const documentText = fc.array(part, { maxLength: 1500, size: 'max' }).map((parts) => parts.join(''))
/**
 * Text with long stretches between seams (runs of letters, CJK, punctuation, spaces or line breaks), which the
 * tokenizer counts with its own heap merge rather than the library's: short of them documentText rarely has one.
 */
const stretchyText = fc.array(fc.oneof(
  { arbitrary: part, weight: 6 },
  {
    arbitrary: fc.tuple(fc.constantFrom('ab', 'aaaa', 'the', '漢字テ', '-', '=-', '_', '. ', '  ', ' \t', '\n', '\r\n ', '🎉', 'é', '\ud800', '<|endoftext|>', 'x1'),
      fc.integer({ min: 1, max: 700 })).map(([unit, times]) => unit.repeat(times).slice(0, 1500)),
    weight: 1
  }
), { maxLength: 40 }).map((parts) => parts.join(''))
/** Mostly documentText, sometimes stretchyText. */
const anyText = fc.oneof({ arbitrary: documentText, weight: 4 }, { arbitrary: stretchyText, weight: 1 })
const chunkOptions = fc.integer({ min: 128, max: 600 }).chain((chunkSize) => fc.record({
  chunkSize: fc.constant(chunkSize),
  chunkOverlap: fc.integer({ min: 0, max: Math.min(512, chunkSize - 1) })
}))

/**
 * Runs a property and makes its counterexample, if any, the test's failure -- escaped, because tap drops a failure
 * whose message holds control characters or lone surrogates, and those are what these counterexamples are made of.
 */
function property<T> (arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void, numRuns = RUNS): void {
  // A time limit so that shrinking a large counterexample cannot outlast tap's timeout and lose it.
  const interruptAfterTimeLimit = 30_000 + numRuns * 100
  const details = fc.check(fc.property(arbitrary, predicate), { numRuns, interruptAfterTimeLimit, markInterruptAsFailure: true })
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    throw new Error(`property failed (seed ${details.seed}, path "${details.counterexamplePath ?? ''}"): ${cause}\n` +
      `counterexample: ${printable(details.counterexample)}`)
  }
}

/** JSON with everything but printable ASCII escaped as \u{...}, safe in a tap message. */
function printable (value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (character) => `\\u{${character.codePointAt(0)?.toString(16) ?? ''}}`)
}

function check (condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}

// --- Helpers ---------------------------------------------------------------------------------------------------------

const isWhitespace = (character: string | undefined): boolean => character !== undefined && /^\s$/.test(character)

function firstContent (text: string, from: number): number {
  let at = from
  while (at < text.length && isWhitespace(text[at])) at++
  return at
}

/** The start of the word before `before` (a non-whitespace character after whitespace), if any. */
function previousWordStart (text: string, before: number): number | undefined {
  for (let at = before - 1; at > 0; at--) {
    if (!isWhitespace(text[at]) && isWhitespace(text[at - 1])) return at
  }
  return undefined
}

/** The latest start (a token boundary moved past whitespace) before `before`, if any. */
function previousBoundaryStart (text: string, offsets: Int32Array, before: number): number | undefined {
  let latest: number | undefined
  for (const offset of offsets) {
    const start = firstContent(text, offset)
    if (start < before && (latest === undefined || start > latest)) latest = start
  }
  return latest
}

const utf8 = new TextEncoder()

/** The bytes `tokens` stand for, from the rank table o200k_base's encoder and decoder both use. */
function tokenBytes (tokens: number[]): Buffer {
  return Buffer.concat(tokens.map((token) => {
    const rank = bytePairRanks[token]
    if (rank === undefined) throw new Error(`token ${token} is not in the rank table`)
    return typeof rank === 'string' ? utf8.encode(rank) : Uint8Array.from(rank)
  }))
}

/**
 * Checks tokenBoundaries(text) against the library's own encode(text): each stretch between consecutive boundaries
 * is whole code points and its tokens are exactly that text's UTF-8 bytes (lone surrogates as U+FFFD, as TextEncoder
 * writes them for the encoder), and inside a stretch no token ends between code points, so no boundary is left out.
 *
 * Bytes, not gpt-tokenizer's decode(): that pushes byte tokens through one module-wide TextDecoder, streaming and
 * never flushed, so it carries an unfinished character's bytes from one call into the next, and -- being a default
 * TextDecoder, which drops a leading byte order mark -- returns "" for a U+FEFF (two byte tokens, [EF BB] [BF]) if
 * that is the first character it ever decodes in the process. That made the property fail once in a while on
 * correct offsets (see the example below); TextEncoder has no state.
 */
function checkTokenBoundaries (text: string, boundaries: TokenBoundaries = tokenBoundaries(text)): void {
  const tokens = encode(text, { disallowedSpecial: new Set() })
  check(boundaries.joints.length === 0 && boundaries.tokenCount === tokens.length, 'token count')
  check(boundaries.offsets[0] === 0 && boundaries.offsets.at(-1) === text.length, 'first and last boundary')
  check(boundaries.tokenIndexes.at(-1) === tokens.length, 'last boundary is after the last token')
  for (let index = 1; index < boundaries.offsets.length; index++) {
    const from = boundaries.offsets[index - 1] as number
    const to = boundaries.offsets[index] as number
    const stretch = tokens.slice(boundaries.tokenIndexes[index - 1], boundaries.tokenIndexes[index])
    const expected = utf8.encode(text.slice(from, to))
    check(to > from && tokenBytes(stretch).equals(expected), `stretch ${from}–${to}`)
    // A token ending inside the stretch ends inside a character: the next byte continues it (10xxxxxx).
    let inside = 0
    for (const token of stretch.slice(0, -1)) {
      inside += tokenBytes([token]).length
      check(((expected[inside] as number) & 0xc0) === 0x80, `a boundary inside stretch ${from}–${to} is left out`)
    }
  }
}

const random = seededRandom

const PROSE = ['the', 'customer', 'may', 'return', 'any', 'item', 'within', 'thirty', 'days', 'of', 'delivery', 'and', 'receive',
  'a', 'full', 'refund', 'provided', 'that', 'goods', 'are', 'unused', 'in', 'their', 'original', 'packaging', 'our', 'team',
  'will', 'inspect', 'each', 'parcel', 'before', 'approving', 'credit', 'to', 'account']

function sentence (next: () => number): string {
  const words = Array.from({ length: 6 + Math.floor(next() * 9) }, () => PROSE[Math.floor(next() * PROSE.length)] as string)
  const text = words.join(' ')
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`
}

function paragraphs (count: number, seed: number): string {
  const next = random(seed)
  return Array.from({ length: count }, () => Array.from({ length: 3 + Math.floor(next() * 4) }, () => sentence(next)).join(' ')).join('\n\n')
}

// --- Properties ------------------------------------------------------------------------------------------------------

t.test('token boundaries map to exact character offsets for any text', async (t) => {
  property(documentText, checkTokenBoundaries)
  t.pass('offsets are exact')
})

t.test('token counts and boundaries equal the library\'s on text with long runs', async (t) => {
  property(stretchyText, (text) => {
    check(countTokens(text) === encode(text, { disallowedSpecial: new Set() }).length, 'countTokens')
    // Runs side by side can make a stretch over SEGMENT_CHARS, cut at a joint: the edge-counting property covers those.
    const boundaries = tokenBoundaries(text)
    if (boundaries.joints.length === 0) checkTokenBoundaries(text, boundaries)
  }, Math.ceil(RUNS * 2 / 3))
  // The chunker's lower bound on a long passage's tokens rests on this.
  t.equal(bytePairRanks.reduce<number>((longest, token) => Math.max(longest, typeof token === 'string' ? Buffer.byteLength(token) : token.length), 0), MAX_TOKEN_BYTES)
})

t.test('counting a passage by its edges equals re-tokenizing it', async (t) => {
  property(fc.tuple(fc.oneof(documentText, stretchyText), fc.nat(), fc.nat()), ([text, a, b]) => {
    let start = Math.min(a, b) % (text.length + 1)
    let end = Math.max(a, b) % (text.length + 1)
    if (end < start) [start, end] = [end, start]
    // Code-point aligned, as chunk edges are.
    if (/[\udc00-\udfff]/.test(text.charAt(start)) && /[\ud800-\udbff]/.test(text.charAt(start - 1))) start--
    if (/[\udc00-\udfff]/.test(text.charAt(end)) && /[\ud800-\udbff]/.test(text.charAt(end - 1))) end--
    const boundaries = tokenBoundaries(text)
    check(countTokensBetween(text, boundaries, start, end) === countTokens(text.slice(start, end)), `${start}–${end}`)
    // The identity it rests on, at up to 20 seams per text.
    const seams = Array.from({ length: text.length }, (_, offset) => offset).filter((offset) => isSeam(text, offset))
    const whole = countTokens(text)
    for (const offset of seams.filter((_, index) => index % Math.ceil(seams.length / 20) === 0)) {
      check(whole === countTokens(text.slice(0, offset)) + countTokens(text.slice(offset)), `seam at ${offset}`)
    }
  }, Math.ceil(RUNS * 2 / 3))
  t.pass('edge counting is exact')
})

t.test('every chunk is an exact, trimmed slice within the token limit', async (t) => {
  property(fc.tuple(anyText, chunkOptions), ([text, options]) => {
    const chunks = chunkText(text, options)
    chunks.forEach((chunk, index) => {
      check(chunk.index === index, `index ${index}`)
      check(text.slice(chunk.start, chunk.end) === chunk.text, `chunk ${index} is text.slice(start, end)`)
      check(chunk.text.length > 0 && chunk.text === chunk.text.trim(), `chunk ${index} is non-empty and trimmed`)
      check(chunk.tokenCount === countTokens(chunk.text), `chunk ${index} tokenCount is countTokens(text)`)
      check(chunk.tokenCount <= options.chunkSize, `chunk ${index} has ${chunk.tokenCount} > ${options.chunkSize} tokens`)
    })
  })
  t.pass('token bounds hold')
})

t.test('chunks cover all the text, in order', async (t) => {
  property(fc.tuple(anyText, chunkOptions), ([text, options]) => {
    const chunks = chunkText(text, options)
    if (text.trim() === '') {
      check(chunks.length === 0, 'no chunks for blank text')
      return
    }
    check(chunks[0]?.start === firstContent(text, 0), 'starts at the first non-whitespace character')
    check(chunks.at(-1)?.end === text.trimEnd().length, 'ends after the last non-whitespace character')
    for (let index = 1; index < chunks.length; index++) {
      const previous = chunks[index - 1] as Chunk
      const chunk = chunks[index] as Chunk
      check(chunk.start > previous.start && chunk.end > previous.end, `chunk ${index} moves forward`)
      check(chunk.start <= firstContent(text, previous.end), `nothing but whitespace between chunks ${index - 1} and ${index}`)
    }
    const covered = new Uint8Array(text.length)
    for (const chunk of chunks) covered.fill(1, chunk.start, chunk.end)
    for (let offset = 0; offset < text.length; offset++) {
      check(covered[offset] === 1 || isWhitespace(text[offset]), `character ${offset} is in a chunk`)
    }
  })
  t.pass('no text is lost')
})

/**
 * The overlap guarantee, for every pair of consecutive chunks: the shared text has at most chunk_overlap tokens (none
 * when chunk_overlap is 0), and it is maximal -- starting at the previous start of the same kind (a word start, or a
 * token boundary inside a word), if that is after the previous chunk's start, would take it over chunk_overlap, or
 * leave the next chunk no room: its shortest form, ending at the first token boundary after the previous chunk,
 * would be over chunk_size.
 */
function checkOverlaps (text: string, options: ChunkOptions, chunks: Chunk[]): void {
  const offsets = tokenBoundaries(text).offsets
  for (let index = 1; index < chunks.length; index++) {
    const previous = chunks[index - 1] as Chunk
    const chunk = chunks[index] as Chunk
    const shared = chunk.start < previous.end ? text.slice(chunk.start, previous.end) : ''
    check(countTokens(shared) <= options.chunkOverlap, `overlap ${index} has ${countTokens(shared)} > ${options.chunkOverlap} tokens`)
    if (options.chunkOverlap === 0) {
      check(chunk.start >= previous.end, `chunks ${index - 1} and ${index} do not overlap`)
      continue
    }
    const atWord = isWhitespace(text[chunk.start - 1])
    const earlier = atWord ? previousWordStart(text, chunk.start) : previousBoundaryStart(text, offsets, chunk.start)
    if (earlier === undefined || earlier <= previous.start) continue
    const progress = firstContent(text, previous.end)
    const shortestEnd = text.slice(0, offsets.find((offset) => offset > progress)).trimEnd().length
    const longer = countTokens(text.slice(earlier, previous.end))
    const crowded = countTokens(text.slice(earlier, shortestEnd))
    check(longer > options.chunkOverlap || crowded > options.chunkSize,
      `overlap ${index} could start at ${earlier} (${longer} tokens, ${crowded} in the shortest chunk) instead of ${chunk.start}`)
  }
}

t.test('consecutive chunks share as much as fits in chunk_overlap tokens', async (t) => {
  property(fc.tuple(anyText, chunkOptions), ([text, options]) => checkOverlaps(text, options, chunkText(text, options)))
  t.pass('overlap is bounded and maximal')
})

t.test('chunking is deterministic', async (t) => {
  property(fc.tuple(documentText, documentText, chunkOptions), ([text, other, options]) => {
    const first = chunkText(text, options)
    chunkText(other, options)
    clearMergeCache() // the tokenizer's cache must not change any result
    check(JSON.stringify(chunkText(text, options)) === JSON.stringify(first), 'same chunks twice')
  }, Math.ceil(RUNS / 3))
  t.pass('deterministic')
})

// --- Examples --------------------------------------------------------------------------------------------------------

t.test('blank and short texts', async (t) => {
  t.same(chunkText('', { chunkSize: 512, chunkOverlap: 64 }), [])
  t.same(chunkText(' \n\n\t\u3000 ', { chunkSize: 512, chunkOverlap: 64 }), [])
  t.same(chunkText('\n  Refunds take 5 days.  \n', { chunkSize: 512, chunkOverlap: 64 }), [
    { index: 0, text: 'Refunds take 5 days.', start: 3, end: 23, tokenCount: countTokens('Refunds take 5 days.') }
  ])
  t.equal(chunkText('Say <|endoftext|> to end.', { chunkSize: 128, chunkOverlap: 0 })[0]?.text, 'Say <|endoftext|> to end.',
    'special-token markers are plain text')
})

t.test('token boundaries around a byte order mark, and the text that once failed the offsets property', async (t) => {
  // U+FEFF is two byte tokens and a boundary falls only after both; lone surrogates are one 3-byte U+FFFD each.
  for (const text of ['\ufeff', '\ufeffa', 'a\ufeff', '\ufeff\ufeff', '\r\n  \ufeffna\u00efve', 'x\ud800y\udc00', '<|endoftext|>\ufeff']) {
    t.doesNotThrow(() => checkTokenBoundaries(text), printable(text))
  }
  // The check itself catches a shifted offset, a stretch ending inside U+FEFF, and a boundary left out.
  const start = '\r\n  \ufeffna\u00efve'
  const right = tokenBoundaries(start)
  const wrong = (offsets: number[], tokenIndexes: number[]): TokenBoundaries =>
    ({ ...right, offsets: Int32Array.from(offsets), tokenIndexes: Int32Array.from(tokenIndexes) })
  t.same([Array.from(right.offsets), Array.from(right.tokenIndexes)], [[0, 2, 4, 5, 7, 8, 10], [0, 1, 2, 4, 5, 6, 7]])
  t.throws(() => checkTokenBoundaries(start, wrong([0, 2, 4, 6, 7, 8, 10], [0, 1, 2, 4, 5, 6, 7])), { message: 'stretch 4–6' })
  t.throws(() => checkTokenBoundaries(start, wrong([0, 2, 4, 5, 7, 8, 10], [0, 1, 3, 4, 5, 6, 7])), { message: 'stretch 2–4' })
  t.throws(() => checkTokenBoundaries(start, wrong([0, 2, 5, 7, 8, 10], [0, 1, 4, 5, 6, 7])),
    { message: 'a boundary inside stretch 2–5 is left out' })
  // Seed 1240499842, path "0": U+FEFF at 4 was the first character of this process that gpt-tokenizer's decode()
  // put through its TextDecoder, which took it for a byte order mark and decoded "" -- the offsets were right.
  const counterexample = BOM_COUNTEREXAMPLE.join('')
  t.equal(counterexample.length, 3062)
  const { offsets, tokenIndexes } = tokenBoundaries(counterexample)
  t.same([Array.from(offsets.slice(0, 7)), Array.from(tokenIndexes.slice(0, 7))], [Array.from(right.offsets), Array.from(right.tokenIndexes)],
    'it starts as that text does: CR LF and two spaces a token each, U+FEFF two')
  t.doesNotThrow(() => checkTokenBoundaries(counterexample), 'offsets are exact')
})

t.test('options outside the supported range are refused', async (t) => {
  t.throws(() => chunkText('text', { chunkSize: 7, chunkOverlap: 0 }), RangeError)
  t.throws(() => chunkText('text', { chunkSize: 128.5, chunkOverlap: 0 }), RangeError)
  t.throws(() => chunkText('text', { chunkSize: 128, chunkOverlap: 128 }), RangeError)
  t.throws(() => chunkText('text', { chunkSize: 128, chunkOverlap: -1 }), RangeError)
})

t.test('paragraphs are kept whole when they fit', async (t) => {
  const text = paragraphs(40, 1)
  for (const chunkOverlap of [0, 32]) {
    const chunks = chunkText(text, { chunkSize: 256, chunkOverlap })
    t.ok(chunks.length >= 5, `${chunks.length} chunks with overlap ${chunkOverlap}`)
    for (const chunk of chunks.slice(0, -1)) {
      t.equal(text.slice(chunk.end, chunk.end + 2), '\n\n', `chunk ${chunk.index} (overlap ${chunkOverlap}) ends at a paragraph break`)
      t.ok(chunk.tokenCount >= 120, `chunk ${chunk.index} uses over half the window (${chunk.tokenCount} tokens)`)
    }
    if (chunkOverlap === 0) {
      for (const chunk of chunks) t.ok(chunk.start === 0 || text.slice(chunk.start - 2, chunk.start) === '\n\n', `chunk ${chunk.index} starts a paragraph`)
    }
  }
})

t.test('text without paragraphs is cut at sentence ends', async (t) => {
  const next = random(2)
  const text = Array.from({ length: 120 }, () => sentence(next)).join(' ')
  const chunks = chunkText(text, { chunkSize: 128, chunkOverlap: 0 })
  t.ok(chunks.length >= 8, `${chunks.length} chunks`)
  for (const chunk of chunks.slice(0, -1)) {
    t.ok(chunk.text.endsWith('.') && text[chunk.end] === ' ', `chunk ${chunk.index} ends a sentence`)
    t.ok(chunk.start === 0 || text[chunk.start - 2] === '.', `chunk ${chunk.index} starts a sentence`)
  }
  const cjk = Array.from({ length: 200 }, (_, index) => `第${index}条规定客户可以在三十天内退货并获得全额退款。`).join('')
  const cjkChunks = chunkText(cjk, { chunkSize: 128, chunkOverlap: 0 })
  t.ok(cjkChunks.length >= 5, `${cjkChunks.length} CJK chunks`)
  for (const chunk of cjkChunks.slice(0, -1)) t.ok(chunk.text.endsWith('。'), `CJK chunk ${chunk.index} ends at 。`)
  t.equal(cjkChunks.map((chunk) => chunk.text).join(''), cjk, 'CJK chunks tile the text')
})

t.test('a 10,000-character word is hard-cut at the token limit', async (t) => {
  const next = random(3)
  const word = Array.from({ length: 10_000 }, () => LETTERS[Math.floor(next() * LETTERS.length)] as string).join('')
  const tiled = chunkText(word, { chunkSize: 128, chunkOverlap: 0 })
  t.ok(tiled.length >= 15, `${tiled.length} chunks`)
  t.equal(tiled.map((chunk) => chunk.text).join(''), word, 'the chunks tile the word exactly')
  for (const chunk of tiled.slice(0, -1)) {
    t.ok(chunk.tokenCount <= 128 && chunk.tokenCount >= 124, `chunk ${chunk.index} is cut at the window end (${chunk.tokenCount} tokens)`)
  }
  const overlapping = chunkText(word, { chunkSize: 128, chunkOverlap: 16 })
  for (let index = 1; index < overlapping.length; index++) {
    const previous = overlapping[index - 1] as Chunk
    const chunk = overlapping[index] as Chunk
    const shared = countTokens(word.slice(chunk.start, previous.end))
    t.ok(shared <= 16 && shared >= 12, `overlap ${index} is ${shared} tokens`)
  }
})

t.test('overlap is literally the end of the previous chunk', async (t) => {
  const text = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty'
  const chunks = chunkText(text, { chunkSize: 8, chunkOverlap: 3 })
  // Every word here is one token after a space. Without its space "eleven" is two, so the second overlap
  // "eleven twelve thirteen" would be 4 tokens and shrinks to two words; "sixteen" likewise.
  t.same(chunks.map((chunk) => chunk.text), [
    'one two three four five six seven eight',
    'six seven eight nine ten eleven twelve thirteen',
    'twelve thirteen fourteen fifteen sixteen seventeen eighteen',
    'seventeen eighteen nineteen twenty'
  ])
  t.same(chunks.map((chunk) => chunk.tokenCount), [8, 8, 8, 5])
  for (const [index, shared] of ['six seven eight', 'twelve thirteen', 'seventeen eighteen'].entries()) {
    const previous = chunks[index] as Chunk
    const chunk = chunks[index + 1] as Chunk
    t.equal(text.slice(chunk.start, previous.end), shared, `overlap ${index + 1}`)
    t.ok(previous.text.endsWith(shared) && chunk.text.startsWith(shared))
  }
})

t.test('a long run without seams is tokenized in parts and still chunked exactly', async (t) => {
  // Without spaces, line breaks or punctuation this is one pre-tokenizer piece, which the library encodes in time
  // quadratic in its length (and, at a few hundred thousand characters, overflows the stack doing so).
  const next = random(4)
  const run = Array.from({ length: 30_000 }, () => String.fromCodePoint(0x4e00 + Math.floor(next() * 20_000))).join('')
  const text = `Preamble in words.\n\n${run}\n\nClosing words here.`
  const started = performance.now()
  const boundaries = tokenBoundaries(text)
  t.ok(boundaries.joints.length >= Math.floor(run.length / SEGMENT_CHARS) - 1, `${boundaries.joints.length} joints`)
  for (const options of [{ chunkSize: 512, chunkOverlap: 0 }, { chunkSize: 1024, chunkOverlap: 128 }]) {
    const chunks = chunkText(text, options)
    t.ok(chunks[0]?.text.startsWith('Preamble in words.\n\n'), 'the first chunk starts with the preamble')
    t.ok(chunks.at(-1)?.text.endsWith('\n\nClosing words here.'), 'the last chunk ends with the closing words')
    t.ok(chunks.every((chunk) => text.slice(chunk.start, chunk.end) === chunk.text && chunk.tokenCount === countTokens(chunk.text) &&
      chunk.tokenCount <= options.chunkSize), `exact chunks within ${options.chunkSize} tokens`)
    t.ok(chunks.every((chunk, index) => index === 0 || (options.chunkOverlap === 0
      ? chunk.start === (chunks[index - 1] as Chunk).end
      : chunk.start < (chunks[index - 1] as Chunk).end)), options.chunkOverlap === 0 ? 'chunks tile the run' : 'chunks overlap')
  }
  t.ok(performance.now() - started < 10_000, `done in ${Math.round(performance.now() - started)} ms`)
  // Across a joint, counting falls back to re-tokenizing: still exact.
  const joined = `one two ${'a'.repeat(3 * SEGMENT_CHARS)} three four`
  t.equal(countTokensBetween(joined, tokenBoundaries(joined), 0, joined.length), countTokens(joined))
})

/** The chunker's work (characters scanned plus characters whose tokens it counted) on `text`, per character of it. */
function workPerCharacter (text: string, options: ChunkOptions): number {
  const before = chunkerWork.characters
  chunkText(text, options)
  return (chunkerWork.characters - before) / text.length
}

t.test('chunking does work linear in the text\'s length, whatever the text', async (t) => {
  // Work, not time: the ratio of counts is exact on a loaded machine. Scanning to the text's end for every chunk (as
  // word starts once were found) shows as a ratio near 8 × 8.
  const next = random(5)
  const letters = (length: number): string => Array.from({ length }, () => LETTERS[Math.floor(next() * LETTERS.length)] as string).join('')
  const cjk = (length: number): string => Array.from({ length }, () => String.fromCodePoint(0x4e00 + Math.floor(next() * 20_000))).join('')
  const prose = paragraphs(4, 6)
  const kinds: Record<string, (length: number) => string> = {
    'letters without whitespace': letters,
    'CJK without whitespace or sentence ends': cjk,
    'one character repeated': (length) => 'a'.repeat(length),
    'punctuation only': (length) => '-.'.repeat(length / 2),
    'one huge word inside prose': (length) => `${prose}\n\n${letters(length)} ${prose}`,
    'a huge whitespace run inside prose': (length) => `${prose}${' \t'.repeat(length / 2)}${prose}`,
    'a huge run of line breaks inside prose': (length) => `${prose}${'\n'.repeat(length)}${prose}`,
    'words far apart': (length) => Array.from({ length: length / 5000 }, () => letters(4999)).join(' ')
  }
  // n is over 128 × chunk_size characters (the most one chunk can hold), so both sizes take many chunks; an overlap
  // close to chunk_size makes the most candidate starts per chunk.
  const n = 20_000
  const settings = [{ chunkSize: 128, chunkOverlap: 16 }, { chunkSize: 128, chunkOverlap: 120 }]
  for (const [kind, generate] of Object.entries(kinds)) {
    for (const options of kind.startsWith('letters') || kind.includes('whitespace run') ? settings : settings.slice(0, 1)) {
      const small = workPerCharacter(generate(n), options)
      const large = workPerCharacter(generate(8 * n), options)
      t.ok(large <= small * 1.25 + 2, `${kind}, ${options.chunkSize}/${options.chunkOverlap}: ${small.toFixed(1)} then ${large.toFixed(1)} characters of work per character at 8× the length`)
    }
  }
})

t.test('overlap gives way when a long whitespace run leaves no room for new text', async (t) => {
  const text = `${'alpha beta gamma delta '.repeat(60)}\n${'\t \n'.repeat(60)}${'omega psi chi '.repeat(40)}`
  const options = { chunkSize: 128, chunkOverlap: 100 }
  const chunks = chunkText(text, options)
  const overlaps = chunks.slice(1).map((chunk, index) => countTokens(text.slice(chunk.start, (chunks[index] as Chunk).end)))
  // The run is 60 tokens: the chunk holding it keeps only what fits beside it and the first new word.
  t.same(overlaps, [100, 100, 100, 100, 66, 100, 100, 57])
  for (let run = 40; run <= 70; run++) {
    const spaced = `${'alpha beta gamma delta '.repeat(60)}\n${'\t \n'.repeat(run)}${'omega psi chi '.repeat(40)}`
    t.doesNotThrow(() => checkOverlaps(spaced, options, chunkText(spaced, options)), `as much as fits, after a ${run}-token run`)
  }
})

/** The counterexample of seed 1240499842 (fast-check 4.11.0), exactly. */
const BOM_COUNTEREXAMPLE = [
  '\r\n  \u{feff}na\u{ef}ve \u{3b48b} xrgjuothykeqit\'s\u{3000}3.14\u{1f1ef}\u{1f1f5}/\r\n\r\nxovcaejpurchase\tubas',
  'bdhowr\n\n\u{a7}12\ndays\u{a7}12\r\n\r\nlkxkthsmqfjxthewithin\tna\u{ef}ve\u{2029}don\'t  \u{a0}don\'t \u{a7}12  ',
  '\r\nokey \u{bb}\u{2029}!/\nan!thirty"IT\'S;http://example.com/a/bIT\'S  may \u{fffd}-prxchwwwnoxf\tname\u{1f44d}',
  '\u{1f3fd} \u{2029}\u{2}\u{90a62}thirtytheit\'shar\u{30c6}\u{30ad}\u{30b9}\u{30c8}ref  fepy "policy-klaooyrefl-\r',
  'e.g.name\u{1f1ef}\u{1f1f5} -gqdp3.14U.S.\r\nexmzcybdt\u{3000}key \tcbk)/fhiydfcym\tIT\'Sthirty/purchaseconstruct',
  'or;\u{a7}12\u{fffd} \n\n\n\n it\'s-it\'sof\u{fffd}\n\n \n \n refthirtyar\u{1f468}\u{200d}\u{1f469}\u{200d}',
  '\u{1f467}  policy\t2024\r\n\r\n\r\nggavdwy\r\nrefund\u{fffd}\r\r  \r\nthirtyhttp://example.com/a/bxalbcnpfomzy',
  '\u{2014}\r\n\r\nncirrvjpiiwgry,\u{fffd}may\'2024\te.g.\u{fffd}bi\u{2014}\r\n\u{a7}12na\u{ef}ve( dexnnU.S.\tdon\'',
  'tioxoy\u{2028} http://example.com/a/b3.14\r\n\n\r\ne.g.U.S.goods\nxons\t \r\n\r\nthe\r\n\r\n;\u{2028}\n\n\n\na',
  '\u{308}\u{304}xdaysna\u{ef}ve\rit\'s \n \n rkhhdpr\u{a7}12it\'s\r\nsxvhisqiv \n\n\n\nreturnhttp://example.com/a/',
  'b,\u{5f731}\u{1f817}kt\u{bb}U.S.blxellnnxloleaw uhhttp://example.com/a/b \n \n !\u{2028}don\'t  \u{3000}  \n \n ',
  '\r\n\r\ndnzkhrkw,\u{fffd}\u{2029}http://example.com/a/bpurchaseCustomersdays \u{41f}\u{440}\u{438}\u{432}\u{435}',
  '\u{442}\n\n\n\n\u{1d11e}.pqpulpxwuqrefundStra\u{df}ewithin \u{30c6}\u{30ad}\u{30b9}\u{30c8} Customers \u{2029}',
  '\u{2014}Customers \r\nsgchqodfcawp\u{2029}\r\n?ph\u{bb}...  a\u{308}\u{304}:\u{ff01}\u{ff01}bind  dayssy\u{2019}',
  ' \n \n  2024,\u{bb}\n\nmayrtbhpoxltzqq\n\n\n\n\u{2028},caf\u{e9}x\u{2028} within\u{2019}\r\nreturn\n\n   \n \n  ',
  ' \u{3000}days\r\n\r\n\r\n\r\nnouotlvvpotrxqmjimvsthirty.yij\r<|endoftext|>withinhttp://example.com/a/betk\r\nsly',
  'lfqzaam\t\n\n\n\n \u{a7}12\u{fffd}of\u{a0}rc\n\nrefundseg\u{2019}\r\n\r\nwithin\u{fffd}keywithinit\'s refund\r\n',
  '\r\n(kbysa   \u{a0}wv  \u{1f1ef}\u{1f1f5}\u{1f389}  \u{301}\n\ne\u{301}\u{2028}\u{3000}juvzqryzan\u{a0}/\r\n ecd',
  'on\'t\u{3000}Customers\u{fffd}\u{3000}bvrnmgfpe.g.\u{fffd} U.S.va\u{3000}:U.S.e.g.e.g.\n\n\n\n \u{fffd}heqioq \n',
  ' \n pt \n \n \rCustomersprototypea\r\'\u{a0}e.g.\n\n\n\n na\u{ef}ve\u{2029}\r\n\r\n\u{3000}a\u{6f22}\u{5b57}f...',
  '\u{34a75},zx\u{fffd}lp\u{fffd}!\u{2029}?\u{fffd}vjhzaqzaogrtdi\n \n \n withinreturn\u{79a43}\u{a28b}\u{f827c}wps',
  'zokzljau\u{feff}Stra\u{df}e3.14Stra\u{df}e) \n \n http://example.com/a/b,thirty\u{41f}\u{440}\u{438}\u{432}',
  '\u{435}\u{442}tcp\u{2028}cqxgvyufo \n \n \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}.\u{fffd}\r\n\r\n  \n \n \n',
  '\ne.g. \u{2019}\u{fffd}\u{a0}it\'stwzCustomerspolicy\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}c(thirty!Customer',
  'srname \n \n \r\nofbo\u{a7}12znqlfle.g.e.g.\n\n\n\n\u{fbc96}purchase...iofrywStra\u{df}e\n\n\n\nStra\u{df}ekcniq',
  'hfscz\u{2029}zju \n \n  \n \n \r\n\r\n:\u{508bf}\u{fffd}http://example.com/a/b \n \n :dgvfnzaqihjxcharoirbpvwrsh',
  'wveit\'sidmwqbj ...\r\n\u{fffd}\u{3000}Stra\u{df}e\r\r \u{428f9}\u{aaecd}\u{b830c}\u{96bec}\t-)deu \t2024 ',
  '\u{fffd} \u{bb} ;\u{3002}\u{3000}\u{a7}12refundpurchase  hbpmzrxz\u{3000}\rthirtycaf\u{e9}e.g.mayj\u{a7}12\n\r\n',
  '   thirtyg \n \n :the\n\n\n\n\t\u{a0},!\u{2028}\u{2029}\u{e01}\u{e48}\u{e2d}\u{e19}\t\n\n\u{2029}\u{2028}g\r\nre',
  'fund"\u{2029} \tvyvStra\u{df}e\r\n\u{447a8}\u{add4c}\u{1b2b9}   IT\'S\u{1f1ef}\u{1f1f5}\tlptcthirty nzy \u{645}',
  '\u{631}\u{62d}\u{628}\u{627}\n\nkeya 2024\u{1f1ef}\u{1f1f5}a\ndon\'t... \n \n U.S.\u{2014}edays\u{3000}ukoqrztus',
  'wfqjktryipStra\u{df}e pnlt\rdon\'t\u{fffd}zcwlswiqoxznhttp://example.com/a/b\u{2014}Customersit\'sbopm refund',
  '\u{10ffeb}\u{e}\u{a1173}\u{dc54f}daysCustomers\t\u{3000} \r\n\r\n\n\n\n\nwithinduzgolwrmay  \u{2028}\u{2014}of',
  '\u{2029}\u{bb}ofhttp://example.com/a/bthirty thirtythe-\u{bb}uf\u{fffd}daysanzf\u{190da}\u{4e802}jncappl\n\n\n\n',
  '\r\n\r\n\t\u{bb}3.14 goods \u{bb}dlc:purchase\u{fffd}euvpk\u{2028}\r\ndon\'tcaf\u{e9}qplilwe\u{2019}aurikeypurch',
  'asevIT\'S return\r\n\u{a0} \n\n Customerse.g.kldswithinjygifcmmj\n\n\n\nreturnckxagmqpejgolit\'s...\u{4e2d}',
  '\u{6587}\u{53e5}\u{5b50}\u{6f22}\u{5b57}xreturnargume \u{3002}qcywyz,the?(\r\n3.14\u{300d}\r\n\n\n\nStra\u{df}ep',
  'olicyCustomers\u{3000}refund\t\r\n\r\n\u{2019}may  U.S.\n\n\nvdtohbjobasupcakny\u{2029}-length\u{fffd}\r\n\r\nU.',
  'S.,x \u{3000}\n\n\n\n\u{bb} pmuvbzyrnmrpolicy\r\nin-don\'t\u{2029}\u{3000}refund\r\n\u{bb}the\n\n   it\'s 3.14 ',
  '\n \n refund within \n \n qqznombey ofcaf\u{e9}return"\u{a7}12purchase  e.g.  \n \n sosayfyvdon\'tfvpjxrxsvr\n\n',
  'http://example.com/a/bcallpmefappthe\u{3000}lfcfcxcgkek.theca\u{1f1ef}\u{1f1f5}\tbkeyfst the:maydon\'tu;\n\n\n\n',
  '\u{3000}\u{3000}   refundawanpolicy\u{fffd}\u{a7}12refcallpolicy    within.\n\n\n\n:nuois\n\ne.g."  \n \n  kvswh',
  '\n-\'\r\nkzq\ngoodshrexrqyurhfzlhttp://example.com/a/bdon\'tpcxddtvoufkp\r\n\r\n2024wltyscaf\u{e9}IT\'Smenchttp:',
  '//example.com/a/bcaf\u{e9}\u{4ebdd}2024\u{3000}\u{bb} )\u{5c73d}\u{d7472}of\u{2028}epmyoi\u{2019}frwxwajexage',
  '\u{2029}\u{2019}\u{fffd}policy\n it\'s"ltlo http://example.com/a/bdon\'tcaf\u{e9}\u{2028}3.14refund-\u{bb}\r\nre',
  'turn:\nofU.S.c ofuy\nreturn\r\n\r\n\u{2028}caf\u{e9}may'
]
