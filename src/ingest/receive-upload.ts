// Streams a multipart upload to a temporary file (never the whole file in memory), judging its type from the first bytes as they arrive.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import createError from '@fastify/error'
import { detectFormat, type DocumentFormat } from './extract/file-type.js'

export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024
const HEAD_BYTES = 8192

export const UnsupportedFileError = createError('JACK_UNSUPPORTED_FILE', '%s', 415)
export const FileTooLargeError = createError('JACK_FILE_TOO_LARGE', 'File is larger than the 100 MB limit', 413)

export interface ReceivedFile {
  path: string
  filename: string
  format: DocumentFormat
  size: number
  /** SHA-256 (hex) of the file's bytes, computed as they streamed in (Idempotency-Key request identity). */
  sha256: string
  /** Removes the temporary file; safe to call twice. */
  discard: () => void
}

interface FilePart {
  file: Readable & { truncated?: boolean }
  filename: string
  mimetype: string
}

function unsupported (filename: string): InstanceType<typeof UnsupportedFileError> {
  return new UnsupportedFileError(`Unsupported file type for "${filename.slice(0, 200)}": send a PDF, DOCX, plain text (.txt) or Markdown (.md) file`)
}

/** Where uploads wait while they stream in (read at each upload, so TMPDIR moves it). */
export function uploadDirectory (): string {
  return path.join(os.tmpdir(), 'jack-uploads')
}

/**
 * Writes the part to a temporary file. A type jack does not accept is refused
 * (415) as soon as its first 8 KiB have arrived, before the rest is stored.
 */
export async function receiveUpload (part: FilePart): Promise<ReceivedFile> {
  const directory = uploadDirectory()
  fs.mkdirSync(directory, { recursive: true })
  const filePath = path.join(directory, randomUUID())
  const discard = (): void => { fs.rmSync(filePath, { force: true }) }
  const out = fs.createWriteStream(filePath)
  // Kept rather than thrown as an event: a full disk must fail this upload, not the process.
  let writeError: Error | undefined
  out.on('error', (error) => { writeError ??= error })
  const filename = part.filename === '' ? 'upload' : part.filename
  let head = Buffer.alloc(0)
  let format: DocumentFormat | undefined
  let size = 0
  const hash = createHash('sha256')
  try {
    for await (const chunk of part.file as AsyncIterable<Buffer>) {
      size += chunk.length
      hash.update(chunk)
      if (format === undefined && head.length < HEAD_BYTES) {
        head = Buffer.concat([head, chunk]).subarray(0, HEAD_BYTES)
        if (head.length >= HEAD_BYTES) {
          format = detectFormat(head, { filename, contentType: part.mimetype })
          if (format === undefined) throw unsupported(filename)
        }
      }
      if (writeError !== undefined) throw writeError
      if (!out.write(chunk)) await once(out, 'drain')
    }
    if (part.file.truncated === true) throw new FileTooLargeError()
    format ??= detectFormat(head, { filename, contentType: part.mimetype })
    if (format === undefined) throw unsupported(filename)
    out.end()
    await closed(out)
    if (writeError !== undefined) throw writeError
    return { path: filePath, filename, format, size, sha256: hash.digest('hex'), discard }
  } catch (error) {
    // Drain what is left so the connection can carry the error response.
    part.file.resume()
    // The file is opened in the background, maybe only after a refusal within
    // the first chunk: removed before that, it would be created afterwards and
    // left behind. Once the stream has closed, its file exists or never will.
    // (Writes still queued fail with ERR_STREAM_DESTROYED, which nobody awaits.)
    out.destroy()
    await closed(out)
    discard()
    throw error
  }
}

async function closed (out: fs.WriteStream): Promise<void> {
  if (out.closed) return
  await new Promise<void>((resolve) => { out.once('close', () => { resolve() }) })
}
