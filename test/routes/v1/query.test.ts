import t, { type Test } from 'tap'
import fc from 'fast-check'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey, type TestOrg } from '../../helpers/app.js'
import { call, type ApiResponse } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { waitForDocument } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'
import { parseSse, type SseEvent } from '../../helpers/sse.js'
import { metadataArbitrary, rawFilter } from '../../helpers/filter-arbitraries.js'
import { matchesFilter } from '../../helpers/filter-reference.js'
import { NOT_FOUND_ANSWER } from '../../../src/answer/answer-types.js'
import { parseFilter } from '../../../src/retrieval/filters.js'
import { indexDocument } from '../../../src/repositories/search-index.repo.js'
import type { CitationType } from '../../../src/schemas/query.js'

type CitationBody = CitationType

interface QueryBody {
  answer: string
  citations: CitationBody[]
  org_id: string
}

const HANDBOOK: Array<{ filename: string, metadata: Record<string, string>, text: string }> = [
  {
    filename: 'refunds.md',
    metadata: { department: 'sales', year: '2024' },
    text: '# Refund policy\n\nCustomers may return any item within 30 days of purchase for a full refund. Refunds are paid to the original payment card within 5 business days.\n\n# Exchanges\n\nSized items may be exchanged once, free of charge.'
  },
  {
    filename: 'remote-work.md',
    metadata: { department: 'HR', year: '2023' },
    text: 'Remote work policy\n\nEmployees may work remotely up to 3 days per week with manager approval. Core hours are 10:00 to 15:00 in the local time zone of the employee.\n\nEquipment\n\nThe company provides a laptop and a monitor for home use.'
  },
  {
    filename: 'travel.md',
    metadata: { department: 'finance' },
    text: 'Travel expenses\n\nEconomy class is required for flights under six hours. Hotel costs are reimbursed up to 180 euros per night in capital cities.'
  },
  {
    filename: 'security.md',
    metadata: { department: 'IT', year: '2024' },
    text: 'Passwords must be at least 14 characters long and are never shared. Laptops lock automatically after five minutes without use. Lost devices are reported to the IT service desk within one hour.'
  }
]

// Known answers: the question, the document holding the answer, and the sentence the answer must contain.
const ANSWERABLE: Array<[string, number, string]> = [
  ['What is our refund policy?', 0, 'Customers may return any item within 30 days of purchase for a full refund.'],
  ['How many days a week can employees work remotely?', 1, 'Employees may work remotely up to 3 days per week with manager approval.'],
  ['How long must a password be?', 3, 'Passwords must be at least 14 characters long and are never shared.'],
  ['How much is reimbursed for a hotel night in a capital city?', 2, 'Hotel costs are reimbursed up to 180 euros per night in capital cities.']
]

function withoutMarkers (text: string): string {
  return text.replace(/^\.\.\./, '').replace(/\.\.\.$/, '')
}

function checkCitations (t: Test, citations: CitationBody[], texts: Map<string, string>): void {
  for (const [index, citation] of citations.entries()) {
    t.ok(citation.score >= 0 && citation.score <= 1, `citation ${index}: score ${citation.score} within 0–1`)
    if (index > 0) t.ok(citation.score <= (citations[index - 1] as CitationBody).score, `citation ${index}: scores descend`)
    const text = texts.get(citation.document_id)
    t.ok(text !== undefined, `citation ${index} names a known document`)
    if (text !== undefined) t.equal(text.slice(citation.start, citation.end), withoutMarkers(citation.text), `citation ${index}: start/end slice the document to the cited text`)
  }
}

const SSE_EVENT_ORDER = /^citations(?: token)+ done$/

function eventNames (events: SseEvent[]): string {
  return events.map((event) => event.event).join(' ')
}

