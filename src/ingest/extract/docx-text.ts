// Word (.docx) text via mammoth, which gives each paragraph, heading, list item and table cell as its own paragraph; the zip is opened by yauzl within size limits first.
//
// A 294 KB .docx whose document.xml inflates to 100 MB ran mammoth (JSZip inflating without bound, then an XML DOM
// at ~38 bytes of memory per byte of XML: 16 MB took 7.8 s and 600 MB) out of heap. So every entry's inflated
// size is checked in the central directory before anything is inflated, and mammoth reads the entries through yauzl,
// which fails a stream the moment it inflates past the size declared there: a lying header cannot get more.
import mammoth from 'mammoth'
import type { Readable } from 'node:stream'
import yauzl from 'yauzl'
import { DOCX_LIMIT_DEFAULTS, type DocxLimits } from './extract-limits.js'
import { ExtractionError } from './extraction-error.js'

const DAMAGED = 'DOCX file is damaged: not a valid Word document'

/** "256 MB" for 256 MiB: the unit users read, without decimals that suggest precision. */
function megabytes (bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.floor(bytes / (1024 * 1024)).toLocaleString('en')} MB` : `${bytes.toLocaleString('en')} bytes`
}

/** The part of mammoth's zip interface extractRawText uses. */
interface DocxArchive {
  exists: (name: string) => boolean
  read: (name: string, encoding?: string) => Promise<string | Uint8Array>
}

/** Opens the zip and checks the central directory against `limits`; entries are inflated only when read. */
async function openArchive (bytes: Uint8Array, limits: DocxLimits): Promise<DocxArchive> {
  let zip: yauzl.ZipFile
  try {
    zip = await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true })
  } catch (error) {
    throw new ExtractionError(DAMAGED, { cause: error })
  }
  if (zip.entryCount > limits.docxMaxParts) {
    throw new ExtractionError(`DOCX file has ${zip.entryCount.toLocaleString('en')} parts, more than the ${limits.docxMaxParts.toLocaleString('en')} jack reads`)
  }
  const entries = new Map<string, yauzl.Entry>()
  let expanded = 0
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.uncompressedSize > limits.docxMaxPartBytes) {
        throw new ExtractionError(`DOCX file has a part that expands to more than ${megabytes(limits.docxMaxPartBytes)}`)
      }
      expanded += entry.uncompressedSize
      if (expanded > limits.docxMaxExpandedBytes) {
        throw new ExtractionError(`DOCX file expands to more than ${megabytes(limits.docxMaxExpandedBytes)}`)
      }
      entries.set(entry.fileName, entry)
    }
  } catch (error) {
    if (error instanceof ExtractionError) throw error
    throw new ExtractionError(DAMAGED, { cause: error })
  }
  return {
    exists: (name) => entries.has(name),
    read: async (name, encoding) => {
      const entry = entries.get(name)
      if (entry === undefined) throw new Error(`no ${name} in the zip`)
      const content = await readAll(await zip.openReadStreamPromise(entry))
      return encoding === undefined ? content : new TextDecoder(encoding).decode(content)
    }
  }
}

async function readAll (stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(part as Buffer)
  return Buffer.concat(parts)
}

export async function extractDocxText (bytes: Uint8Array, limits: DocxLimits = DOCX_LIMIT_DEFAULTS): Promise<string> {
  const archive = await openArchive(bytes, limits)
  try {
    // mammoth 1.13's openZip takes an opened zip as { file } (not in its types or README, hence the pinned version);
    // a test proves reads go through it: a size-lying zip is refused, which JSZip would have inflated.
    const result = await mammoth.extractRawText({ file: archive } as unknown as Parameters<typeof mammoth.extractRawText>[0])
    return result.value
  } catch (error) {
    // Mammoth's messages name zip internals ("can't find end of central directory"), which mean nothing to a user.
    throw new ExtractionError(DAMAGED, { cause: error })
  }
}
