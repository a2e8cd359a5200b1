// PDF text via PDF.js (unpdf): text items are rebuilt into lines and paragraphs from their positions, since PDFs store no paragraphs.
import { getDocumentProxy } from 'unpdf'
import { type PdfLimits } from './extract-limits.js'
import { ExtractionError } from './extraction-error.js'

/** The part of PDF.js's TextItem this file reads. */
interface PositionedText {
  str: string
  transform: number[]
  width: number
  height: number
  hasEOL: boolean
}

interface Line {
  text: string
  left: number
  right: number
  baseline: number
  fontSize: number
}

// Body leading is usually 1.1–1.5× the font size; a paragraph gap adds at least a third of a line more.
const PARAGRAPH_GAP_RATIO = 1.3
// A line ending before this fraction of the text column's width ends a paragraph, a list item or a table row.
const FULL_LINE_RATIO = 0.8
const LIST_MARKER = /^(?:[•◦▪‣●○■□–—*-]\s|\(?[0-9]{1,3}[.)]\s|\(?[a-z][.)]\s)/i

function isPositionedText (item: object): item is PositionedText {
  return 'str' in item && 'transform' in item
}

function fontSizeOf (item: PositionedText): number {
  const [, , c = 0, d = 0] = item.transform
  return Math.hypot(c, d) || item.height || 1
}

/** Lines as PDF.js reports them: it marks line ends with hasEOL and already inserts the spaces between words. */
function toLines (items: readonly object[]): Line[] {
  const lines: Line[] = []
  let line: Line | undefined
  for (const item of items) {
    if (!isPositionedText(item)) continue
    if (item.str !== '') {
      const x = item.transform[4] ?? 0
      if (line === undefined) {
        line = { text: '', left: x, right: x, baseline: item.transform[5] ?? 0, fontSize: 0 }
        lines.push(line)
      }
      line.text += item.str
      line.left = Math.min(line.left, x)
      line.right = Math.max(line.right, x + item.width)
      line.fontSize = Math.max(line.fontSize, fontSizeOf(item))
    }
    if (item.hasEOL) line = undefined
  }
  return lines.filter((candidate) => candidate.text.trim() !== '')
}

/** The most common distance between consecutive baselines: the page's normal leading. */
function typicalLeading (lines: readonly Line[]): number | undefined {
  const counts = new Map<number, number>()
  for (let index = 1; index < lines.length; index++) {
    const gap = Math.round(((lines[index - 1]?.baseline ?? 0) - (lines[index]?.baseline ?? 0)) * 2) / 2
    if (gap > 0) counts.set(gap, (counts.get(gap) ?? 0) + 1)
  }
  let best: number | undefined
  let bestCount = 0
  for (const [gap, count] of counts) {
    if (count > bestCount || (count === bestCount && best !== undefined && gap < best)) {
      best = gap
      bestCount = count
    }
  }
  return best
}

function separatorBetween (previous: Line, next: Line, leading: number | undefined, columnLeft: number, columnWidth: number): string {
  const gap = previous.baseline - next.baseline
  const fontSize = Math.min(previous.fontSize, next.fontSize)
  if (gap < 0) return '\n\n' // moved up the page: a new column or region
  if (Math.max(previous.fontSize, next.fontSize) / fontSize > 1.15) return '\n\n' // a heading starts or ends
  // The page's usual leading is the yardstick, capped at double spacing: on a page of mostly one-line paragraphs
  // (or with only two lines) the commonest gap is itself a paragraph gap.
  const normalLeading = Math.min(Math.max(leading ?? 0, fontSize), fontSize * 2)
  if (gap > normalLeading * PARAGRAPH_GAP_RATIO) return '\n\n'
  if (previous.right < columnLeft + columnWidth * FULL_LINE_RATIO || LIST_MARKER.test(next.text.trimStart())) return '\n'
  // A word hyphenated across lines keeps its hyphen: "well-known" must survive, "docu-ment" is the lesser harm.
  return /\p{L}-$/u.test(previous.text.trimEnd()) ? '' : ' '
}

/** A page's text, lines that wrap inside a paragraph joined with spaces, paragraphs separated by a blank line. */
function pageText (items: readonly object[]): string {
  const lines = toLines(items)
  const first = lines[0]
  if (first === undefined) return ''
  const columnLeft = Math.min(...lines.map((line) => line.left))
  const columnWidth = Math.max(...lines.map((line) => line.right)) - columnLeft
  const leading = typicalLeading(lines)
  let text = first.text.trim()
  for (let index = 1; index < lines.length; index++) {
    const previous = lines[index - 1] as Line
    const line = lines[index] as Line
    const separator = separatorBetween(previous, line, leading, columnLeft, columnWidth)
    text = (separator === ' ' || separator === '' ? text.trimEnd() : text) + separator + line.text.trim()
  }
  return text
}

function readableError (error: unknown): ExtractionError {
  const name = error instanceof Error ? error.name : ''
  if (name === 'PasswordException') return new ExtractionError('PDF is password-protected and cannot be read', { cause: error })
  return new ExtractionError('PDF is damaged or encrypted and cannot be read', { cause: error })
}

/** The PDF's text, page by page; refused past `pdfMaxPages` pages or, as soon as the pages read pass it, `maxTextCharacters`. */
export async function extractPdfText (bytes: Uint8Array, limits: PdfLimits & { maxTextCharacters: number }): Promise<string> {
  let document: Awaited<ReturnType<typeof getDocumentProxy>>
  try {
    // PDF.js may take ownership of (detach) the buffer it is given, so it gets a copy, not the caller's bytes.
    document = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 })
  } catch (error) {
    throw readableError(error)
  }
  try {
    if (document.numPages > limits.pdfMaxPages) {
      throw new ExtractionError(`PDF has ${document.numPages.toLocaleString('en')} pages, more than the ${limits.pdfMaxPages.toLocaleString('en')} jack reads; split it into smaller files`)
    }
    const pages: string[] = []
    let characters = 0
    for (let pageNumber = 1; pageNumber <= document.numPages; pageNumber++) {
      const page = await document.getPage(pageNumber)
      const content = await page.getTextContent()
      const text = pageText(content.items)
      page.cleanup()
      characters += text.length + 2
      if (characters > limits.maxTextCharacters + 2) {
        throw new ExtractionError(`PDF has more than ${limits.maxTextCharacters.toLocaleString('en')} characters of text`)
      }
      pages.push(text)
    }
    return pages.join('\n\n')
  } catch (error) {
    if (error instanceof ExtractionError) throw error
    throw readableError(error)
  } finally {
    await document.destroy().catch(() => {})
  }
}
