// Hand-made zip files and minimal Word documents for extraction tests and bench/hostile-inputs: true or lying sizes, stored or deflated, even zip bombs of gigabytes.
import { constants, crc32, deflateRawSync } from 'node:zlib'

export interface ZipEntry {
  name: string
  /** The bytes, or parts of them (a bomb repeats one block instead of holding gigabytes). */
  content: Uint8Array | readonly Uint8Array[]
  /** Stored uncompressed; deflated by default. */
  stored?: boolean
  /** The uncompressed size the headers declare; the true size by default. A zip bomb may lie. */
  declaredSize?: number
}

/**
 * Deflates parts one by one: every part but the last ends in a sync flush, so
 * the outputs concatenate into one valid raw deflate stream.
 */
function deflateParts (parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((part, index) => deflateRawSync(part, { level: 9, finishFlush: index === parts.length - 1 ? constants.Z_FINISH : constants.Z_SYNC_FLUSH })))
}

/** A zip archive (no zip64: every size under 4 GiB) with local headers, the data, and the central directory. */
export function zipArchive (entries: readonly ZipEntry[]): Buffer {
  const locals: Uint8Array[] = []
  const centrals: Uint8Array[] = []
  let offset = 0
  for (const entry of entries) {
    const parts = entry.content instanceof Uint8Array ? [entry.content] : entry.content
    const size = parts.reduce((sum, part) => sum + part.length, 0)
    const crc = parts.reduce((running, part) => crc32(part, running), 0)
    const data = entry.stored === true ? Buffer.concat(parts) : deflateParts(parts)
    const method = entry.stored === true ? 0 : 8
    const declared = entry.declaredSize ?? size
    const name = Buffer.from(entry.name)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(method, 8)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(declared, 22)
    local.writeUInt16LE(name.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(method, 10)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(declared, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, data)
    centrals.push(central, name)
    offset += local.length + name.length + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

const BLOCK = Buffer.alloc(1024 * 1024, ' ')

/** word/document.xml of these paragraphs, the last followed by `paddingBytes` spaces (which deflate ~1000:1), as parts. */
export function wordDocumentXml (paragraphs: readonly string[], paddingBytes = 0): Uint8Array[] {
  const body = paragraphs.map((text) => `<w:p><w:r><w:t>${text}</w:t></w:r></w:p>`).join('')
  const padding: Uint8Array[] = []
  for (let left = paddingBytes; left > 0; left -= BLOCK.length) padding.push(left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left))
  return [
    Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}`),
    ...padding,
    Buffer.from('</w:body></w:document>')
  ]
}

/** The smallest Word document mammoth reads: content types, the package relationship and the body (optionally declaring another size). */
export function minimalDocx (documentXml: Uint8Array | readonly Uint8Array[], extra: readonly ZipEntry[] = [], declaredSize?: number): Buffer {
  return zipArchive([
    { name: '[Content_Types].xml', content: Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>') },
    { name: '_rels/.rels', content: Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>') },
    { name: 'word/document.xml', content: documentXml, ...(declaredSize === undefined ? {} : { declaredSize }) },
    ...extra
  ])
}
