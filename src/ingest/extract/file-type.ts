// Decides which format an upload or fetched page is in from its first bytes plus its name and declared type, so a renamed binary is refused (415) before it is stored.
export type DocumentFormat = 'pdf' | 'docx' | 'text' | 'markdown' | 'html'

export interface FormatHints {
  filename?: string | null
  contentType?: string | null
}

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d] // %PDF-
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04] // PK\x03\x04
const DOCX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
const MARKDOWN_EXTENSIONS = new Set(['md', 'markdown'])
const HTML_EXTENSIONS = new Set(['html', 'htm'])
const MARKDOWN_CONTENT_TYPES = new Set(['text/markdown', 'text/x-markdown'])
const HTML_CONTENT_TYPES = new Set(['text/html', 'application/xhtml+xml'])
// Comments may precede the doctype; anything else first means we cannot tell it from plain text.
const HTML_START = /^\s*(?:<!--[\s\S]*?-->\s*)*(?:<!doctype\s+html|<html[\s>])/i

function startsWith (bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte)
}

/** The lowercased extension of the file name without its dot; '' when there is no name or no extension. */
function extensionOf (filename: string | null | undefined): string {
  if (filename === undefined || filename === null) return ''
  const basename = filename.split(/[/\\]/).pop() ?? ''
  const dot = basename.lastIndexOf('.')
  // A leading dot names a hidden file (".profile"), not an extension.
  return dot > 0 ? basename.slice(dot + 1).toLowerCase() : ''
}

/** The media type without parameters, lowercased ("Text/HTML; charset=utf-8" → "text/html"). */
function mediaTypeOf (contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** The head decoded as UTF-8, or undefined when it is not text: invalid UTF-8 or NUL bytes (binary files). */
function decodeTextHead (head: Uint8Array): string | undefined {
  if (head.includes(0)) return undefined
  try {
    // stream: true leaves a multi-byte character cut off at the end of the head undecoded instead of failing.
    return new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true })
  } catch {
    return undefined
  }
}

/**
 * Decides the format from the first bytes (at least 8 KiB when available) plus the file name / declared content type.
 * Returns undefined for anything jack does not accept.
 */
export function detectFormat (head: Uint8Array, hints: FormatHints): DocumentFormat | undefined {
  const extension = extensionOf(hints.filename)
  const mediaType = mediaTypeOf(hints.contentType)

  if (startsWith(head, PDF_MAGIC)) {
    return extension === 'pdf' || extension === '' || mediaType === 'application/pdf' ? 'pdf' : undefined
  }
  // A .pdf that does not start with %PDF- is a renamed binary or a broken file.
  if (extension === 'pdf') return undefined
  if (startsWith(head, ZIP_MAGIC)) {
    // Only the name or type can tell a .docx from other zips (.xlsx, .odt, .zip); the extractor validates the contents.
    return extension === 'docx' || mediaType === DOCX_CONTENT_TYPE ? 'docx' : undefined
  }

  const text = decodeTextHead(head)
  if (text === undefined) return undefined
  if (extension !== '' && !MARKDOWN_EXTENSIONS.has(extension) && !HTML_EXTENSIONS.has(extension) && extension !== 'txt') {
    return undefined
  }
  if (MARKDOWN_EXTENSIONS.has(extension) || MARKDOWN_CONTENT_TYPES.has(mediaType)) return 'markdown'
  if (HTML_EXTENSIONS.has(extension) || HTML_CONTENT_TYPES.has(mediaType)) return 'html'
  if (extension === '' && HTML_START.test(text)) return 'html'
  return 'text'
}
