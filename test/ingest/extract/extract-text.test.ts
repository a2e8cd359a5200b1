import fc from 'fast-check'
import { Document, HeadingLevel, Packer, Paragraph, Table, TableCell, TableRow, TextRun } from 'docx'
import { PDFDocument, PDFHexString, type PDFFont, type PDFPage, rgb, StandardFonts } from 'pdf-lib'
import t, { type Test } from 'tap'
import { EXTRACT_LIMIT_DEFAULTS, ExtractionError, type ExtractOptions, extractText } from '../../../src/ingest/extract/extract-text.js'
import type { DocumentFormat } from '../../../src/ingest/extract/file-type.js'
import { minimalDocx, wordDocumentXml, zipArchive } from '../../helpers/zip-archive.js'

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)
const concat = (...parts: Array<Uint8Array | number[]>): Uint8Array => Uint8Array.from(parts.flatMap((part) => Array.from(part)))

/** Asserts that extraction fails with exactly this user-facing message, and that no library internals leak into it. */
async function failsWith (t: Test, bytes: Uint8Array, format: DocumentFormat, message: string, label: string, options: ExtractOptions = {}): Promise<void> {
  const error = await extractText(bytes, format, options).then(() => undefined, (caught: unknown) => caught)
  t.type(error, ExtractionError, `${label}: an ExtractionError`)
  t.equal((error as Error | undefined)?.message, message, `${label}: "${message}"`)
}

// --- PDF ------------------------------------------------------------------------------------------------------------

const LEFT = 72
const COLUMN_WIDTH = 400
const BODY_SIZE = 11
const LEADING = 14

