// Splits text into sentences with exact offsets, so an answer can quote them verbatim and cite where they are.

/** A sentence of a text: `text === source.slice(start, end)`, non-empty and trimmed. */
export interface Sentence {
  text: string
  start: number
  end: number
}

/**
 * Longer stretches without a sentence end (tables, lists without punctuation, text
 * extracted from slides) are split at line breaks and then at semicolons, so that no
 * "sentence" an answer quotes is a whole page.
 */
export const MAX_SENTENCE_CHARS = 600

/**
 * The sentences of `text`, in order, non-overlapping, each trimmed of whitespace and
 * of a leading list marker ("- ", "• ", "3. ", "(a) ", "## ").
 *
 * Where a sentence ends:
 * - at `.`, `!`, `?`, `…` (and runs of them, closing quotes and brackets included)
 *   followed by whitespace, unless the next word starts with a lower-case letter, or
 *   the full stop closes an abbreviation (titles such as "Dr." and "e.g." never end
 *   a sentence; "etc.", "Inc." and initialisms such as "U.S." do only before a word
 *   that usually starts one, such as "The"), a single initial ("John F. Kennedy"), or
 *   a list number at the start of a line ("1. ");
 * - at `。`, `！`, `？` with or without whitespace after them;
 * - at a blank line (a paragraph break);
 * - at a single line break before a list item, after a colon, or after a short line
 *   without final punctuation that is followed by a capitalised line (a heading);
 *   other single line breaks are wrapped lines, inside a sentence.
 * Decimals ("3.5"), domains and initialisms without spaces never split, as no
 * whitespace follows their full stops.
 */
export function splitSentences (text: string): Sentence[] {
  const sentences: Sentence[] = []
  let segmentStart = 0
  let at = 0
  while (at < text.length) {
    const code = text.charCodeAt(at)
    if (isLineBreak(code)) {
      const runEnd = skipWhitespace(text, at)
      if (isParagraphBreak(text, at, runEnd) || lineBreakEndsSentence(text, segmentStart, at, runEnd)) {
        addSegment(text, segmentStart, at, sentences)
        segmentStart = runEnd
      }
      at = runEnd
      continue
    }
    if (TERMINATORS.has(code) || CJK_TERMINATORS.has(code)) {
      let end = at
      let cjk = false
      while (end < text.length && (TERMINATORS.has(text.charCodeAt(end)) || CJK_TERMINATORS.has(text.charCodeAt(end)))) {
        if (CJK_TERMINATORS.has(text.charCodeAt(end))) cjk = true
        end++
      }
      const runEnd = end
      while (end < text.length && end - runEnd < 3 && CLOSERS.has(text.charCodeAt(end))) end++
      if (cjk || (end < text.length && isWhitespace(text.charCodeAt(end)) && fullStopEndsSentence(text, segmentStart, at, runEnd, end))) {
        addSegment(text, segmentStart, end, sentences)
        segmentStart = end
      }
      at = end
      continue
    }
    at++
  }
  addSegment(text, segmentStart, text.length, sentences)
  return sentences
}

const TERMINATORS = new Set(['.', '!', '?', '…'].map((mark) => mark.charCodeAt(0)))
const CJK_TERMINATORS = new Set(['。', '！', '？', '｡'].map((mark) => mark.charCodeAt(0)))
// Quotes and brackets that may close a sentence after its final mark: `He said "no."`
const CLOSERS = new Set(['"', '\'', ')', ']', '}', '”', '’', '»', '」', '』', '）', '】', '〉', '》'].map((closer) => closer.charCodeAt(0)))
const OPENERS = /^["'“‘«「『（(【[¿¡]+/u

// Never the end of a sentence: what follows them is part of it.
const ALWAYS_ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'mx', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'ft', 'gen', 'col', 'lt', 'sgt', 'capt', 'cmdr', 'adm',
  'rev', 'hon', 'gov', 'sen', 'rep', 'pres', 'supt', 'messrs', 'e.g', 'i.e', 'eg', 'ie', 'cf', 'viz', 'vs', 'v', 'approx',
  'ca', 'c', 'al', 'resp', 'incl', 'excl', 'esp', 'dept', 'univ', 'assn', 'bros', 'ave', 'blvd', 'rd'
])
// The end of a sentence only before a word that is not a digit: "No. 5", "Fig. 3", "pp. 12".
const NUMBER_ABBREVIATIONS = new Set(['no', 'nos', 'nr', 'fig', 'figs', 'vol', 'vols', 'pp', 'p', 'ch', 'chap', 'sec', 'art',
  'eq', 'ref', 'para', 'op', 'ed', 'eds'])
