import fc from 'fast-check'
import t, { type Test } from 'tap'
import { detectFormat, type DocumentFormat, type FormatHints } from '../../../src/ingest/extract/file-type.js'

const encoder = new TextEncoder()
const bytes = (text: string): Uint8Array => encoder.encode(text)
const concat = (...parts: Array<Uint8Array | number[]>): Uint8Array => Uint8Array.from(parts.flatMap((part) => Array.from(part)))

const PDF = concat(bytes('%PDF-1.7\n%'), [0xe2, 0xe3, 0xcf, 0xd3], bytes('\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'))
const ZIP = concat([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00], bytes('[Content_Types].xml'))
const PNG = concat([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d], bytes('IHDR'))
const TEXT = bytes('Refund policy\n\nCustomers may return goods within thirty days.\n')
const HTML = bytes('<!DOCTYPE html>\n<html lang="en"><head><title>Refunds</title></head><body><p>Hi</p></body></html>')
const DOCX_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'

function check (t: Test, head: Uint8Array, hints: FormatHints, expected: DocumentFormat | undefined, label: string): void {
  t.equal(detectFormat(head, hints), expected, `${label}: ${JSON.stringify(hints)} → ${String(expected)}`)
}

t.test('PDF bytes are a PDF only under a PDF name, no extension or the PDF type', async (t) => {
  check(t, PDF, { filename: 'policy.pdf' }, 'pdf', 'pdf name')
  check(t, PDF, { filename: 'POLICY.PDF' }, 'pdf', 'uppercase extension')
  check(t, PDF, { filename: 'reports/2024/policy.Pdf', contentType: 'application/octet-stream' }, 'pdf', 'path and mixed case')
  check(t, PDF, {}, 'pdf', 'no hints (a URL)')
  check(t, PDF, { filename: null, contentType: null }, 'pdf', 'null hints')
  check(t, PDF, { filename: 'policy' }, 'pdf', 'name without extension')
  check(t, PDF, { contentType: 'application/pdf' }, 'pdf', 'content type only')
  check(t, PDF, { contentType: 'text/html' }, 'pdf', 'the bytes outweigh a wrong type when there is no name')
  check(t, PDF, { filename: 'policy.docx' }, undefined, '.docx name')
  check(t, PDF, { filename: 'policy.txt' }, undefined, '.txt name')
  check(t, PDF, { filename: 'policy.md', contentType: 'text/markdown' }, undefined, '.md name and type')
  check(t, PDF, { filename: 'download', contentType: 'application/pdf' }, 'pdf', 'extensionless name with PDF type')
})

t.test('a .pdf name needs PDF bytes: renamed binaries and text are refused', async (t) => {
  check(t, PNG, { filename: 'x.pdf' }, undefined, 'PNG named .pdf')
  check(t, TEXT, { filename: 'x.pdf' }, undefined, 'text named .pdf')
  check(t, TEXT, { filename: 'x.PDF', contentType: 'application/pdf' }, undefined, 'text named .PDF with PDF type')
  check(t, HTML, { filename: 'x.pdf' }, undefined, 'HTML named .pdf')
  check(t, ZIP, { filename: 'x.pdf' }, undefined, 'zip named .pdf')
  check(t, bytes('%PDF'), { filename: 'x.pdf' }, undefined, 'the magic needs its dash')
  check(t, new Uint8Array(0), { filename: 'x.pdf' }, undefined, 'empty file named .pdf')
})

t.test('a zip is a DOCX only by its name or type', async (t) => {
  check(t, ZIP, { filename: 'handbook.docx' }, 'docx', 'docx name')
  check(t, ZIP, { filename: 'HANDBOOK.DOCX' }, 'docx', 'uppercase extension')
  check(t, ZIP, { contentType: DOCX_TYPE }, 'docx', 'docx type, no name')
  check(t, ZIP, { contentType: `${DOCX_TYPE}; charset=binary` }, 'docx', 'docx type with parameters')
  check(t, ZIP, {}, undefined, 'zip without hints')
  check(t, ZIP, { filename: 'sheet.xlsx' }, undefined, '.xlsx')
  check(t, ZIP, { filename: 'archive.zip' }, undefined, '.zip')
  check(t, ZIP, { filename: 'notes.txt' }, undefined, 'zip named .txt')
  check(t, TEXT, { filename: 'handbook.docx' }, undefined, 'text named .docx')
  check(t, PNG, { filename: 'handbook.docx', contentType: DOCX_TYPE }, undefined, 'PNG named .docx')
})