/** Draws a paragraph wrapped to the column like a word processor would, returning the baseline below it. */
function drawParagraph (page: PDFPage, font: PDFFont, text: string, y: number, size = BODY_SIZE): number {
  let line = ''
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`
    if (font.widthOfTextAtSize(candidate, size) > COLUMN_WIDTH && line !== '') {
      page.drawText(line, { x: LEFT, y, size, font })
      y -= LEADING
      line = word
    } else {
      line = candidate
    }
  }
  page.drawText(line, { x: LEFT, y, size, font })
  return y - LEADING
}

const REFUNDS = 'Customers may return goods within thirty days of purchase. The goods must be unused and in their original packaging, with the receipt or another proof of purchase.'
const PAYMENT = 'Refunds are paid to the original payment method within five working days of our receiving the goods.'
const SHIPPING = 'Shipping costs are not refunded unless the goods arrived damaged or were not what was ordered.'
const ADDRESS = 'Send returns to the warehouse at 1 Dock Road, Leeds.'

async function twoPagePdf (): Promise<Uint8Array> {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  const first = pdf.addPage([595, 842])
  first.drawText('Refund policy', { x: LEFT, y: 770, size: 20, font })
  let y = drawParagraph(first, font, REFUNDS, 735)
  y = drawParagraph(first, font, PAYMENT, y - 10)
  drawParagraph(first, font, SHIPPING, y - 10)
  const second = pdf.addPage([595, 842])
  drawParagraph(second, font, ADDRESS, 770)
  return await pdf.save()
}

t.test('PDF: known text on two pages, wrapped lines joined, paragraphs and pages separated by a blank line', async (t) => {
  const bytes = await twoPagePdf()
  const size = bytes.byteLength
  const text = await extractText(bytes, 'pdf')
  t.equal(text, ['Refund policy', REFUNDS, PAYMENT, SHIPPING, ADDRESS].join('\n\n'))
  t.equal(bytes.byteLength, size, 'the caller\'s buffer is not detached by PDF.js')
})

t.test('PDF: short lines and list items keep their line breaks', async (t) => {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  const page = pdf.addPage([595, 842])
  const lines = [
    'These opening hours apply in every one of our shops and to collection of all online orders:',
    '- Monday to Friday: 9 to 5',
    '- Saturday: 10 to 2',
    'Closed on public holidays.'
  ]
  lines.forEach((line, index) => page.drawText(line, { x: LEFT, y: 770 - index * LEADING, size: BODY_SIZE, font }))
  t.equal(await extractText(await pdf.save(), 'pdf'), lines.join('\n'))
})

t.test('PDF: a word hyphenated at a line end is joined without a space, keeping its hyphen', async (t) => {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  const page = pdf.addPage([595, 842])
  page.drawText('This sentence is long enough to fill the column of text and it ends with a well-', { x: LEFT, y: 770, size: BODY_SIZE, font })
  page.drawText('known word.', { x: LEFT, y: 770 - LEADING, size: BODY_SIZE, font })
  t.equal(await extractText(await pdf.save(), 'pdf'), 'This sentence is long enough to fill the column of text and it ends with a well-known word.')
})

t.test('PDF: words drawn one by one, a table row and a second column', async (t) => {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  const page = pdf.addPage([595, 842])
  let x = LEFT
  for (const word of ['Each', 'word', 'is', 'its', 'own', 'text', 'object.']) {
    page.drawText(word, { x, y: 770, size: BODY_SIZE, font })
    x += font.widthOfTextAtSize(`${word} `, BODY_SIZE)
  }
  page.drawText('Grade', { x: LEFT, y: 740, size: BODY_SIZE, font })
  page.drawText('Days', { x: 300, y: 740, size: BODY_SIZE, font })
  page.drawText('A second column starts higher up', { x: 320, y: 770, size: BODY_SIZE, font })
  t.equal(await extractText(await pdf.save(), 'pdf'), 'Each word is its own text object.\n\nGrade Days\n\nA second column starts higher up')
})

t.test('PDF without text (a drawn rectangle) fails with "no extractable text"', async (t) => {
  const pdf = await PDFDocument.create()
  pdf.addPage([595, 842]).drawRectangle({ x: 100, y: 100, width: 200, height: 150, color: rgb(0.2, 0.4, 0.8) })
  await failsWith(t, await pdf.save(), 'pdf', 'PDF has no extractable text', 'rectangle only')
  const empty = await PDFDocument.create()
  empty.addPage()
  await failsWith(t, await empty.save(), 'pdf', 'PDF has no extractable text', 'blank page')
})

t.test('damaged PDFs fail with a readable message', async (t) => {
  const garbage = concat(utf8('%PDF-1.7\n'), Array.from({ length: 4000 }, (_, index) => (index * 7919) % 251))
  await failsWith(t, garbage, 'pdf', 'PDF is damaged or encrypted and cannot be read', 'header then garbage')
  const whole = await twoPagePdf()
  await failsWith(t, whole.subarray(0, Math.floor(whole.length / 2)), 'pdf', 'PDF is damaged or encrypted and cannot be read', 'truncated halfway')
  await failsWith(t, utf8('%PDF-'), 'pdf', 'PDF is damaged or encrypted and cannot be read', 'magic only')
  await failsWith(t, new Uint8Array(0), 'pdf', 'PDF is damaged or encrypted and cannot be read', 'empty file')
})

t.test('a password-protected PDF fails saying so', async (t) => {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  pdf.addPage().drawText('Secret salaries', { x: LEFT, y: 700, size: 12, font })
  // The standard security handler with hashes that the empty user password does not match: PDF.js asks for a password.
  const context = pdf.context
  context.trailerInfo.Encrypt = context.register(context.obj({
    Filter: 'Standard', V: 1, R: 2, P: -4, O: PDFHexString.of('11'.repeat(32)), U: PDFHexString.of('22'.repeat(32))
  }))
  context.trailerInfo.ID = context.obj([PDFHexString.of('33'.repeat(16)), PDFHexString.of('33'.repeat(16))])
  await failsWith(t, await pdf.save({ useObjectStreams: false }), 'pdf', 'PDF is password-protected and cannot be read', 'password')
})

t.test('PDF: past the page cap it is refused at once, before any page is read', async (t) => {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  for (let index = 0; index < 10_000; index++) pdf.addPage([200, 200]).drawText(`Page ${index + 1}`, { x: 20, y: 100, size: 12, font })
  const bytes = await pdf.save()
  const started = performance.now()
  await failsWith(t, bytes, 'pdf', 'PDF has 10,000 pages, more than the 2,000 jack reads; split it into smaller files', '10,000 pages, default cap')
  const elapsed = performance.now() - started
  // Reading all 10,000 pages took ~20 s; refusing needs only the page tree.
  t.ok(elapsed < 5000, `refused in ${Math.round(elapsed)} ms`)
  const short = await PDFDocument.create()
  const shortFont = await short.embedFont(StandardFonts.Helvetica)
  for (let index = 0; index < 3; index++) short.addPage([200, 200]).drawText(`Page ${index + 1}`, { x: 20, y: 100, size: 12, font: shortFont })
  const three = await short.save()
  await failsWith(t, three, 'pdf', 'PDF has 3 pages, more than the 2 jack reads; split it into smaller files', 'a configured cap', { pdfMaxPages: 2 })
  t.equal(await extractText(three, 'pdf', { pdfMaxPages: 3 }), 'Page 1\n\nPage 2\n\nPage 3', 'at the cap it is read')
})

t.test('PDF: text past the character cap is refused as soon as the pages read pass it', async (t) => {
  const bytes = await twoPagePdf()
  await failsWith(t, bytes, 'pdf', 'PDF has more than 100 characters of text', 'cap 100', { maxTextCharacters: 100 })
  t.ok((await extractText(bytes, 'pdf', { maxTextCharacters: 1000 })).length <= 1000, 'under the cap it is read')
})

// --- DOCX -----------------------------------------------------------------------------------------------------------

async function docx (children: Array<Paragraph | Table>): Promise<Uint8Array> {
  return await Packer.toBuffer(new Document({ sections: [{ children }] }))
}

t.test('DOCX: paragraphs, headings, runs and table cells separated by blank lines', async (t) => {
  const bytes = await docx([
    new Paragraph({ text: 'Leave policy', heading: HeadingLevel.HEADING_1 }),
    new Paragraph({ children: [new TextRun('Staff get '), new TextRun({ text: '25 days', bold: true }), new TextRun(' of paid leave a year.')] }),
    new Paragraph({ text: '' }),
    new Paragraph({ text: 'Ask your manager before booking.' }),
    new Table({
      rows: [new TableRow({ children: [new TableCell({ children: [new Paragraph('Grade')] }), new TableCell({ children: [new Paragraph('Days')] })] })]
    })
  ])
  t.equal(await extractText(bytes, 'docx'), 'Leave policy\n\nStaff get 25 days of paid leave a year.\n\nAsk your manager before booking.\n\nGrade\n\nDays')
})

t.test('DOCX without text fails with "no extractable text"', async (t) => {
  await failsWith(t, await docx([]), 'docx', 'DOCX file has no extractable text', 'empty document')
  await failsWith(t, await docx([new Paragraph(''), new Paragraph('   ')]), 'docx', 'DOCX file has no extractable text', 'blank paragraphs')
})

t.test('damaged DOCX files fail with a readable message', async (t) => {
  const message = 'DOCX file is damaged: not a valid Word document'
  await failsWith(t, zipArchive([{ name: 'readme.txt', content: utf8('not a Word document'), stored: true }, { name: 'data/sheet1.xml', content: utf8('<sheet/>'), stored: true }]), 'docx', message, 'a zip that is not a docx')
  await failsWith(t, Uint8Array.from({ length: 2048 }, (_, index) => (index * 131 + 7) % 256), 'docx', message, 'random bytes')
  await failsWith(t, concat([0x50, 0x4b, 0x03, 0x04], utf8('garbage after the zip magic')), 'docx', message, 'zip magic then garbage')
  const whole = await docx([new Paragraph('Some text')])
  await failsWith(t, whole.subarray(0, Math.floor(whole.length / 2)), 'docx', message, 'truncated halfway')
})

t.test('DOCX: a hand-made minimal document is read through the size-checked zip reader', async (t) => {
  t.equal(await extractText(minimalDocx(wordDocumentXml(['Leave is 25 days.', 'Ask first.'])), 'docx'), 'Leave is 25 days.\n\nAsk first.')
})

t.test('DOCX zip bombs are refused from the central directory, before anything is inflated', async (t) => {
  // The attack: a ~100 KB file whose document.xml inflates to 100 MB (mammoth ran out of heap on it).
  const bomb = minimalDocx(wordDocumentXml(['Hello'], 100 * 1024 * 1024))
  t.ok(bomb.length < 200_000, `the bomb is ${bomb.length} bytes`)
  const started = performance.now()
  await failsWith(t, bomb, 'docx', 'DOCX file has a part that expands to more than 16 MB', 'one 100 MB part, default limits')
  t.ok(performance.now() - started < 1000, `refused in ${Math.round(performance.now() - started)} ms`)
  const small = minimalDocx(wordDocumentXml(['Hello'], 2 * 1024 * 1024))
  await failsWith(t, small, 'docx', 'DOCX file has a part that expands to more than 1 MB', 'a configured part limit', { docxMaxPartBytes: 1024 * 1024 })
  const parts = Array.from({ length: 5 }, (_, index) => ({ name: `word/media/part${index}.bin`, content: Buffer.alloc(1024 * 1024) }))
  await failsWith(t, minimalDocx(wordDocumentXml(['Hello']), parts), 'docx', 'DOCX file expands to more than 4 MB', 'the total', { docxMaxExpandedBytes: 4 * 1024 * 1024 })
  t.equal(await extractText(minimalDocx(wordDocumentXml(['Hello']), parts), 'docx'), 'Hello', 'the same file within the default limits')
  const many = Array.from({ length: 20 }, (_, index) => ({ name: `customXml/item${index}.xml`, content: utf8('<a/>') }))
  await failsWith(t, minimalDocx(wordDocumentXml(['Hello']), many), 'docx', 'DOCX file has 23 parts, more than the 10 jack reads', 'entry count', { docxMaxParts: 10 })
})

t.test('DOCX: a part inflating past the size its central directory declares is refused while inflating', async (t) => {
  // Declares 2 KB, inflates to 64 MB: only a reader that checks the inflated bytes against the declared size stops it.
  const liar = minimalDocx(wordDocumentXml(['Hello'], 64 * 1024 * 1024), [], 2048)
  const rssBefore = process.memoryUsage().rss
  await failsWith(t, liar, 'docx', 'DOCX file is damaged: not a valid Word document', 'lying size')
  t.ok(process.memoryUsage().rss - rssBefore < 48 * 1024 * 1024, `memory grew by ${Math.round((process.memoryUsage().rss - rssBefore) / 1e6)} MB`)
})

// --- HTML -----------------------------------------------------------------------------------------------------------

const ARTICLE_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Refund policy</title>
  <style>body { font-family: sans-serif } .noise::after { content: "STYLE NOISE" }</style>
  <script>window.analytics = 'SCRIPT NOISE'</script>
</head>
<body>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop</a></li><li><a href="/contact">Contact us</a></li></ul></nav>
  <header class="site-header"><a href="/">Acme Ltd</a> <form><input name="q"><button>Search</button></form></header>
  <main>
    <article>
      <h1>Refund policy</h1>
      <p>Customers may return goods within thirty days of purchase. The goods must be unused and in their
         original packaging, with the receipt or another proof of purchase.</p>
      <p>Refunds are paid to the original payment method within <strong>five working days</strong> of our
         receiving the goods. Shipping costs are not refunded unless the goods arrived damaged.</p>
      <h2>Exceptions</h2>
      <ul>
        <li>Perishable goods cannot be returned once opened, for hygiene reasons.</li>
        <li>Gift cards and personalised items are not refundable under any circumstances.</li>
      </ul>
      <p>Returns go to:<br>Acme Ltd<br>1 Dock Road, Leeds</p>
      <script>console.log('SCRIPT NOISE inside the article')</script>
    </article>
  </main>
  <footer class="site-footer"><p>© 2024 Acme Ltd. All rights reserved. <a href="/privacy">Privacy</a></p></footer>
  <script>document.write('SCRIPT NOISE at the end')</script>
</body>
</html>`

t.test('HTML: only the article, title first, block elements as paragraphs', async (t) => {
  const text = await extractText(utf8(ARTICLE_PAGE), 'html', { url: 'https://acme.example/refunds' })
  t.equal(text, [
    'Refund policy',
    'Customers may return goods within thirty days of purchase. The goods must be unused and in their original packaging, with the receipt or another proof of purchase.',
    'Refunds are paid to the original payment method within five working days of our receiving the goods. Shipping costs are not refunded unless the goods arrived damaged.',
    'Exceptions',
    'Perishable goods cannot be returned once opened, for hygiene reasons.',
    'Gift cards and personalised items are not refundable under any circumstances.',
    'Returns go to:\nAcme Ltd\n1 Dock Road, Leeds'
  ].join('\n\n'))
  t.notMatch(text, /NOISE|Home|Contact us|Search|All rights reserved/)
})

t.test('HTML: tables and preformatted text', async (t) => {
  const page = `<html><head><title>Opening hours</title></head><body><article>
    <p>Our shop is open on the following days, except on public holidays, when it opens at ten and closes at two in the afternoon.</p>
    <table><tr><th>Day</th><th>Hours</th></tr><tr><td>Monday</td><td>9 to 5</td></tr></table>
    <pre>  indented  code
  stays   as is</pre>
  </article></body></html>`
  t.equal(await extractText(utf8(page), 'html'), [
    'Opening hours',
    'Our shop is open on the following days, except on public holidays, when it opens at ten and closes at two in the afternoon.',
    'Day | Hours',
    'Monday | 9 to 5',
    '  indented  code\n  stays   as is'
  ].join('\n\n'))
})

t.test('HTML: short pages and fragments fall back to the body text, without scripts or navigation', async (t) => {
  t.equal(await extractText(utf8('<html><body><nav>Menu</nav><div>Short note.</div><script>var noise = 1</script></body></html>'), 'html'), 'Short note.')
  t.equal(await extractText(utf8('<p>First <b>bold</b> paragraph.</p><p>Second.</p>'), 'html'), 'First bold paragraph.\n\nSecond.')
  t.equal(await extractText(utf8('just some text'), 'html'), 'just some text')
  t.equal(await extractText(utf8('<html><body><nav>Menu</nav><aside>Note: closed <em>on</em> Mondays.</aside></body></html>'), 'html'), 'Note: closed on Mondays.', 'Readability finds no article here')
})

t.test('HTML: pages a browser would repair are read like a browser would', async (t) => {
  const article = '<p>The office is closed on the first Monday of every month for stocktaking and cleaning, as announced on the noticeboard.</p>'
  t.equal(await extractText(utf8(`<script>var early = 'NOISE'</script><!doctype html><html><head><title>Notice</title></head><body>${article}</body></html>`), 'html'),
    'Notice\n\nThe office is closed on the first Monday of every month for stocktaking and cleaning, as announced on the noticeboard.', 'a script before <html>')
  t.equal(await extractText(utf8(`<!doctype html><html><head><title>Notice</title></head>${article}</html>`), 'html'),
    'Notice\n\nThe office is closed on the first Monday of every month for stocktaking and cleaning, as announced on the noticeboard.', 'no <body> tag')
  t.equal(await extractText(utf8(`<title>Notice</title>${article}`), 'html'),
    'Notice\n\nThe office is closed on the first Monday of every month for stocktaking and cleaning, as announced on the noticeboard.', 'a fragment with a title')
})

t.test('HTML without readable text fails', async (t) => {
  const message = 'HTML page has no readable text'
  await failsWith(t, utf8('<html><head><title>Only a title</title></head><body><nav>Menu</nav><script>x()</script></body></html>'), 'html', message, 'title and navigation only')
  await failsWith(t, utf8('<!doctype html><html><body>  </body></html>'), 'html', message, 'empty body')
  await failsWith(t, new Uint8Array(0), 'html', message, 'no bytes')
})

t.test('HTML: deeply nested pages skip Readability and extract in linear time', async (t) => {
  for (const depth of [2000, 20_000]) {
    const page = `<html><head><title>Deep</title></head><body>${'<div>'.repeat(depth)}The text at the bottom.${'</div>'.repeat(depth)}<p>After.</p></body></html>`
    const started = performance.now()
    const text = await extractText(utf8(page), 'html')
    const elapsed = performance.now() - started
    t.equal(text, 'The text at the bottom.\n\nAfter.', `${depth} nested divs`)
    // Readability took 155 s on 2,000; the plain pass is milliseconds (generous bound for a loaded machine).
    t.ok(elapsed < 1000, `${depth} nested divs in ${Math.round(elapsed)} ms`)
  }
  const unclosed = `<body>${'<span>'.repeat(100_000)}x${'</div>'.repeat(100_000)}`
  const started = performance.now()
  t.equal(await extractText(utf8(unclosed), 'html'), 'x', 'unmatched end tags are ignored')
  t.ok(performance.now() - started < 1000, `100,000 unmatched end tags in ${Math.round(performance.now() - started)} ms`)
})

t.test('HTML: past the element cap the body is read as plain paragraphs, without scripts or navigation', async (t) => {
  const text = await extractText(utf8(ARTICLE_PAGE), 'html', { htmlMaxElements: 10 })
  t.notMatch(text, /NOISE|Home|Contact us|Search|STYLE/)
  t.match(text, /^Acme Ltd\n\nRefund policy\n\nCustomers may return goods within thirty days of purchase\. The goods must be unused/)
  t.match(text, /\n\nPerishable goods cannot be returned once opened, for hygiene reasons\.\n\n/)
  t.match(text, /Returns go to:\nAcme Ltd\n1 Dock Road, Leeds\n\n© 2024 Acme Ltd\. All rights reserved\. Privacy$/)
  const table = '<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Monday</td><td>9 &amp; 5</td></tr></table><pre>  a  b\n  c</pre><p>x &lt; y&nbsp;z</p>'
  t.equal(await extractText(utf8(table), 'html', { htmlMaxDepth: 1 }), 'Day | Hours\n\nMonday | 9 & 5\n\n  a  b\n  c\n\nx < y z')
  t.equal(await extractText(utf8(table), 'html'), 'Day | Hours\n\nMonday | 9 & 5\n\n  a  b\n  c\n\nx < y z', 'the same as Readability\'s path here')
})

// --- any format -----------------------------------------------------------------------------------------------------

t.test('whatever the bytes, extraction gives normalised text or an ExtractionError, never a library error', async (t) => {
  const htmlPiece = fc.constantFrom('<html>', '</html>', '<head>', '</head>', '<body>', '</body>', '<title>', '</title>', '<p>', '</p>',
    '<nav>', '<script>', '</script>', '<pre>', '<table><tr><td>', '<br>', '<!doctype html>', '<!--', '-->', '<', '&amp;', '\u0000', 'words, more words. ')
  const html = fc.array(htmlPiece, { maxLength: 30 }).map((pieces) => utf8(pieces.join('')))
  const cases = fc.oneof(
    fc.tuple(fc.constant<DocumentFormat>('html'), html),
    fc.tuple(fc.constantFrom<DocumentFormat>('pdf', 'docx', 'text', 'markdown', 'html'), fc.uint8Array({ maxLength: 600 })),
    fc.tuple(fc.constant<DocumentFormat>('pdf'), fc.uint8Array({ maxLength: 600 }).map((tail) => concat(utf8('%PDF-1.4\n'), tail))),
    fc.tuple(fc.constant<DocumentFormat>('docx'), fc.uint8Array({ maxLength: 600 }).map((tail) => concat([0x50, 0x4b, 0x03, 0x04], tail)))
  )
  await t.resolves(fc.assert(fc.asyncProperty(cases, async ([format, bytes]) => {
    try {
      const text = await extractText(bytes, format)
      return text !== '' && text === text.trim() && !text.includes('\u0000') && !text.includes('\r') && !/\n{3}/.test(text)
    } catch (error) {
      return error instanceof ExtractionError && !/\bat \S+ \(|node_modules|Error:/.test(error.message)
    }
  }), { numRuns: 300 }))
})

// --- text and Markdown ----------------------------------------------------------------------------------------------

t.test('text: UTF-8 with a BOM and CRLF is normalised', async (t) => {
  const bytes = concat([0xef, 0xbb, 0xbf], utf8('Größe: 5 €  \r\nline two\t\r\n\r\n\r\n\r\n\rlast line\r\n\r\n'))
  t.equal(await extractText(bytes, 'text'), 'Größe: 5 €\nline two\n\nlast line')
  t.equal(await extractText(utf8('\n\n   indented first line\nkeeps its indent  \n\n'), 'text'), 'indented first line\nkeeps its indent', 'the whole is trimmed')
  t.equal(await extractText(utf8('a\u0000b'), 'text'), 'ab', 'U+0000 is removed (PostgreSQL text cannot hold it)')
})

t.test('text: invalid UTF-8 fails with the offset of the bad byte', async (t) => {
  await failsWith(t, concat(utf8('caf'), [0xc3, 0x28], utf8(' au lait')), 'text', 'File is not valid UTF-8 text (invalid byte at offset 3)', 'C3 28')
  await failsWith(t, concat(utf8('ok'), [0xff]), 'markdown', 'File is not valid UTF-8 text (invalid byte at offset 2)', 'FF')
  await failsWith(t, concat(utf8('price: 5 '), utf8('€').subarray(0, 2)), 'text', 'File is not valid UTF-8 text (invalid byte at offset 9)', 'ends inside a character')
  await failsWith(t, concat(utf8('x'.repeat(5000)), [0xe9], utf8('y'.repeat(5000))), 'text', 'File is not valid UTF-8 text (invalid byte at offset 5000)', 'Latin-1 deep in the file')
})

t.test('text and Markdown without text fail', async (t) => {
  await failsWith(t, new Uint8Array(0), 'text', 'Text file has no extractable text', 'empty')
  await failsWith(t, utf8(' \r\n\t\n'), 'text', 'Text file has no extractable text', 'whitespace only')
  await failsWith(t, concat([0xef, 0xbb, 0xbf]), 'markdown', 'Markdown file has no extractable text', 'a BOM only')
})

t.test('Markdown passes through with its markup', async (t) => {
  const markdown = '# Leave policy\n\nStaff get **25 days** of [paid leave](https://acme.example/leave).\n\n- ask first\n- book in the calendar\n\n```sh\n  npm test\n```'
  t.equal(await extractText(utf8(`${markdown}\r\n`), 'markdown'), markdown)
})

t.test('limits: every format is held to the character cap; omitted or undefined options take the defaults', async (t) => {
  await failsWith(t, utf8('x'.repeat(101)), 'text', 'Text file has more than 100 characters of text', 'text', { maxTextCharacters: 100 })
  await failsWith(t, utf8(`<p>${'x'.repeat(101)}</p>`), 'html', 'HTML page has more than 100 characters of text', 'html', { maxTextCharacters: 100 })
  await failsWith(t, minimalDocx(wordDocumentXml(['y'.repeat(101)])), 'docx', 'DOCX file has more than 100 characters of text', 'docx', { maxTextCharacters: 100 })
  t.equal(await extractText(utf8('x'.repeat(100)), 'text', { maxTextCharacters: 100 }), 'x'.repeat(100), 'at the cap')
  t.same(EXTRACT_LIMIT_DEFAULTS, {
    docxMaxExpandedBytes: 256 * 1024 * 1024,
    docxMaxPartBytes: 16 * 1024 * 1024,
    docxMaxParts: 10_000,
    htmlMaxDepth: 128,
    htmlMaxElements: 30_000,
    pdfMaxPages: 2000,
    maxTextCharacters: 50_000_000
  })
  t.equal(await extractText(utf8('fine'), 'text', { maxTextCharacters: undefined }), 'fine', 'undefined is the default')
})