// Abbreviations that often end a sentence too; they do before a word that usually starts one.
const SOMETIMES_ABBREVIATIONS = new Set(['etc', 'inc', 'ltd', 'co', 'corp', 'plc', 'llc', 'jan', 'feb', 'mar', 'apr', 'jun',
  'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'a.m', 'p.m', 'u.s', 'u.k', 'u.n', 'e.u', 'b.c', 'a.d', 'ph.d', 'km',
  'kg', 'est', 'misc', 'govt'])
const SENTENCE_STARTERS = new Set(['the', 'a', 'an', 'this', 'that', 'these', 'those', 'it', 'its', 'he', 'she', 'they',
  'we', 'i', 'you', 'his', 'her', 'their', 'our', 'in', 'on', 'at', 'for', 'from', 'by', 'with', 'after', 'before',
  'during', 'since', 'as', 'but', 'and', 'or', 'so', 'yet', 'however', 'there', 'then', 'when', 'while', 'if', 'although',
  'though', 'because', 'some', 'many', 'most', 'all', 'each', 'every', 'no', 'one', 'two', 'other', 'both', 'such',
  'what', 'who', 'which', 'where', 'why', 'how', 'today', 'later', 'also', 'further', 'moreover', 'finally', 'thus',
  'employees', 'customers'])

/** Whether the terminator run `text[mark, runEnd)` (closers up to `after`, then whitespace) ends the sentence begun at `segmentStart`. */
function fullStopEndsSentence (text: string, segmentStart: number, mark: number, runEnd: number, after: number): boolean {
  const next = nextWord(text, after)
  if (next === '') return true
  const first = next.charAt(0)
  if (/\p{Ll}/u.test(first)) return false
  // "!", "?", "...", "…" before anything but a lower-case word end the sentence.
  if (text.charAt(mark) !== '.' || runEnd - mark > 1) return true
  const word = wordBefore(text, mark)
  const lower = word.toLowerCase()
  if (ALWAYS_ABBREVIATIONS.has(lower)) return false
  if (NUMBER_ABBREVIATIONS.has(lower)) return !/\p{N}/u.test(first)
  // A single initial, as in "John F. Kennedy" or "J. R. R. Tolkien".
  if (/^\p{Lu}$/u.test(word)) return false
  if (SOMETIMES_ABBREVIATIONS.has(lower) || /^(?:\p{L}{1,2}\.)+\p{L}{1,2}$/u.test(word)) {
    return SENTENCE_STARTERS.has(next.toLowerCase())
  }
  // A list number or letter opening the line: "1. ", "IV. ", "b. ".
  const before = text.slice(segmentStart, mark).trim()
  if (before === word && /^(?:\p{N}{1,3}|[ivxlcdm]{1,5}|[IVXLCDM]{1,5}|\p{L})$/u.test(word)) return false
  return true
}

/** The word before the full stop at `mark`, without opening quotes or brackets: "U.S" for "(the U.S.". */
function wordBefore (text: string, mark: number): string {
  let from = mark
  while (from > 0 && !isWhitespace(text.charCodeAt(from - 1))) from--
  return text.slice(from, mark).replace(OPENERS, '')
}

/** The word starting at the first non-whitespace character at or after `from`, without opening quotes or brackets. */
function nextWord (text: string, from: number): string {
  const start = skipWhitespace(text, from)
  let end = start
  while (end < text.length && !isWhitespace(text.charCodeAt(end))) end++
  return text.slice(start, end).replace(OPENERS, '').replace(/[^\p{L}\p{N}].*$/su, '')
}

const LIST_ITEM = /^(?:[-*•◦▪‣·–—]|\p{N}{1,3}[.)]|\(?[\p{L}\p{N}]{1,3}\)|#{1,6})\s/u
const HEADING_MAX_CHARS = 80
// Words a wrapped line often ends with; a heading does not.
const CONTINUATIONS = new Set(['a', 'an', 'the', 'of', 'in', 'on', 'at', 'to', 'for', 'from', 'by', 'with', 'and', 'or',
  'but', 'nor', 'as', 'than', 'that', 'which', 'who', 'whose', 'is', 'are', 'was', 'were', 'be', 'been', 'has', 'have',
  'had', 'its', 'their', 'his', 'her', 'our', 'into', 'onto', 'over', 'under', 'between', 'about', 'after', 'before',
  'during', 'per', 'via', 'if', 'when', 'where', 'while', 'not', 'no', 'may', 'must', 'will', 'can', 'should', 'would'])

