import t from 'tap'
import { buildTestApp, createOrgWithKey } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { waitForDocument } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('POST /v1/ingest', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
  const org = await createOrgWithKey(database, 'A')
  const other = await createOrgWithKey(database, 'B')

  t.test('accepts documents, answers 202 with IDs in order, and processes them to ready', async (t) => {
    const response = await call(t, app, 'POST', '/v1/ingest', {
      key: org.key,
      body: {
        documents: [
          { text: 'Employees may work remotely up to 3 days per week with manager approval.', metadata: { department: 'HR' }, filename: 'remote.md' },
          { text: 'Refunds are issued within 30 days of purchase.' },
          { text: 'Third document.' }
        ]
      }
    })
    t.equal(response.status, 202)
    const body = response.json()
    t.equal(body.status, 'accepted')
    t.equal(body.org_id, org.orgId)
    t.equal(body.queued, 3)
    t.equal(body.document_ids.length, 3)
    t.ok(body.document_ids.every((id: string) => UUID.test(id)))
    const [first, second] = await Promise.all(body.document_ids.slice(0, 2).map(async (id: string) => await waitForDocument(app, org.key, id)))
    t.match(first, { status: 'ready', chunk_count: 1, filename: 'remote.md', source_type: 'text', metadata: { department: 'HR' }, error_message: null })
    t.match(second, { status: 'ready', filename: null, metadata: {} })
    const got = await call(t, app, 'GET', `/v1/documents/${body.document_ids[0] as string}`, { key: org.key })
    t.equal(got.json().id, body.document_ids[0], 'IDs are in the order of the documents')
  })

  t.test('a single small document becomes ready (how fast is measured by bench/ingest)', async (t) => {
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'Quick.' }] } })
    const document = await waitForDocument(app, org.key, response.json().document_ids[0])
    t.equal(document.status, 'ready')
  })

  t.test('chunk_size and chunk_overlap are applied; chunk_count is exact', async (t) => {
    const sentences = Array.from({ length: 120 }, (_, i) => `Sentence number ${i} talks about policy ${i % 7} in some detail.`)
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: sentences.join(' ') }], chunk_size: 128, chunk_overlap: 16 } })
    const document = await waitForDocument(app, org.key, response.json().document_ids[0])
    t.equal(document.status, 'ready')
    t.ok(document.chunk_count > 5, `split into ${document.chunk_count} chunks`)
    const { sql } = await import('drizzle-orm')
    const [row] = await queryInOrg<{ n: number, largest: number }>(database, org.orgId, sql`select count(*)::int as n, max(token_count) as largest from chunks where document_id = ${document.id}`)
    t.equal(row?.n, document.chunk_count, 'chunk_count matches the stored chunks')
    t.ok((row?.largest ?? 0) <= 128, 'no chunk is over chunk_size tokens')
  })

  t.test('the validation matrix', async (t) => {
    const doc = { text: 'Some text.' }
    const deep = '{"documents":[{"text":"x","metadata":' + '{"a":'.repeat(5000) + '"v"' + '}'.repeat(5000) + '}]}'
    const cases: Array<[string, { body?: unknown, rawBody?: string | Buffer }, number, string | RegExp]> = [
      ['malformed JSON', { rawBody: '{"documents": [' }, 400, 'Malformed JSON in request body'],
      ['not UTF-8', { rawBody: Buffer.concat([Buffer.from('{"documents":[{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]) }, 400, 'Request body is not valid UTF-8'],
      ['no documents field', { body: {} }, 400, 'field \'documents\' is required'],
      ['documents not a list', { body: { documents: 'text' } }, 422, 'documents must be an array'],
      ['an empty list', { body: { documents: [] } }, 422, 'documents list must not be empty'],
      ['51 documents', { body: { documents: Array.from({ length: 51 }, () => doc) } }, 422, 'documents must have at most 50 items'],
      ['a document without text', { body: { documents: [doc, { metadata: {} }] } }, 400, 'field \'documents[1].text\' is required'],
      ['text of the wrong type', { body: { documents: [{ text: 42 }] } }, 422, 'documents[0].text must be a string'],
      ['empty text', { body: { documents: [{ text: '' }] } }, 422, 'documents[0].text must not be empty'],
      ['whitespace text', { body: { documents: [doc, { text: ' \n\t ' }] } }, 422, 'documents[1].text must not be empty'],
      ['text with NUL', { body: { documents: [{ text: 'a\u0000b' }] } }, 422, 'documents[0].text must not contain NUL (\\u0000) characters'],
      ['metadata a list', { body: { documents: [{ text: 'x', metadata: ['HR'] }] } }, 422, 'documents[0].metadata must be an object'],
      ['metadata a string', { body: { documents: [{ text: 'x', metadata: 'HR' }] } }, 422, 'documents[0].metadata must be an object'],
      ['a number value', { body: { documents: [{ text: 'x', metadata: { year: 2024 } }] } }, 422, 'documents[0].metadata.year must be a string'],
      ['a null value', { body: { documents: [{ text: 'x', metadata: { year: null } }] } }, 422, 'documents[0].metadata.year must be a string'],
      ['nested metadata', { body: { documents: [{ text: 'x', metadata: { a: { b: 'c' } } }] } }, 422, 'documents[0].metadata.a must be a string'],
      ['deeply nested metadata', { rawBody: deep }, 422, 'documents[0].metadata.a must be a string'],
      ['a 1 MB value', { body: { documents: [{ text: 'x', metadata: { big: 'v'.repeat(1024 * 1024) } }] } }, 422, 'documents[0].metadata.big must be at most 8192 characters long'],
      ['65 keys', { body: { documents: [{ text: 'x', metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }] } }, 422, 'documents[0].metadata must have at most 64 keys'],
      ['an empty key', { body: { documents: [{ text: 'x', metadata: { '': 'v' } }] } }, 422, /^documents\[0\]\.metadata has an invalid key ""/],
      ['a lone surrogate in metadata', { rawBody: '{"documents":[{"text":"x","metadata":{"a":"\\ud800"}}]}' }, 422, 'documents[0].metadata.a must not contain unpaired surrogate characters'],
      ['a lone surrogate in text', { rawBody: '{"documents":[{"text":"ok \\udc00"}]}' }, 422, 'documents[0].text must not contain unpaired surrogate characters'],
      ['a NUL in a key', { body: { documents: [{ text: 'x', metadata: { 'a\u0000': 'v' } }] } }, 422, /NUL/],
      ['a __proto__ key', { rawBody: '{"documents":[{"text":"x","metadata":{"__proto__":{"polluted":"yes"}}}]}' }, 400, 'Malformed JSON in request body'],
      ['filename a number', { body: { documents: [{ text: 'x', filename: 7 }] } }, 422, 'documents[0].filename must be a string'],
      ['chunk_size 127', { body: { documents: [doc], chunk_size: 127 } }, 422, 'chunk_size must be >= 128'],
      ['chunk_size 4097', { body: { documents: [doc], chunk_size: 4097 } }, 422, 'chunk_size must be <= 4096'],
      ['chunk_size "512"', { body: { documents: [doc], chunk_size: '512' } }, 422, 'chunk_size must be an integer'],
      ['chunk_size 512.5', { body: { documents: [doc], chunk_size: 512.5 } }, 422, 'chunk_size must be an integer'],
      ['chunk_size 1e300', { body: { documents: [doc], chunk_size: 1e300 } }, 422, 'chunk_size must be <= 4096'],
      ['chunk_overlap -1', { body: { documents: [doc], chunk_overlap: -1 } }, 422, 'chunk_overlap must be >= 0'],
      ['chunk_overlap 513', { body: { documents: [doc], chunk_size: 1024, chunk_overlap: 513 } }, 422, 'chunk_overlap must be <= 512'],
      ['overlap equal to size', { body: { documents: [doc], chunk_size: 128, chunk_overlap: 128 } }, 422, 'chunk_overlap must be less than chunk_size'],
      ['a JSON array body', { body: [doc] }, 422, 'request body must be an object']
    ]
    for (const [name, options, status, detail] of cases) {
      const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, ...options })
      t.equal(response.status, status, `${name} → ${status}`)
      const body = response.json()
      t.same(Object.keys(body), ['detail'], `${name}: only a detail`)
      if (typeof detail === 'string') t.equal(body.detail, detail, name)
      else t.match(body.detail, detail, name)
    }
    const list = await call(t, app, 'GET', '/v1/documents?limit=1000', { key: org.key })
    t.notOk(list.body.includes('polluted'), 'nothing from a refused request was stored')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
  })

  t.test('hostile but valid strings are stored as given', async (t) => {
    const text = 'Ünïcödé ✓ 😀 مرحبا \u202e\u200b <script>alert(1)</script> \'; drop table documents;-- \\'
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text, metadata: { 'ключ 😀': '\'"; --', $where: '1' }, filename: '../../etc/passwd' }] } })
    t.equal(response.status, 202)
    const document = await waitForDocument(app, org.key, response.json().document_ids[0])
    t.equal(document.status, 'ready')
    t.same(document.metadata, { 'ключ 😀': '\'"; --', $where: '1' })
    t.equal(document.filename, '../../etc/passwd')
  })

  t.test('an oversize body is 413', async (t) => {
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, rawBody: JSON.stringify({ documents: [{ text: 'x'.repeat(11 * 1024 * 1024) }] }) })
    t.equal(response.status, 413)
  })

  t.test('documents belong to the ingesting org only', async (t) => {
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'Secret of A.' }] } })
    const id = response.json().document_ids[0] as string
    await waitForDocument(app, org.key, id)
    t.equal((await call(t, app, 'GET', `/v1/documents/${id}`, { key: other.key })).status, 404)
    const listB = await call(t, app, 'GET', '/v1/documents', { key: other.key })
    t.notOk(listB.body.includes(id), 'not in B\'s list')
  })

  t.test('authentication', async (t) => {
    const matrixOrg = await createOrgWithKey(database, 'matrix')
    await authMatrix(t, app, database, matrixOrg.orgId, { method: 'POST', url: '/v1/ingest', body: { documents: [{ text: 'x' }] } })
  })
})
