import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { waitForDocument } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'
import { makePdf } from '../../helpers/sample-files.js'

t.test('POST /v1/ingest/url against a local server (private addresses allowed)', async (t) => {
  const pdf = await makePdf(['The warranty covers parts for two years.'])
  const server = http.createServer((request, response) => {
    switch (request.url) {
      case '/article.html':
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        response.end('<!doctype html><html><head><title>Leave policy</title><script>var tracking = 1</script></head><body><nav>Home | About</nav><article><h1>Leave policy</h1><p>Staff receive 25 days of paid leave each year.</p><p>Unused days expire in March.</p></article><footer>© Acme</footer></body></html>')
        return
      case '/warranty.pdf':
        response.writeHead(200, { 'content-type': 'application/pdf' })
        response.end(pdf)
        return
      case '/moved':
        response.writeHead(302, { location: '/article.html' }).end()
        return
      case '/big':
        response.writeHead(200, { 'content-type': 'text/plain' })
        response.end(Buffer.alloc(21 * 1024 * 1024, 'a'))
        return
      case '/image':
        response.writeHead(200, { 'content-type': 'image/png' })
        response.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]))
        return
      default:
        response.writeHead(404).end('not here')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const { app, database } = await buildTestApp(t, { config: { workers: 2, urlAllowPrivate: true } })
  const org = await createOrgWithKey(database)
  const ingest = async (url: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const response = await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url, ...extra } })
    t.equal(response.status, 202, `${url} accepted`)
    return response.json().document_ids[0]
  }
  const text = async (id: string): Promise<string> => JSON.stringify(await queryInOrg(database, org.orgId, sql`select text from chunks where document_id = ${id}`))

  const html = await waitForDocument(app, org.key, await ingest(`${base}/article.html`, { metadata: { source: 'intranet' } }))
  t.match(html, { status: 'ready', source_type: 'url', filename: `${base}/article.html`, metadata: { source: 'intranet' } })
  const htmlText = await text(html.id)
  t.match(htmlText, /25 days of paid leave/)
  t.notMatch(htmlText, /tracking|Home \| About/, 'scripts and navigation are dropped')

  const fromPdf = await waitForDocument(app, org.key, await ingest(`${base}/warranty.pdf`))
  t.equal(fromPdf.status, 'ready')
  t.match(await text(fromPdf.id), /parts for two years/)

  const redirected = await waitForDocument(app, org.key, await ingest(`${base}/moved`))
  t.equal(redirected.status, 'ready', 'redirects are followed')

  t.match(await waitForDocument(app, org.key, await ingest(`${base}/missing`)), { status: 'failed', error_message: 'URL returned HTTP 404' })
  t.match(await waitForDocument(app, org.key, await ingest(`${base}/big`)), { status: 'failed', error_message: 'URL response is larger than 20 MB' })
  t.match(await waitForDocument(app, org.key, await ingest(`${base}/image`)), { status: 'failed', error_message: /^URL returned content jack cannot read/ })
})

t.test('SSRF: private and special addresses are refused with 422 by default', async (t) => {
  let requests = 0
  const server = http.createServer((_request, response) => { requests++; response.end('secret') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const port = (server.address() as AddressInfo).port

  const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
  const org = await createOrgWithKey(database)
  const refused = [
    `http://127.0.0.1:${port}/`,
    `http://localhost:${port}/`,
    'http://10.0.0.1/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    `http://[::1]:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://2130706433:${port}/`,
    'http://0.0.0.0/',
    'http://100.64.0.1/'
  ]
  for (const url of refused) {
    const response = await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url } })
    t.equal(response.status, 422, `${url} → 422`)
    t.match(response.json().detail, /forbidden address|not allowed/i)
  }
  const badForm: Array<[unknown, number, string | RegExp]> = [
    [{ url: 'ftp://example.com/file.txt' }, 422, /http/],
    [{ url: 'file:///etc/passwd' }, 422, /http/],
    [{ url: 'not a url' }, 422, /./],
    [{ url: 'http://user:secret@example.com/' }, 422, /./],
    [{ url: '' }, 422, 'url must not be empty'],
    [{ url: 5 }, 422, 'url must be a string'],
    [{}, 400, 'field \'url\' is required'],
    [{ url: `http://example.com/${'a'.repeat(2100)}` }, 422, 'url must be at most 2048 characters long'],
    [{ url: 'http://example.com/', chunk_size: 64 }, 422, 'chunk_size must be >= 128'],
    [{ url: 'http://example.com/', metadata: { a: 1 } }, 422, 'metadata.a must be a string']
  ]
  for (const [body, status, detail] of badForm) {
    const response = await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body })
    t.equal(response.status, status, JSON.stringify(body).slice(0, 80))
    if (typeof detail === 'string') t.equal(response.json().detail, detail)
    else t.match(response.json().detail, detail)
  }
  t.equal(requests, 0, 'the local server was never contacted')
  t.same((await call(t, app, 'GET', '/v1/documents', { key: org.key })).json(), [], 'no document was created')

  const matrixOrg = await createOrgWithKey(database, 'matrix')
  await authMatrix(t, app, database, matrixOrg.orgId, { method: 'POST', url: '/v1/ingest/url', body: { url: 'http://10.0.0.1/' } })
})