/**
 * Whether the single line break at `lineEnd` (whitespace up to `nextLine`) ends the
 * sentence begun at `segmentStart`: before a list item, after a colon, or after a
 * heading. Otherwise it is a wrapped line.
 */
function lineBreakEndsSentence (text: string, segmentStart: number, lineEnd: number, nextLine: number): boolean {
  if (nextLine >= text.length) return true
  const next = text.slice(nextLine, nextLine + 12)
  if (LIST_ITEM.test(next)) return true
  const line = text.slice(Math.max(segmentStart, lineStart(text, lineEnd)), lineEnd).trim()
  if (line === '') return false
  const last = line.charAt(line.length - 1)
  if (last === ':' || last === ';') return true
  if (line.length > HEADING_MAX_CHARS || /[,\-–—(/&]$/u.test(line)) return false
  const lastWord = (/[\p{L}\p{N}']+$/u.exec(line)?.[0] ?? '').toLowerCase()
  if (CONTINUATIONS.has(lastWord)) return false
  return /^["'“‘«(]?[\p{Lu}\p{N}]/u.test(next)
}

function lineStart (text: string, offset: number): number {
  let at = offset
  while (at > 0 && !isLineBreak(text.charCodeAt(at - 1))) at--
  return at
}

/** A whitespace run from the line break at `from` to `to` holding a blank line. */
function isParagraphBreak (text: string, from: number, to: number): boolean {
  let lineBreaks = 0
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at)
    if (code === 0x2029) return true
    if (code === 0x0a || code === 0x2028 || (code === 0x0d && text.charCodeAt(at + 1) !== 0x0a)) lineBreaks++
    if (lineBreaks >= 2) return true
  }
  return false
}

/** Adds `text[from, to)`, trimmed and without a leading list marker, as one or more sentences. */
function addSegment (text: string, from: number, to: number, sentences: Sentence[]): void {
  let start = skipWhitespace(text, from)
  const end = skipWhitespaceBack(text, to, start)
  if (start >= end) return
  const marker = LIST_ITEM.exec(text.slice(start, Math.min(end, start + 12)))
  if (marker !== null) {
    const afterMarker = skipWhitespace(text, start + marker[0].length)
    if (afterMarker < end) start = afterMarker
  }
  if (end - start <= MAX_SENTENCE_CHARS) {
    sentences.push({ text: text.slice(start, end), start, end })
    return
  }
  for (const [pieceStart, pieceEnd] of splitLong(text, start, end)) {
    const trimmedStart = skipWhitespace(text, pieceStart)
    const trimmedEnd = skipWhitespaceBack(text, pieceEnd, trimmedStart)
    if (trimmedStart < trimmedEnd) sentences.push({ text: text.slice(trimmedStart, trimmedEnd), start: trimmedStart, end: trimmedEnd })
  }
}

/** `text[start, end)` cut at line breaks, then at "; ", into pieces of at most MAX_SENTENCE_CHARS where it can be. */
function splitLong (text: string, start: number, end: number): Array<[number, number]> {
  for (const separator of [/[\n\r\u2028]/gu, /;\s/gu]) {
    const cuts: number[] = []
    separator.lastIndex = 0
    const stretch = text.slice(start, end)
    for (const match of stretch.matchAll(separator)) cuts.push(start + (match.index ?? 0) + match[0].length)
    if (cuts.length === 0) continue
    const pieces: Array<[number, number]> = []
    let pieceStart = start
    let previousCut = start
    for (const cut of [...cuts, end]) {
      if (cut - pieceStart > MAX_SENTENCE_CHARS && previousCut > pieceStart) {
        pieces.push([pieceStart, previousCut])
        pieceStart = previousCut
      }
      previousCut = cut
    }
    pieces.push([pieceStart, end])
    if (pieces.length > 1) return pieces.flatMap(([from, to]) => to - from > MAX_SENTENCE_CHARS ? splitLong(text, from, to) : [[from, to] as [number, number]])
  }
  return [[start, end]]
}

function isLineBreak (code: number): boolean {
  return code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029
}

/** Whitespace as String.prototype.trim() sees it. */
function isWhitespace (code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d)
  if (code < 0xa0) return false
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff
}

function skipWhitespace (text: string, offset: number): number {
  let at = offset
  while (at < text.length && isWhitespace(text.charCodeAt(at))) at++
  return at
}

function skipWhitespaceBack (text: string, offset: number, floor: number): number {
  let at = offset
  while (at > floor && isWhitespace(text.charCodeAt(at - 1))) at--
  return at
}
