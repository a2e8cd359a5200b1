// Turns a stored payload into chunks: fetch URLs here (network waits only), then extract and chunk on an extraction thread.
import path from 'node:path'
import { detectFormat, type DocumentFormat } from './extract/file-type.js'
import { ExtractionError } from './extract/extract-text.js'
import type { ExtractionInput, ProcessedDocument } from './extract-and-chunk.js'
import type { ExtractionPool } from './extraction-pool.js'
import type { ExtractLimits } from './extract/extract-limits.js'
import { fetchUrl, UrlFetchError, UrlRefusedError } from './url/fetch-url.js'
import type { StoredPayload } from '../repositories/ingest-jobs.repo.js'

export type { ProcessedDocument } from './extract-and-chunk.js'

/** A failure that another attempt cannot fix: the document ends failed at once. */
export class PermanentFailure extends Error {}

export interface ProcessOptions {
  allowPrivateUrls: boolean
  signal: AbortSignal
  pool: ExtractionPool
  /** Bounds checked before and while parsing (defaults where unset). */
  limits?: Partial<ExtractLimits>
}

async function fetchInput (url: string, sizes: { chunkSize: number, chunkOverlap: number }, options: ProcessOptions): Promise<ExtractionInput> {
  const page = await fetchUrl(url, { allowPrivate: options.allowPrivateUrls, signal: options.signal })
  const filename = path.posix.basename(new URL(page.url).pathname)
  const format = detectFormat(page.bytes.subarray(0, 8192), { filename: filename.includes('.') ? filename : null, contentType: page.contentType })
  if (format === undefined) {
    throw new PermanentFailure(`URL returned content jack cannot read (${page.contentType ?? 'no content type'})`)
  }
  return { bytes: page.bytes, format, url: page.url, limits: options.limits ?? {}, ...sizes }
}

async function extractionInputOf (payload: StoredPayload, options: ProcessOptions): Promise<ExtractionInput> {
  const sizes = { chunkSize: payload.chunkSize, chunkOverlap: payload.chunkOverlap }
  if (payload.sourceType === 'text') return { text: payload.text ?? '', format: 'text', ...sizes }
  if (payload.sourceType === 'url') {
    if (payload.url === null) throw new PermanentFailure('The document\'s URL is missing')
    return await fetchInput(payload.url, sizes, options)
  }
  if (payload.bytes === null || payload.format === null) throw new PermanentFailure('The uploaded file is missing')
  return { bytes: payload.bytes, format: payload.format as DocumentFormat, limits: options.limits ?? {}, ...sizes }
}

export async function processPayload (payload: StoredPayload, options: ProcessOptions): Promise<ProcessedDocument> {
  return await options.pool.run(await extractionInputOf(payload, options), options.signal)
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
