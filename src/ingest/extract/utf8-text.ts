// Plain text and Markdown: strict UTF-8, because a wrongly decoded file would be stored and cited as mojibake.
import { ExtractionError } from './extraction-error.js'

function decodes (bytes: Uint8Array, allowCutOffEnd: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: allowCutOffEnd })
    return true
  } catch {
    return false
  }
}

/** Where the first invalid UTF-8 sequence starts; only called once the strict decoder has refused the bytes. */
function firstInvalidOffset (bytes: Uint8Array): number {
  // TextDecoder reports no position, so bisect on the longest prefix that is valid up to a cut-off last character
  // (validity of prefixes is monotonic), then step back to the start of that character.
  let valid = 0
  let invalid = bytes.length
  while (invalid - valid > 1) {
    const middle = Math.floor((valid + invalid) / 2)
    if (decodes(bytes.subarray(0, middle), true)) valid = middle
    else invalid = middle
  }
  let boundary = valid
  while (boundary > 0 && !decodes(bytes.subarray(0, boundary), false)) boundary--
  return boundary
}

export function decodeUtf8 (bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (error) {
    throw new ExtractionError(`File is not valid UTF-8 text (invalid byte at offset ${firstInvalidOffset(bytes)})`, { cause: error })
  }
}
