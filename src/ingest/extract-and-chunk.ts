// The CPU-heavy half of processing a document, run inside an extraction thread: bytes or text in, chunks out.
import { chunkText } from './chunker.js'
import type { DocumentFormat } from './extract/file-type.js'
import type { ExtractLimits } from './extract/extract-limits.js'
import { ExtractionError } from './extract/extraction-error.js'
import type { NewChunk } from '../repositories/ingest-jobs.repo.js'

export type ExtractionInput =
  | { text: string, format: 'text', chunkSize: number, chunkOverlap: number }
  | { bytes: Uint8Array, format: DocumentFormat, url?: string, limits?: Partial<ExtractLimits>, chunkSize: number, chunkOverlap: number }

export interface ProcessedDocument {
  chunks: NewChunk[]
  format: DocumentFormat
}

export async function extractAndChunk (input: ExtractionInput): Promise<ProcessedDocument> {
  // Loaded on first use: the PDF, DOCX and HTML libraries take most of a thread's start-up, and text needs none of them.
  const text = 'text' in input
    ? input.text
    : await (await import('./extract/extract-text.js')).extractText(input.bytes, input.format, { ...input.limits, ...(input.url === undefined ? {} : { url: input.url }) })
  const chunks = chunkText(text, { chunkSize: input.chunkSize, chunkOverlap: input.chunkOverlap })
  if (chunks.length === 0) throw new ExtractionError('The document has no text')
  return { chunks, format: input.format }
}
