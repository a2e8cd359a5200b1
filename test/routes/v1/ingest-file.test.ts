// POST /v1/ingest/file over real HTTP: formats judged by content, the form's rules, size limits, temporary files, authentication.
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { multipartBody, waitForDocument, type FormFile } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'
import { makeDocx, makePdf, PNG_HEADER } from '../../helpers/sample-files.js'
import { uploadDirectory } from '../../../src/ingest/receive-upload.js'

// Test files run as parallel processes that all upload: a temporary directory of
// this process's own makes the upload folder's files this file's alone to count.
const ownTmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-upload-test-'))
process.env.TMPDIR = ownTmpDir
t.teardown(() => { fs.rmSync(ownTmpDir, { recursive: true, force: true }) })

/** Temporary files in the upload folder now. */
function uploadsStored (): number {
  try {
    return fs.readdirSync(uploadDirectory()).length
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
}

t.test('POST /v1/ingest/file', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
  const org = await createOrgWithKey(database)
  t.equal(path.dirname(uploadDirectory()), ownTmpDir, 'uploads go to this process\'s temporary directory')
  let port: number | undefined
  const listeningPort = async (): Promise<number> => {
    if (port === undefined) {
      await app.listen({ port: 0, host: '127.0.0.1' })
      port = (app.server.address() as AddressInfo).port
    }
    return port
  }
  const upload = async (fields: Record<string, string>, file?: FormFile, fileField?: string): Promise<ReturnType<typeof call>> => {
    const { body, contentType } = await multipartBody(fields, file, fileField)
    return await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody: body, headers: { 'content-type': contentType } })
  }
  const chunkText = async (id: string): Promise<string> => {
    return JSON.stringify(await queryInOrg(database, org.orgId, sql`select string_agg(text, ' ' order by chunk_index) as text from chunks where document_id = ${id}`))
  }

  t.test('a PDF with known text becomes ready with that text', async (t) => {
    const pdf = await makePdf(['Refunds are issued within 30 days of purchase.', 'Contact billing for exceptions.'])
    const response = await upload({ metadata: '{"department":"billing"}' }, { name: 'refunds.pdf', content: pdf, type: 'application/pdf' })
    t.equal(response.status, 202)
    t.equal(response.json().queued, 1)
    const document = await waitForDocument(app, org.key, response.json().document_ids[0])
    t.match(document, { status: 'ready', source_type: 'file', filename: 'refunds.pdf', metadata: { department: 'billing' }, chunk_count: 1 })
    t.match(await chunkText(document.id), /Refunds are issued within 30 days of purchase\./)
  })

  t.test('a DOCX and a Markdown file', async (t) => {
    const docx = await makeDocx(['Remote work policy', 'Employees may work remotely up to 3 days per week.'])
    const docxDocument = await waitForDocument(app, org.key, (await upload({}, { name: 'policy.docx', content: docx })).json().document_ids[0])
    t.match(docxDocument, { status: 'ready', filename: 'policy.docx' })
    t.match(await chunkText(docxDocument.id), /up to 3 days per week/)
    const markdown = await upload({ chunk_size: '256', chunk_overlap: '0' }, { name: 'handbook.md', content: '# Handbook\n\nVacation is **25 days** a year.\n', type: 'text/markdown' })
    const mdDocument = await waitForDocument(app, org.key, markdown.json().document_ids[0])
    t.match(mdDocument, { status: 'ready', filename: 'handbook.md' })
    t.match(await chunkText(mdDocument.id), /Vacation is \*\*25 days\*\* a year/)
  })

  t.test('a damaged PDF is accepted and ends failed with a readable message', async (t) => {
    const corrupt = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(4096, 0x41)])
    const response = await upload({}, { name: 'broken.pdf', content: corrupt })
    t.equal(response.status, 202)
    const document = await waitForDocument(app, org.key, response.json().document_ids[0])
    t.equal(document.status, 'failed')
    t.equal(document.error_message, 'PDF is damaged or encrypted and cannot be read')
    t.equal(document.chunk_count, 0)
    const textless = await waitForDocument(app, org.key, (await upload({}, { name: 'blank.pdf', content: await makePdf([]) })).json().document_ids[0])
    t.match(textless, { status: 'failed', error_message: 'PDF has no extractable text' })
  })

  t.test('type is judged by content as well as name', async (t) => {
    const cases: Array<[string, FormFile, string | RegExp]> = [
      ['a PNG renamed to .pdf', { name: 'scan.pdf', content: PNG_HEADER }, /^Unsupported file type for "scan\.pdf"/],
      ['a PNG', { name: 'photo.png', content: PNG_HEADER }, /^Unsupported file type/],
      ['text named .exe', { name: 'setup.exe', content: 'MZ hello' }, /^Unsupported file type/],
      ['text named .pdf', { name: 'fake.pdf', content: 'just text' }, /^Unsupported file type/],
      ['a legacy .doc', { name: 'old.doc', content: Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) }, /^Unsupported file type/]
    ]
    for (const [name, file, detail] of cases) {
      const response = await upload({}, file)
      t.equal(response.status, 415, `${name} → 415`)
      t.match(response.json().detail, detail)
    }
  })

  t.test('the form is validated', async (t) => {
    const file = { name: 'a.txt', content: 'Some text.' }
    const cases: Array<[string, Record<string, string>, FormFile | undefined, number, string | RegExp]> = [
      ['no file part', { metadata: '{}' }, undefined, 400, 'field \'file\' is required'],
      ['metadata not JSON', { metadata: '{department: HR}' }, file, 422, 'metadata must be a JSON object of strings'],
      ['metadata a list', { metadata: '["HR"]' }, file, 422, 'metadata must be an object'],
      ['a number value', { metadata: '{"year":2024}' }, file, 422, 'metadata.year must be a string'],
      ['a NUL in metadata', { metadata: '{"a":"\\u0000"}' }, file, 422, 'metadata.a must not contain NUL (\\u0000) characters'],
      ['chunk_size not a number', { chunk_size: 'big' }, file, 422, 'chunk_size must be an integer'],
      ['chunk_size too small', { chunk_size: '100' }, file, 422, 'chunk_size must be >= 128'],
      ['overlap too large', { chunk_size: '128', chunk_overlap: '200' }, file, 422, 'chunk_overlap must be less than chunk_size']
    ]
    for (const [name, fields, part, status, detail] of cases) {
      const response = await upload(fields, part)
      t.equal(response.status, status, `${name} → ${status}`)
      if (typeof detail === 'string') t.equal(response.json().detail, detail, name)
      else t.match(response.json().detail, detail, name)
    }
    const wrongField = await upload({}, file, 'attachment')
    t.same([wrongField.status, wrongField.json()], [400, { detail: 'field \'file\' is required' }], 'a file under another name is not the file')
    const json = await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, body: { file: 'x' } })
    t.equal(json.status, 415, 'a JSON body is not a form')

    // Broken multipart syntax is the client's fault: 400, never 500.
    const { body } = await multipartBody({ metadata: '{}' }, file)
    const broken: Array<[string, string | Buffer, string]> = [
      ['no boundary parameter', body, 'multipart/form-data'],
      ['a body cut off mid-part', body.subarray(0, Math.floor(body.length / 2)), 'multipart/form-data; boundary=x'],
      ['a boundary the body never uses', body, 'multipart/form-data; boundary=nomatch'],
      ['a part without headers', '--b\r\n\r\nhello\r\n--b--\r\n', 'multipart/form-data; boundary=b']
    ]
    for (const [name, rawBody, contentType] of broken) {
      const response = await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody, headers: { 'content-type': contentType } })
      t.ok(response.status === 400, `${name} → 400 (got ${response.status} ${response.body})`)
    }
  })

  t.test('no temporary file outlives a refused upload', async (t) => {
    t.equal(uploadsStored(), 0, 'none before')
    const pngOver8KiB = { name: 'scan.png', content: Buffer.concat([PNG_HEADER, Buffer.alloc(20_000, 1)]) }
    const large415 = await upload({}, pngOver8KiB)
    t.equal(large415.status, 415, 'a PNG over 8 KiB → 415 (refused within its first chunk)')
    t.equal(uploadsStored(), 0, 'and leaves no file behind')
    t.equal((await upload({}, { name: 'small.png', content: PNG_HEADER })).status, 415, 'a PNG under 8 KiB → 415 (judged at its end)')
    t.equal(uploadsStored(), 0)
    const { body, contentType } = await multipartBody({}, { name: 'long.txt', content: 'Plain words. '.repeat(4000) })
    const cut = await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody: body.subarray(0, 30_000), headers: { 'content-type': contentType } })
    t.equal(cut.status, 400, 'a body cut off inside the file → 400')
    t.equal(uploadsStored(), 0)
    t.equal((await upload({}, { name: 'fine.txt', content: 'Accepted text. '.repeat(2000) })).status, 202)
    t.equal(uploadsStored(), 0, 'an accepted upload\'s file is gone once it is stored in the database')
  })

  t.test('a client that leaves mid-upload leaves no temporary file', async (t) => {
    const port = await listeningPort()
    const boundary = 'jackboundary'
    const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/ingest/file', headers: { authorization: `Bearer ${org.key}`, 'content-type': `multipart/form-data; boundary=${boundary}` } })
    request.on('error', () => {})
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="partial.txt"\r\nContent-Type: text/plain\r\n\r\n`)
    request.write(Buffer.alloc(256 * 1024, 'a'))
    const deadline = Date.now() + 10_000
    while (uploadsStored() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(uploadsStored(), 1, 'the upload is being stored')
    request.destroy()
    while (uploadsStored() > 0 && Date.now() < deadline + 10_000) await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(uploadsStored(), 0, 'and is removed once the client has gone')
  })

  t.test('an upload over 100 MB is refused with 413 without being held in memory', async (t) => {
    const port = await listeningPort()
    const boundary = 'jackboundary'
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\nContent-Type: text/plain\r\n\r\n`)
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const block = Buffer.alloc(1024 * 1024, 'a')
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/ingest/file', headers: { authorization: `Bearer ${org.key}`, 'content-type': `multipart/form-data; boundary=${boundary}` } })
      request.on('response', (response) => { response.resume(); resolve(response.statusCode ?? 0) })
      request.on('error', reject)
      // The server answers 413 and closes while the client is still sending.
      request.on('socket', (socket) => socket.on('error', () => {}))
      request.write(head)
      let sent = 0
      const pump = (): void => {
        while (sent < 101 && !request.destroyed) {
          sent++
          if (!request.write(block)) {
            request.once('drain', pump)
            return
          }
        }
        if (!request.destroyed) request.end(tail)
      }
      pump()
    })
    clearInterval(sampler)
    t.equal(status, 413)
    t.equal(uploadsStored(), 0, 'no temporary file remains')
    const growthMb = (peak - baseline) / 1024 / 1024
    t.ok(growthMb < 60, `memory grew by ${growthMb.toFixed(0)} MB while 101 MB streamed through`)
  })

  t.test('authentication', async (t) => {
    const matrixOrg = await createOrgWithKey(database, 'matrix')
    await authMatrix(t, app, database, matrixOrg.orgId, { method: 'POST', url: '/v1/ingest/file' })
  })
})
