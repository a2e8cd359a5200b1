// Uploads that used to take jack down, through the API with the real worker: each ends failed (or ready) with a clear message while /healthz keeps answering.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { PDFDocument } from 'pdf-lib'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { multipartBody, waitForDocument, type DocumentBody } from '../helpers/documents.js'
import { minimalDocx, wordDocumentXml } from '../helpers/zip-archive.js'

/** Probes /healthz every 20 ms while `work` runs; the slowest answer, which a frozen event loop would make seconds long. */
async function worstHealthWhile<T> (app: FastifyInstance, work: Promise<T>): Promise<{ result: T, worstMs: number }> {
  const state = { done: false }
  let worstMs = 0
  const probing = (async () => {
    while (!state.done) {
      const started = performance.now()
      const response = await app.inject({ method: 'GET', url: '/healthz' })
      if (response.statusCode !== 200) throw new Error(`/healthz answered ${response.statusCode}`)
      worstMs = Math.max(worstMs, performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  try {
    return { result: await work, worstMs }
  } finally {
    state.done = true
    await probing
  }
}

t.test('hostile documents end with a clear status while the server keeps answering', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 2, urlAllowPrivate: true, jobMaxAttempts: 1, jobTimeoutMs: 60_000 } })
  const org = await createOrgWithKey(database)
  const page = http.createServer((_request, response) => {
    const depth = 2000
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<html><body>${'<div>'.repeat(depth)}<p>Deep inside sits the travel policy: book economy class.</p>${'</div>'.repeat(depth)}</body></html>`)
  })
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { page.closeAllConnections(); page.close() })

  const upload = async (name: string, content: Uint8Array, type: string): Promise<string> => {
    const { body, contentType } = await multipartBody({}, { name, content, type })
    const response = await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody: body, headers: { 'content-type': contentType } })
    t.equal(response.status, 202, `${name} accepted`)
    return response.json().document_ids[0]
  }
  const pdf = await PDFDocument.create()
  for (let page = 0; page < 2001; page++) pdf.addPage([100, 100])

  const cases: Array<{ label: string, submit: () => Promise<string>, expect: Partial<DocumentBody> }> = [
    {
      label: 'a 100 KB DOCX inflating to 100 MB',
      submit: async () => await upload('bomb.docx', minimalDocx(wordDocumentXml(['Hello'], 100 * 1024 * 1024)), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
      expect: { status: 'failed', error_message: 'DOCX file has a part that expands to more than 16 MB' }
    },
    {
      label: 'a DOCX whose part inflates past what its zip declares',
      submit: async () => await upload('liar.docx', minimalDocx(wordDocumentXml(['Hello'], 64 * 1024 * 1024), [], 2048), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
      expect: { status: 'failed', error_message: 'DOCX file is damaged: not a valid Word document' }
    },
    {
      label: '2,000 nested divs by URL',
      submit: async () => (await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url: `http://127.0.0.1:${(page.address() as AddressInfo).port}/deep.html` } })).json().document_ids[0],
      expect: { status: 'ready', chunk_count: 1 }
    },
    {
      label: '2 MB of text without whitespace',
      submit: async () => await upload('one-word.txt', Buffer.alloc(2 * 1024 * 1024, 'x'), 'text/plain'),
      expect: { status: 'ready' }
    },
    {
      label: 'a PDF of 2,001 pages',
      submit: async () => await upload('manual.pdf', await pdf.save(), 'application/pdf'),
      expect: { status: 'failed', error_message: 'PDF has 2,001 pages, more than the 2,000 jack reads; split it into smaller files' }
    }
  ]
  for (const hostile of cases) {
    const { result, worstMs } = await worstHealthWhile(app, (async () => await waitForDocument(app, org.key, await hostile.submit(), 120_000))())
    t.match(result, hostile.expect, hostile.label)
    // Generous for a loaded 2-core CI machine; bench/hostile-inputs measures the real figures.
    t.ok(worstMs < 1000, `${hostile.label}: /healthz answered within ${Math.round(worstMs)} ms throughout`)
  }
})
