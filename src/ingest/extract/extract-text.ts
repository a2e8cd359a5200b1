// Turns a stored document's bytes into normalised plain text, or an ExtractionError whose message is shown to API users.
import { extractDocxText } from './docx-text.js'
import { EXTRACT_LIMIT_DEFAULTS, type ExtractLimits } from './extract-limits.js'
import { ExtractionError } from './extraction-error.js'
import type { DocumentFormat } from './file-type.js'
import { extractHtmlText } from './html-text.js'
import { normaliseText } from './normalise-text.js'
import { extractPdfText } from './pdf-text.js'
import { decodeUtf8 } from './utf8-text.js'

export { EXTRACT_LIMIT_DEFAULTS, type ExtractLimits } from './extract-limits.js'
export { ExtractionError } from './extraction-error.js'

export interface ExtractOptions extends Partial<ExtractLimits> {
  /**
   * The page's address when the HTML came from a URL. The text does not depend on it today (Readability only needs it
   * to absolutise links, which plain text drops); callers pass it so that can change without touching them.
   */
  url?: string
}

const FORMAT_NAMES: Record<DocumentFormat, string> = {
  pdf: 'PDF',
  docx: 'DOCX file',
  text: 'Text file',
  markdown: 'Markdown file',
  html: 'HTML page'
}

async function extractRawText (bytes: Uint8Array, format: DocumentFormat, limits: ExtractLimits): Promise<string> {
  switch (format) {
    case 'pdf': return await extractPdfText(bytes, limits)
    case 'docx': return await extractDocxText(bytes, limits)
    case 'text':
    case 'markdown':
      return decodeUtf8(bytes)
    case 'html':
      // Pages carry stray bad bytes often enough that refusing them would lose readable articles; they become U+FFFD.
      return extractHtmlText(new TextDecoder('utf-8').decode(bytes), limits)
  }
}

/** `options`' limits, each one left out (or undefined) taking its default. */
function limitsOf (options: ExtractOptions): ExtractLimits {
  const limits = { ...EXTRACT_LIMIT_DEFAULTS }
  for (const name of Object.keys(EXTRACT_LIMIT_DEFAULTS) as Array<keyof ExtractLimits>) {
    const value = options[name]
    if (value !== undefined) limits[name] = value
  }
  return limits
}

/** The document's plain text, normalised; throws ExtractionError when it cannot be read, is past a limit or holds no text. */
export async function extractText (bytes: Uint8Array, format: DocumentFormat, options: ExtractOptions = {}): Promise<string> {
  const limits = limitsOf(options)
  let raw: string
  try {
    raw = await extractRawText(bytes, format, limits)
  } catch (error) {
    if (error instanceof ExtractionError) throw error
    // Library errors carry internals and stack traces; users get a plain sentence, the log gets the cause.
    throw new ExtractionError(`${FORMAT_NAMES[format]} could not be read`, { cause: error })
  }
  if (raw.length > limits.maxTextCharacters) {
    throw new ExtractionError(`${FORMAT_NAMES[format]} has more than ${limits.maxTextCharacters.toLocaleString('en')} characters of text`)
  }
  const text = normaliseText(raw)
  if (text === '') {
    throw new ExtractionError(format === 'html' ? 'HTML page has no readable text' : `${FORMAT_NAMES[format]} has no extractable text`)
  }
  return text
}