t.test('text by name, type or lack of either', async (t) => {
  check(t, TEXT, { filename: 'notes.txt' }, 'text', '.txt')
  check(t, TEXT, { filename: 'NOTES.TXT' }, 'text', '.TXT')
  check(t, TEXT, {}, 'text', 'no hints')
  check(t, TEXT, { filename: 'README' }, 'text', 'name without extension')
  check(t, TEXT, { contentType: 'text/plain; charset=utf-8' }, 'text', 'text/plain')
  check(t, TEXT, { filename: '.profile' }, 'text', 'a leading dot is not an extension')
  check(t, new Uint8Array(0), { filename: 'empty.txt' }, 'text', 'an empty .txt is text (extraction then fails it)')
  check(t, concat([0xef, 0xbb, 0xbf], TEXT), { filename: 'bom.txt' }, 'text', 'UTF-8 BOM')
  check(t, bytes('Größe: 5 €, 日本語, 😀'), { filename: 'unicode.txt' }, 'text', 'multi-byte characters')
})

t.test('markdown and HTML by name or type', async (t) => {
  check(t, TEXT, { filename: 'guide.md' }, 'markdown', '.md')
  check(t, TEXT, { filename: 'guide.MARKDOWN' }, 'markdown', '.MARKDOWN')
  check(t, TEXT, { contentType: 'text/markdown; charset=UTF-8' }, 'markdown', 'text/markdown')
  check(t, TEXT, { filename: 'README', contentType: 'text/markdown' }, 'markdown', 'extensionless name with markdown type')
  check(t, HTML, { filename: 'page.html' }, 'html', '.html')
  check(t, HTML, { filename: 'PAGE.HTM' }, 'html', '.HTM')
  check(t, TEXT, { filename: 'page.html' }, 'html', 'the name decides, even for text that does not look like HTML')
  check(t, TEXT, { contentType: 'Text/HTML; charset=utf-8' }, 'html', 'text/html type')
  check(t, HTML, {}, 'html', 'a URL whose body starts with <!DOCTYPE html>')
  check(t, bytes('  \n<!-- generated -->\n<html><body>hi</body></html>'), {}, 'html', 'comment before <html>')
  check(t, bytes('<HTML>\n<BODY>hi</BODY></HTML>'), { contentType: 'application/octet-stream' }, 'html', '<HTML> without doctype')
  check(t, concat([0xef, 0xbb, 0xbf], HTML), {}, 'html', 'BOM before the doctype')
  check(t, HTML, { filename: 'page.txt' }, 'text', 'a .txt name keeps HTML-looking text as text')
  check(t, bytes('<p>just a fragment</p>'), {}, 'text', 'a fragment does not look like a page')
  check(t, bytes('<htmlish>no</htmlish>'), {}, 'text', '<htmlish> is not <html>')
})

t.test('other extensions are refused even when the bytes are text', async (t) => {
  for (const filename of ['run.exe', 'image.png', 'letter.doc', 'sheet.xlsx', 'data.csv', 'page.php', 'notes.rtf']) {
    check(t, TEXT, { filename }, undefined, filename)
  }
  check(t, TEXT, { filename: 'letter.doc', contentType: 'text/plain' }, undefined, 'the type cannot rescue a foreign extension')
})

t.test('binary bytes are never text', async (t) => {
  check(t, PNG, { filename: 'x.txt' }, undefined, 'PNG named .txt')
  check(t, PNG, {}, undefined, 'PNG without hints')
  check(t, PNG, { filename: 'x.md', contentType: 'text/markdown' }, undefined, 'PNG named .md')
  check(t, bytes('plain\u0000text'), { filename: 'x.txt' }, undefined, 'a NUL byte')
  check(t, concat(bytes('caf'), [0xc3, 0x28], bytes(' au lait')), { filename: 'x.txt' }, undefined, 'invalid continuation byte')
  check(t, concat(bytes('caf'), [0xe9], bytes(' au lait')), { filename: 'x.txt' }, undefined, 'Latin-1 é')
  check(t, concat([0xff, 0xfe], bytes('h\u0000i\u0000')), { filename: 'x.txt' }, undefined, 'UTF-16')
  check(t, concat(bytes('overlong '), [0xc0, 0xaf]), { filename: 'x.txt' }, undefined, 'overlong encoding')
})

t.test('a head cut in the middle of a multi-byte character is still text', async (t) => {
  const euro = bytes('price: 5 €') // € is E2 82 AC
  check(t, euro.subarray(0, euro.length - 1), { filename: 'x.txt' }, 'text', 'cut after 2 of 3 bytes')
  check(t, euro.subarray(0, euro.length - 2), { filename: 'x.md' }, 'markdown', 'cut after 1 of 3 bytes')
  const emoji = bytes('smile 😀') // 4 bytes
  check(t, emoji.subarray(0, emoji.length - 1), {}, 'text', 'cut after 3 of 4 bytes')
  check(t, concat(euro.subarray(0, euro.length - 1), bytes('x')), { filename: 'x.txt' }, undefined, 'a broken character in the middle is not a cut')

  fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1 }), fc.nat(), (text, cutAt) => {
    const encoded = bytes(text.replaceAll('\u0000', ' '))
    const head = encoded.subarray(0, cutAt % (encoded.length + 1))
    return detectFormat(head, { filename: 'notes.txt' }) === 'text'
  }))
})