t.test('query endpoints', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  const texts = new Map<string, string>()

  async function ingest (org: TestOrg, documents: Array<{ text: string, filename?: string, metadata?: Record<string, string> }>): Promise<string[]> {
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents } })
    t.equal(response.status, 202)
    const ids: string[] = response.json().document_ids
    for (const [index, id] of ids.entries()) {
      t.equal((await waitForDocument(app, org.key, id)).status, 'ready')
      texts.set(id, (documents[index] as { text: string }).text)
    }
    return ids
  }

  const query = async (t: Test, org: TestOrg, body: unknown): Promise<ApiResponse> => await call(t, app, 'POST', '/v1/query', { key: org.key, body })
  const search = async (t: Test, org: TestOrg, body: unknown): Promise<ApiResponse> => await call(t, app, 'POST', '/v1/search', { key: org.key, body })
  const stream = async (t: Test, org: TestOrg, body: unknown): Promise<ApiResponse> => await call(t, app, 'POST', '/v1/query/stream', { key: org.key, body })

  const handbookIds = await ingest(orgA, HANDBOOK)
  // Org B holds the same kind of documents with other facts, and words org A never uses.
  const [orgBRefunds] = await ingest(orgB, [
    { filename: 'b-refunds.md', metadata: { department: 'sales', year: '2024' }, text: 'Refund policy\n\nCustomers may return items within 14 days for store credit only. Zebrafish are never refunded.' },
    { filename: 'b-security.md', metadata: { department: 'IT' }, text: 'Passwords must be at least 8 characters long. Quokka badges open the server room.' }
  ])

  t.test('answers quote the sentence that answers, with citations that slice the document exactly', async (t) => {
    for (const [question, documentIndex, sentence] of ANSWERABLE) {
      const response = await query(t, orgA, { question })
      t.equal(response.status, 200, question)
      const body = response.json<QueryBody>()
      t.same(Object.keys(body).sort(), ['answer', 'citations', 'org_id'])
      t.equal(body.org_id, orgA.orgId)
      t.ok(body.answer.includes(sentence), `${question} → ${JSON.stringify(body.answer)}`)
      const best = body.citations[0]
      t.equal(best?.document_id, handbookIds[documentIndex], 'the best citation is the answering document')
      t.equal(best?.source, HANDBOOK[documentIndex]?.filename, 'source is the filename')
      t.same(best?.metadata, HANDBOOK[documentIndex]?.metadata, 'the document\'s metadata')
      t.equal(best?.chunk_index, 0)
      t.ok(best?.text.includes(sentence), 'the citation holds the quoted sentence')
      checkCitations(t, body.citations, texts)
    }
  })

  t.test('a question the documents do not answer gets the plain not-found answer and no citations', async (t) => {
    for (const question of ['What is the airspeed velocity of an unladen swallow?', 'Who won the 1966 World Cup final?', 'What is it?']) {
      const body = (await query(t, orgA, { question })).json<QueryBody>()
      t.same(body, { answer: NOT_FOUND_ANSWER, citations: [], org_id: orgA.orgId }, question)
    }
    const empty = await createOrgWithKey(database, 'empty')
    t.same((await query(t, empty, { question: 'What is our refund policy?' })).json(), { answer: NOT_FOUND_ANSWER, citations: [], org_id: empty.orgId }, 'an organisation without documents')
    t.same((await search(t, empty, { query: 'refund policy' })).json(), { results: [], org_id: empty.orgId })
  })

  t.test('filters narrow the candidates before ranking', async (t) => {
    const cases: Array<[unknown, string[]]> = [
      [{ department: 'HR' }, ['HR']],
      [{ department: { $in: ['sales', 'IT'] } }, ['sales', 'IT']],
      [{ $or: [{ department: 'finance' }, { year: { $gte: '2024' } }] }, ['finance', 'sales', 'IT']],
      [{ year: { $exists: false } }, ['finance']],
      [{ department: { $ne: 'sales' } }, ['HR', 'finance', 'IT']]
    ]
    for (const [filters, departments] of cases) {
      const results = (await search(t, orgA, { query: 'policy employees customers passwords hotel laptop', filters, top_k: 100 })).json().results as CitationBody[]
      t.same(results.map((result) => result.metadata.department).sort(), [...departments].sort(), `search ${JSON.stringify(filters)}`)
      for (const endpoint of ['query', 'stream'] as const) {
        const body = endpoint === 'query'
          ? (await query(t, orgA, { question: 'What is our refund policy?', filters })).json<QueryBody>()
          : JSON.parse(parseSse((await stream(t, orgA, { question: 'What is our refund policy?', filters })).body).at(-1)?.data ?? '{}') as QueryBody
        for (const citation of body.citations) t.ok(departments.includes(citation.metadata.department as string), `${endpoint} ${JSON.stringify(filters)} cites ${citation.metadata.department}`)
      }
    }
    const refundsOnly = (await query(t, orgA, { question: 'What is our refund policy?', filters: { department: 'sales' } })).json<QueryBody>()
    t.equal(refundsOnly.citations[0]?.document_id, handbookIds[0])
    t.same((await query(t, orgA, { question: 'What is our refund policy?', filters: { department: 'HR' } })).json<QueryBody>().citations.map((c) => c.document_id).filter((id) => id === handbookIds[0]), [], 'the refunds document is filtered out')
    t.same((await query(t, orgA, { question: 'What is our refund policy?', filters: { department: 'Sales' } })).json(), { answer: NOT_FOUND_ANSWER, citations: [], org_id: orgA.orgId }, 'values are case-sensitive')
    t.same((await search(t, orgA, { query: 'refund', filters: { nosuchkey: 'x' } })).json().results, [], 'a document without the key is never retrieved')
  })

  t.test('top_k results come back whenever that many matching chunks exist', async (t) => {
    const org = await createOrgWithKey(database, 'lighthouses')
    const documents = Array.from({ length: 30 }, (_, n) => ({ text: `Lighthouse number ${n} stands on rock ${n}.`, metadata: { n: String(n).padStart(2, '0'), odd: String(n % 2) } }))
    await ingest(org, documents)
    t.equal((await search(t, org, { query: 'lighthouse' })).json().results.length, 10, 'default top_k 10')
    t.equal((await search(t, org, { query: 'lighthouse', top_k: 5 })).json().results.length, 5)
    t.equal((await search(t, org, { query: 'lighthouse', top_k: 100 })).json().results.length, 30)
    // Filters that match only documents ranked last still fill top_k: they are applied before ranking.
    const odd = (await search(t, org, { query: 'lighthouse', filters: { odd: '1' }, top_k: 15 })).json().results as CitationBody[]
    t.equal(odd.length, 15)
    t.ok(odd.every((result) => result.metadata.odd === '1'))
    const late = (await search(t, org, { query: 'lighthouse', filters: { n: { $gte: '27' } }, top_k: 3 })).json().results as CitationBody[]
    t.same(late.map((result) => result.metadata.n).sort(), ['27', '28', '29'])
    const results = (await search(t, org, { query: 'lighthouse rock 7', top_k: 30 })).json().results as CitationBody[]
    t.equal(results[0]?.metadata.n, '07', 'the document with every query term first')
    for (const [index, result] of results.entries()) {
      t.equal(result.text, texts.get(result.document_id), 'search text is the whole chunk')
      t.equal(texts.get(result.document_id)?.slice(result.start, result.end), result.text)
      t.ok(result.score > 0 && result.score <= 1)
      if (index > 0) t.ok(result.score <= (results[index - 1] as CitationBody).score, 'best first')
    }
    t.equal((await query(t, org, { question: 'Which rock does lighthouse 7 stand on?', top_k: 20 })).status, 200, 'top_k 20 is allowed for /v1/query')
  })

  t.test('filters through /v1/search select exactly what the reference selects (property)', async (t) => {
    const seed = Number(process.env.FILTER_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.comment(`seed ${seed} (FILTER_TEST_SEED=${seed} reproduces it)`)
    const org = await createOrgWithKey(database, 'property')
    const metadata = [{}, ...fc.sample(metadataArbitrary, { numRuns: 39, seed })]
    const ids = await ingest(org, metadata.map((item, n) => ({ text: `Albatross sighting report ${n}.`, metadata: item })))
    let nonEmpty = 0
    await fc.assert(fc.asyncProperty(rawFilter, async (filters) => {
      const expected = ids.filter((_, index) => matchesFilter(metadata[index] as Record<string, string>, parseFilter(filters))).sort()
      if (expected.length > 0) nonEmpty++
      const response = await app.inject({ method: 'POST', url: '/v1/search', headers: { authorization: `Bearer ${org.key}` }, payload: { query: 'albatross', filters, top_k: 100 } })
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}: ${response.body}`)
      const got = (response.json().results as CitationBody[]).map((result) => result.document_id).sort()
      if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`retrieved ${got.length} documents, the reference ${expected.length}, for ${JSON.stringify(filters)}`)
    }), { numRuns: 60, seed })
    t.ok(nonEmpty > 10, `filters that select something: ${nonEmpty} of 60`)
  })

  t.test('organisations never see each other\'s chunks, whatever the filters', async (t) => {
    const filters = [undefined, {}, { department: 'sales' }, { department: { $exists: true } }, { year: { $ne: 'x' } }, { $or: [{ department: 'IT' }, { department: { $exists: false } }] }]
    for (const filter of filters) {
      const body = filter === undefined ? {} : { filters: filter }
      const results = (await search(t, orgB, { query: 'refund policy customers return item days passwords', top_k: 100, ...body })).json()
      t.equal(results.org_id, orgB.orgId)
      t.ok(results.results.length > 0, 'org B finds its own documents')
      t.ok((results.results as CitationBody[]).every((result) => !handbookIds.includes(result.document_id)), `search ${JSON.stringify(filter)}: no chunk of org A`)
      const answer = (await query(t, orgB, { question: 'What is our refund policy?', ...body })).json<QueryBody>()
      t.ok(answer.citations.every((citation) => !handbookIds.includes(citation.document_id)), `query ${JSON.stringify(filter)}: no citation of org A`)
      t.notOk(answer.answer.includes('30 days'), 'no words of org A in the answer')
      const events = parseSse((await stream(t, orgB, { question: 'What is our refund policy?', ...body })).body)
      t.notOk(events.some((event) => handbookIds.some((id) => event.data.includes(id))), `stream ${JSON.stringify(filter)}: nothing of org A`)
    }
    const own = (await query(t, orgB, { question: 'What is our refund policy?' })).json<QueryBody>()
    t.equal(own.citations[0]?.document_id, orgBRefunds, 'org B\'s own refund policy')
    t.ok(own.answer.includes('14 days'))
    t.same((await search(t, orgA, { query: 'zebrafish quokka' })).json().results, [], 'org A cannot find org B\'s words')
    t.same((await query(t, orgA, { question: 'Which badges open the server room?' })).json().citations, [])
  })

  t.test('processing, failed and deleted documents are never cited', async (t) => {
    const org = await createOrgWithKey(database, 'lifecycle')
    const [kept, deleted] = await ingest(org, [
      { text: 'The ferry to the island leaves at nine.' },
      { text: 'The pelican colony nests on the northern cliffs every spring.' }
    ])
    const question = 'Where does the pelican colony nest?'
    t.equal((await query(t, org, { question })).json<QueryBody>().citations[0]?.document_id, deleted, 'found while it exists')
    t.equal((await call(t, app, 'DELETE', `/v1/documents/${deleted as string}`, { key: org.key })).status, 204)
    t.same((await query(t, org, { question })).json<QueryBody>(), { answer: NOT_FOUND_ANSWER, citations: [], org_id: org.orgId }, 'gone after DELETE')
    t.same((await search(t, org, { query: 'pelican' })).json().results, [])
    t.equal((await search(t, org, { query: 'ferry' })).json().results[0]?.document_id, kept)

    // Documents indexed behind the API's back while not ready: the status check alone keeps them out.
    for (const status of ['processing', 'failed'] as const) {
      const word = status === 'processing' ? 'cormorant' : 'kittiwake'
      const id = crypto.randomUUID()
      const text = `The ${word} roosts on the harbour wall.`
      await queryInOrg(database, org.orgId, sql`insert into documents (id, org_id, source_type, status, chunk_size, chunk_overlap, chunk_count, metadata) values (${id}, ${org.orgId}, 'text', ${status}, 512, 64, 1, '{}')`)
      await queryInOrg(database, org.orgId, sql`insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset) values (${org.orgId}, ${id}, 0, ${text}, 10, 0, ${text.length})`)
      await indexDocument(database.db, org.orgId, id, 1, {})
      t.same((await search(t, org, { query: word })).json().results, [], `a ${status} document is not searched`)
      t.same((await query(t, org, { question: `Where does the ${word} roost?` })).json<QueryBody>().citations, [], `a ${status} document is not cited`)
      await queryInOrg(database, org.orgId, sql`update documents set status = 'ready' where id = ${id}`)
      t.equal((await search(t, org, { query: word })).json().results[0]?.document_id, id, 'the same chunks are found once the document is ready')
    }
  })

  t.test('PATCHed metadata applies to filters at once', async (t) => {
    const org = await createOrgWithKey(database, 'patch')
    const [id] = await ingest(org, [{ text: 'The canteen serves soup on Fridays.', metadata: { site: 'north' } }])
    t.equal((await search(t, org, { query: 'canteen soup', filters: { site: 'south' } })).json().results.length, 0)
    await call(t, app, 'PATCH', `/v1/documents/${id as string}`, { key: org.key, body: { metadata: { site: 'south' } } })
    const results = (await search(t, org, { query: 'canteen soup', filters: { site: 'south' } })).json().results as CitationBody[]
    t.equal(results[0]?.document_id, id)
    t.same(results[0]?.metadata, { site: 'south' })
  })

  t.test('the stream sends citations, the answer in tokens, then done equal to the whole answer', async (t) => {
    for (const [question] of ANSWERABLE) {
      const whole = (await query(t, orgA, { question })).json<QueryBody>()
      const response = await stream(t, orgA, { question })
      t.equal(response.status, 200)
      t.match(response.headers['content-type'], /^text\/event-stream/)
      t.equal(response.headers['cache-control'], 'no-cache')
      const events = parseSse(response.body)
      t.match(eventNames(events), SSE_EVENT_ORDER, `${question}: citations, tokens, done`)
      const done = JSON.parse(events.at(-1)?.data ?? '{}') as QueryBody
      t.same(done, whole, 'done equals the non-streaming answer')
      t.same(JSON.parse(events[0]?.data ?? '{}'), { citations: whole.citations }, 'citations first')
      t.equal(events.filter((event) => event.event === 'token').map((event) => JSON.parse(event.data).text as string).join(''), whole.answer, 'tokens join to the answer')
    }
    const events = parseSse((await stream(t, orgA, { question: 'What is the airspeed velocity of an unladen swallow?' })).body)
    t.same(events.map((event) => [event.event, JSON.parse(event.data)]), [
      ['citations', { citations: [] }],
      ['token', { text: NOT_FOUND_ANSWER }],
      ['done', { answer: NOT_FOUND_ANSWER, citations: [], org_id: orgA.orgId }]
    ], 'not found, streamed')
  })

  t.test('invalid requests get the status and detail of API.md, before any stream starts', async (t) => {
    const long = 'a'.repeat(2001)
    const endpoints = [
      { url: '/v1/query', field: 'question', maxTopK: 20 },
      { url: '/v1/query/stream', field: 'question', maxTopK: 20 },
      { url: '/v1/search', field: 'query', maxTopK: 100 }
    ]
    for (const { url, field, maxTopK } of endpoints) {
      const send = async (body: unknown): Promise<ApiResponse> => await call(t, app, 'POST', url, { key: orgA.key, body })
      const expect = async (body: unknown, status: number, detail: string | RegExp, what: string): Promise<void> => {
        const response = await send(body)
        t.equal(response.status, status, `${url} ${what} → ${status}`)
        t.match(response.json(), { detail }, `${url} ${what}: detail`)
        t.match(response.headers['content-type'], /^application\/json/, `${url} ${what}: a JSON error, not a stream`)
      }
      const malformed = await call(t, app, 'POST', url, { key: orgA.key, rawBody: `{"${field}": "refund"` })
      t.equal(malformed.status, 400, `${url} malformed JSON → 400`)
      t.match(malformed.json(), { detail: String })
      await expect({}, 400, `field '${field}' is required`, 'missing field')
      await expect({ [field]: '' }, 422, `${field} must not be empty`, 'empty')
      await expect({ [field]: ' \n\t ' }, 422, `${field} must not be empty`, 'whitespace only')
      await expect({ [field]: long }, 422, `${field} must be at most 2000 characters long`, '2001 characters')
      t.equal((await send({ [field]: long.slice(1) })).status, 200, `${url} 2000 characters → 200`)
      await expect({ [field]: 42 }, 422, `${field} must be a string`, 'a number')
      await expect({ [field]: ['refund'] }, 422, `${field} must be a string`, 'an array')
      for (const topK of [0, -1, maxTopK + 1]) await expect({ [field]: 'refund', top_k: topK }, 422, /^top_k must be [<>]=? /, `top_k ${topK}`)
      await expect({ [field]: 'refund', top_k: '6' }, 422, 'top_k must be an integer', 'top_k "6"')
      await expect({ [field]: 'refund', top_k: 1.5 }, 422, 'top_k must be an integer', 'top_k 1.5')
      await expect({ [field]: 'refund', top_k: 1e300 }, 422, /^top_k must be <= /, 'top_k 1e300')
      t.equal((await send({ [field]: 'refund', top_k: maxTopK })).status, 200, `${url} top_k ${maxTopK} → 200`)
      for (const filters of ['department', ['HR'], 1, true, null]) await expect({ [field]: 'refund', filters }, 422, 'filters must be an object', `filters ${JSON.stringify(filters)}`)
      await expect({ [field]: 'refund', filters: { department: 1 } }, 422, /^filters\.department /, 'a non-string filter value')
      await expect({ [field]: 'refund', filters: { department: { $regex: '.*' } } }, 422, 'filters.department: unknown operator "$regex"', 'an unknown operator')
      await expect({ [field]: 'refund', filters: { department: { $in: 'HR' } } }, 422, /^filters\.department/, '$in without an array')
      await expect({ [field]: 'refund', filters: { $or: [] } }, 422, 'filters.$or must be a non-empty array of objects', 'an empty $or')
      await expect({ [field]: 'refund\u0000' }, 422, /NUL/, 'a NUL character')
      await expect({ [field]: 'refund \ud800' }, 422, /surrogate/, 'a lone surrogate')
      const oversize = await call(t, app, 'POST', url, { key: orgA.key, rawBody: JSON.stringify({ [field]: 'refund', filters: { x: 'y'.repeat(11 * 1024 * 1024) } }) })
      t.equal(oversize.status, 413, `${url} an 11 MiB body → 413`)
      const wrongType = await call(t, app, 'POST', url, { key: orgA.key, rawBody: 'refund', headers: { 'content-type': 'text/plain' } })
      t.equal(wrongType.status, 415, `${url} text/plain → 415`)
      // Hostile but valid: answered normally, and nothing is harmed.
      for (const text of ["'; DROP TABLE chunks; --", 'refund & | ! ( ) :* <-> \\', '<script>alert(1)</script>', '🙂'.repeat(500), 'refund'.padEnd(1999, ' x')]) {
        t.equal((await send({ [field]: text })).status, 200, `${url} ${JSON.stringify(text.slice(0, 30))} → 200`)
      }
      t.equal((await send({ [field]: 'refund', filters: { constructor: { $exists: false }, toString: 'x' } })).status, 200, `${url} Object.prototype names are plain keys`)
      const pollution = await call(t, app, 'POST', url, { key: orgA.key, rawBody: `{"${field}": "refund", "filters": {"__proto__": {"department": "HR"}}}` })
      t.equal(pollution.status, 400, `${url} a __proto__ key is refused`)
    }
    t.equal((await search(t, orgA, { query: 'refund policy' })).json().results[0]?.document_id, handbookIds[0], 'the documents are intact')
  })

  for (const url of ['/v1/query', '/v1/query/stream', '/v1/search']) {
    t.test(`${url} requires a valid key`, async (t) => {
      await authMatrix(t, app, database, orgA.orgId, { method: 'POST', url, body: url === '/v1/search' ? { query: 'refund' } : { question: 'refund' } })
    })
  }
})
