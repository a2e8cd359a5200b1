// Turns a stored payload into chunks: fetch (URLs), extract text, split by tokens.
import path from 'node:path'
import { chunkText } from './chunker.js'
import { detectFormat, type DocumentFormat } from './extract/file-type.js'
import { ExtractionError, extractText } from './extract/extract-text.js'
import { fetchUrl, UrlFetchError, UrlRefusedError } from './url/fetch-url.js'
import type { NewChunk, StoredPayload } from '../repositories/ingest-jobs.repo.js'

/** A failure that another attempt cannot fix: the document ends failed at once. */
export class PermanentFailure extends Error {}

export interface ProcessOptions {
  allowPrivateUrls: boolean
  signal: AbortSignal
}

export interface ProcessedDocument {
  chunks: NewChunk[]
  format: DocumentFormat
}

async function fetchAndExtract (url: string, options: ProcessOptions): Promise<{ text: string, format: DocumentFormat }> {
  const page = await fetchUrl(url, { allowPrivate: options.allowPrivateUrls, signal: options.signal })
  const filename = path.posix.basename(new URL(page.url).pathname)
  const format = detectFormat(page.bytes.subarray(0, 8192), { filename: filename.includes('.') ? filename : null, contentType: page.contentType })
  if (format === undefined) {
    throw new PermanentFailure(`URL returned content jack cannot read (${page.contentType ?? 'no content type'})`)
  }
  return { text: await extractText(page.bytes, format, { url: page.url }), format }
}

export async function processPayload (payload: StoredPayload, options: ProcessOptions): Promise<ProcessedDocument> {
  let text: string
  let format: DocumentFormat
  if (payload.sourceType === 'text') {
    text = payload.text ?? ''
    format = 'text'
  } else if (payload.sourceType === 'url') {
    if (payload.url === null) throw new PermanentFailure('The document\'s URL is missing')
    ;({ text, format } = await fetchAndExtract(payload.url, options))
  } else {
    if (payload.bytes === null || payload.format === null) throw new PermanentFailure('The uploaded file is missing')
    format = payload.format as DocumentFormat
    text = await extractText(payload.bytes, format)
  }
  const chunks = chunkText(text, { chunkSize: payload.chunkSize, chunkOverlap: payload.chunkOverlap })
  if (chunks.length === 0) throw new PermanentFailure('The document has no text')
  return { chunks, format }
}

const RETRYABLE_FETCH_FAILURE = /HTTP (5\d\d|408|429)\b|did not answer|Connection|Could not resolve|reset|TLS/

/** Whether a failure is worth another attempt, and the message the API shows for it. */
export function classifyFailure (error: unknown): { permanent: boolean, message: string } {
  if (error instanceof PermanentFailure || error instanceof ExtractionError || error instanceof UrlRefusedError) {
    return { permanent: true, message: error.message }
  }
  if (error instanceof UrlFetchError) {
    // Time-outs, server errors and network trouble may pass; a 404, a refused
    // redirect or an oversize page will not.
    return { permanent: !RETRYABLE_FETCH_FAILURE.test(error.message), message: error.message }
  }
  return { permanent: false, message: 'Internal error while processing the document' }
}
