import fc from 'fast-check'
import { clearMergeCache, decode, encode } from 'gpt-tokenizer/encoding/o200k_base'
import t from 'tap'
import { type Chunk, type ChunkOptions, chunkText, countTokens } from '../../src/ingest/chunker.js'
import { countTokensBetween, isSeam, SEGMENT_CHARS, tokenBoundaries } from '../../src/ingest/tokenizer.js'
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
      `counterexample: ${JSON.stringify(details.counterexample).replace(/[^\x20-\x7e]/gu, (character) => `\\u{${character.codePointAt(0)?.toString(16) ?? ''}}`)}`)
  }
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
  // Well-formed text only here: this property compares against gpt-tokenizer's decode, which keeps state between
  // calls around lone surrogates and so disagrees with itself on rare inputs. jack never chunks lone surrogates (JSON
  // bodies holding them are refused; the extractors' decoders cannot produce them); the chunk properties below still
  // include them.
  property(documentText.map((text) => text.toWellFormed()), (text) => {
    const boundaries = tokenBoundaries(text)
    const tokens = encode(text, { disallowedSpecial: new Set() })
    check(boundaries.joints.length === 0 && boundaries.tokenCount === tokens.length, 'token count')
    check(boundaries.offsets[0] === 0 && boundaries.offsets.at(-1) === text.length, 'first and last boundary')
    check(boundaries.tokenIndexes.at(-1) === tokens.length, 'last boundary is after the last token')
    // Each stretch between consecutive boundaries is whole code points, so it decodes alone to exactly that text
    // (lone surrogates come back as U+FFFD, as UTF-8 cannot hold them).
    for (let index = 1; index < boundaries.offsets.length; index++) {
      const from = boundaries.offsets[index - 1] as number
      const to = boundaries.offsets[index] as number
      const decoded = decode(tokens.slice(boundaries.tokenIndexes[index - 1], boundaries.tokenIndexes[index]))
      check(to > from && decoded === text.slice(from, to).replace(/[\ud800-\udfff]/gu, '\ufffd'), `stretch ${from}–${to}`)
    }
  })
  t.pass('offsets are exact')
})

t.test('counting a passage by its edges equals re-tokenizing it', async (t) => {
  property(fc.tuple(documentText, fc.nat(), fc.nat()), ([text, a, b]) => {
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
  property(fc.tuple(documentText, chunkOptions), ([text, options]) => {
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
  property(fc.tuple(documentText, chunkOptions), ([text, options]) => {
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
  property(fc.tuple(documentText, chunkOptions), ([text, options]) => checkOverlaps(text, options, chunkText(text, options)))
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
