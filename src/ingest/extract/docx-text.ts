// Word (.docx) text via mammoth, which gives each paragraph, heading, list item and table cell as its own paragraph.
import mammoth from 'mammoth'
import { ExtractionError } from './extraction-error.js'

export async function extractDocxText (bytes: Uint8Array): Promise<string> {
  try {
    const result = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) })
    return result.value
  } catch (error) {
    // Mammoth's messages name zip internals ("can't find end of central directory"), which mean nothing to a user.
    throw new ExtractionError('DOCX file is damaged: not a valid Word document', { cause: error })
  }
}
