// Builds a valid .docx whose word/document.xml inflates to a chosen size (a zip bomb), streaming the deflate so even 2 GiB costs little memory here.
import zlib from 'node:zlib'

const CONTENT_TYPES = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
const RELS = '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
const HEAD = '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
const TAIL = '</w:t></w:r></w:p></w:body></w:document>'

interface Entry { name: string, crc: number, compressed: Buffer, size: number }

async function deflated (name: string, parts: () => Iterable<Buffer>): Promise<Entry> {
  const deflate = zlib.createDeflateRaw({ level: 9 })
  const out: Buffer[] = []
  deflate.on('data', (chunk: Buffer) => out.push(chunk))
  const done = new Promise<void>((resolve, reject) => deflate.on('end', resolve).on('error', reject))
  let crc = 0
  let size = 0
  for (const part of parts()) {
    crc = zlib.crc32(part, crc)
    size += part.length
    if (!deflate.write(part)) await new Promise((resolve) => deflate.once('drain', resolve))
  }
  deflate.end()
  await done
  return { name, crc, compressed: Buffer.concat(out), size }
}

function * once (text: string): Iterable<Buffer> { yield Buffer.from(text) }

/** The zip's bytes: local headers and data, then the central directory, all with their true sizes. */
function zip (entries: Entry[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.name)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(8, 8) // deflate
    local.writeUInt32LE(entry.crc, 14)
    local.writeUInt32LE(entry.compressed.length, 18)
    local.writeUInt32LE(entry.size, 22)
    local.writeUInt16LE(name.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(8, 10)
    central.writeUInt32LE(entry.crc, 16)
    central.writeUInt32LE(entry.compressed.length, 20)
    central.writeUInt32LE(entry.size, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, entry.compressed)
    centrals.push(central, name)
    offset += local.length + name.length + entry.compressed.length
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

/** A .docx of one paragraph of `inflatedBytes` letters (under 4 GiB: no zip64). */
export async function docxBomb (inflatedBytes: number): Promise<Buffer> {
  const block = Buffer.alloc(1024 * 1024, 'a')
  const body = inflatedBytes - HEAD.length - TAIL.length
  const document = await deflated('word/document.xml', function * () {
    yield Buffer.from(HEAD)
    for (let left = body; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left)
    yield Buffer.from(TAIL)
  })
  return zip([await deflated('[Content_Types].xml', () => once(CONTENT_TYPES)), await deflated('_rels/.rels', () => once(RELS)), document])
}
