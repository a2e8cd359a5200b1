import t from 'tap'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { waitForDocument } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'

const MISSING = '00000000-0000-4000-8000-000000000000'

t.test('documents', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  const ingest = async (key: string, documents: unknown[]): Promise<string[]> =>
    (await call(t, app, 'POST', '/v1/ingest', { key, body: { documents } })).json().document_ids

  const ids = await ingest(orgA.key, Array.from({ length: 7 }, (_, i) => ({ text: `Document ${i} of org A.`, metadata: { n: String(i) } })))
  for (const id of ids) await waitForDocument(app, orgA.key, id)

  t.test('GET returns the document object', async (t) => {
    const response = await call(t, app, 'GET', `/v1/documents/${ids[0] as string}`, { key: orgA.key })
    t.equal(response.status, 200)
    const body = response.json()
    t.same(Object.keys(body).sort(), ['chunk_count', 'created_at', 'error_message', 'filename', 'id', 'metadata', 'source_type', 'status', 'updated_at'])
    t.match(body, { id: ids[0], source_type: 'text', status: 'ready', chunk_count: 1, metadata: { n: '0' }, error_message: null, filename: null })
  })

  t.test('the list is newest first, paged by cursor with a Link header, and filtered by status', async (t) => {
    const all = await call(t, app, 'GET', '/v1/documents', { key: orgA.key })
    t.same(all.json().map((d: { id: string }) => d.id), [...ids].reverse(), 'newest first')
    t.equal(all.headers.link, undefined, 'no Link header when nothing remains')

    const seen: string[] = []
    let url: string | undefined = '/v1/documents?limit=3'
    let pages = 0
    while (url !== undefined) {
      const page = await call(t, app, 'GET', url, { key: orgA.key })
      t.equal(page.status, 200)
      seen.push(...page.json().map((d: { id: string }) => d.id))
      const link = page.headers.link as string | undefined
      url = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
      pages++
    }
    t.equal(pages, 3, '7 documents in pages of 3')
    t.same(seen, [...ids].reverse(), 'every document exactly once, in order')

    const ready = await call(t, app, 'GET', '/v1/documents?status=ready&limit=1000', { key: orgA.key })
    t.equal(ready.json().length, 7)
    t.same((await call(t, app, 'GET', '/v1/documents?status=failed', { key: orgA.key })).json(), [])
  })

  t.test('list parameters are validated', async (t) => {
    const cases: Array<[string, number, string | RegExp]> = [
      ['limit=0', 422, 'limit must be >= 1 in the query string'],
      ['limit=1001', 422, 'limit must be <= 1000 in the query string'],
      ['limit=abc', 422, 'limit must be an integer in the query string'],
      ['status=done', 422, /^status must be/],
      ['cursor=garbage', 422, /^cursor is not valid/],
      [`cursor=${'x'.repeat(201)}`, 422, /^cursor must be at most 200 characters/]
    ]
    for (const [query, status, detail] of cases) {
      const response = await call(t, app, 'GET', `/v1/documents?${query}`, { key: orgA.key })
      t.equal(response.status, status, query)
      if (typeof detail === 'string') t.equal(response.json().detail, detail)
      else t.match(response.json().detail, detail)
    }
  })

  t.test('PATCH replaces the metadata', async (t) => {
    const response = await call(t, app, 'PATCH', `/v1/documents/${ids[1] as string}`, { key: orgA.key, body: { metadata: { department: 'legal' } } })
    t.equal(response.status, 200)
    t.same(response.json().metadata, { department: 'legal' }, 'replaced, not merged')
    t.same((await call(t, app, 'GET', `/v1/documents/${ids[1] as string}`, { key: orgA.key })).json().metadata, { department: 'legal' })
    const bad: Array<[unknown, number, string]> = [
      [{}, 400, 'field \'metadata\' is required'],
      [{ metadata: { a: 1 } }, 422, 'metadata.a must be a string'],
      [{ metadata: [] }, 422, 'metadata must be an object']
    ]
    for (const [body, status, detail] of bad) {
      const reply = await call(t, app, 'PATCH', `/v1/documents/${ids[1] as string}`, { key: orgA.key, body })
      t.same([reply.status, reply.json()], [status, { detail }])
    }
  })

  t.test('DELETE removes the document and its chunks', async (t) => {
    const id = ids[2] as string
    const response = await call(t, app, 'DELETE', `/v1/documents/${id}`, { key: orgA.key })
    t.equal(response.status, 204)
    t.equal(response.body, '')
    t.equal((await call(t, app, 'GET', `/v1/documents/${id}`, { key: orgA.key })).status, 404)
    const [chunks] = await queryInOrg<{ n: number }>(database, orgA.orgId, sql`select count(*)::int as n from chunks where document_id = ${id}`)
    t.equal(chunks?.n, 0, 'no chunks remain')
    t.equal((await call(t, app, 'DELETE', `/v1/documents/${id}`, { key: orgA.key })).status, 404, 'deleting again is 404')
  })

  t.test('org B sees none of org A\'s documents', async (t) => {
    const id = ids[3] as string
    for (const [method, body] of [['GET', undefined], ['DELETE', undefined], ['PATCH', { metadata: { hijacked: 'yes' } }]] as const) {
      const response = await call(t, app, method, `/v1/documents/${id}`, { key: orgB.key, body })
      t.same([response.status, response.json()], [404, { detail: 'Document not found' }], `${method} → 404`)
    }
    const missing = await call(t, app, 'GET', `/v1/documents/${MISSING}`, { key: orgB.key })
    t.same([missing.status, missing.json()], [404, { detail: 'Document not found' }], 'same as a document that does not exist')
    t.same((await call(t, app, 'GET', '/v1/documents', { key: orgB.key })).json(), [], 'B\'s list is empty')
    const stillThere = await call(t, app, 'GET', `/v1/documents/${id}`, { key: orgA.key })
    t.equal(stillThere.status, 200, 'A\'s document survived B\'s DELETE')
    t.same(stillThere.json().metadata, { n: '3' }, 'and B\'s PATCH')
    const cursorFromA = (await call(t, app, 'GET', '/v1/documents?limit=1', { key: orgA.key })).headers.link as string
    const stolen = /cursor=([^&>]+)/.exec(cursorFromA)?.[1] as string
    t.same((await call(t, app, 'GET', `/v1/documents?cursor=${stolen}`, { key: orgB.key })).json(), [], 'A\'s cursor shows B nothing of A')
  })

  t.test('malformed IDs are 422', async (t) => {
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await call(t, app, method, '/v1/documents/not-a-uuid', { key: orgA.key })
      t.same([response.status, response.json()], [422, { detail: 'document_id must be a valid UUID in the path' }])
    }
  })

  for (const route of [
    { method: 'GET' as const, url: `/v1/documents/${MISSING}` },
    { method: 'GET' as const, url: '/v1/documents' },
    { method: 'DELETE' as const, url: `/v1/documents/${MISSING}` },
    { method: 'PATCH' as const, url: `/v1/documents/${MISSING}`, body: { metadata: {} } }
  ]) {
    t.test(`authentication of ${route.method} ${route.url}`, async (t) => {
      const org = await createOrgWithKey(database, 'matrix')
      await authMatrix(t, app, database, org.orgId, route)
    })
  }
})
