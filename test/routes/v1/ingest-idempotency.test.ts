import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey, type TestOrg } from '../../helpers/app.js'
import { call, type ApiResponse } from '../../helpers/client.js'
import { checkAgainstSpec } from '../../helpers/contract.js'
import { multipartBody, type FormFile } from '../../helpers/documents.js'
import { queryInOrg } from '../../helpers/org-sql.js'
import type { Database } from '../../../src/db/client.js'
import { insertDocuments } from '../../../src/repositories/documents.repo.js'
import { claimIdempotencyKey, deleteExpiredIdempotencyKeys, IdempotencyClaimLostError } from '../../../src/repositories/idempotency-keys.repo.js'
import { IN_PROGRESS_DETAIL, MISMATCH_DETAIL } from '../../../src/ingest/idempotency.js'

async function documentCount (database: Database, org: TestOrg): Promise<number> {
  const [row] = await queryInOrg<{ n: number }>(database, org.orgId, sql`select count(*)::int as n from documents where org_id = ${org.orgId}`)
  return Number(row?.n)
}

interface KeyRow { key: string, status: string, document_ids: string[] | string | null, expired: boolean }

async function keyRows (database: Database, org: TestOrg): Promise<KeyRow[]> {
  return await queryInOrg<KeyRow>(database, org.orgId, sql`
    select key, status, document_ids, expires_at <= now() as expired from idempotency_keys where org_id = ${org.orgId} order by key`)
}

async function keyRow (database: Database, org: TestOrg, key: string): Promise<KeyRow | undefined> {
  return (await keyRows(database, org)).find((row) => row.key === key)
}

/** Moves a key's record 25 hours into the past, as if it had been written yesterday. */
async function age (database: Database, org: TestOrg, key: string): Promise<void> {
  await queryInOrg(database, org.orgId, sql`
    update idempotency_keys set created_at = created_at - interval '25 hours', expires_at = expires_at - interval '25 hours'
    where org_id = ${org.orgId} and key = ${key}`)
}

const textBody = (text: string): unknown => ({ documents: [{ text, metadata: { department: 'HR', year: '2026' } }], chunk_size: 256 })

t.test('Idempotency-Key on the ingest endpoints', async (t) => {
  // No workers: documents stay `processing`, which is all these tests count.
  const { app, database } = await buildTestApp(t, { config: { workers: 0, urlAllowPrivate: true } })

  const ingest = async (t: Test, org: TestOrg, key: string | undefined, body: unknown, url = '/v1/ingest'): Promise<ApiResponse> =>
    await call(t, app, 'POST', url, { key: org.key, body, ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }) })
  const upload = async (t: Test, org: TestOrg, key: string | undefined, fields: Record<string, string>, file?: FormFile): Promise<ApiResponse> => {
    const { body, contentType } = await multipartBody(fields, file)
    return await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody: body, headers: { 'content-type': contentType, ...(key === undefined ? {} : { 'idempotency-key': key }) } })
  }
  const handbook: FormFile = { name: 'handbook.md', content: '# Handbook\n\nVacation is 25 days a year.\n', type: 'text/markdown' }

  t.test('without a key nothing changes: every request ingests', async (t) => {
    const org = await createOrgWithKey(database, 'no key')
    const first = await ingest(t, org, undefined, textBody('Plain.'))
    const second = await ingest(t, org, undefined, textBody('Plain.'))
    t.equal(first.status, 202)
    t.equal(second.status, 202)
    t.not(first.json().document_ids[0], second.json().document_ids[0], 'two requests, two documents')
    t.equal(await documentCount(database, org), 2)
    t.same(await keyRows(database, org), [], 'no idempotency record')
  })

  t.test('POST /v1/ingest: a replay returns the original 202 and ingests nothing; another body is 422', async (t) => {
    const org = await createOrgWithKey(database, 'text replay')
    const key = 'order-7f3a/ingest#1'
    const first = await ingest(t, org, key, { documents: [{ text: 'One.' }, { text: 'Two.', metadata: { a: '1', b: '2' } }] })
    t.equal(first.status, 202)
    t.equal(first.json().queued, 2)
    t.equal(await documentCount(database, org), 2)
    t.match(await keyRow(database, org, key), { status: 'completed', expired: false })

    // The same request with its object keys in another order is the same request.
    const replay = await ingest(t, org, key, { documents: [{ text: 'One.' }, { metadata: { b: '2', a: '1' }, text: 'Two.' }] })
    t.equal(replay.status, 202)
    t.same(replay.json(), first.json(), 'the original response: same document_ids, same order')
    t.equal(await documentCount(database, org), 2, 'nothing new ingested')

    // The default values are part of the request as validated: spelling them out is the same request.
    t.same((await ingest(t, org, key, { documents: [{ text: 'One.' }, { text: 'Two.', metadata: { a: '1', b: '2' } }], chunk_size: 512, chunk_overlap: 64 })).json(), first.json())

    for (const [name, body] of [
      ['other text', { documents: [{ text: 'One.' }, { text: 'Three.', metadata: { a: '1', b: '2' } }] }],
      ['other metadata', { documents: [{ text: 'One.' }, { text: 'Two.', metadata: { a: '1', b: '3' } }] }],
      ['documents reordered', { documents: [{ text: 'Two.', metadata: { a: '1', b: '2' } }, { text: 'One.' }] }],
      ['another chunk_size', { documents: [{ text: 'One.' }, { text: 'Two.', metadata: { a: '1', b: '2' } }], chunk_size: 1024 }]
    ] as const) {
      const other = await ingest(t, org, key, body)
      t.equal(other.status, 422, `${name} → 422`)
      t.same(other.json(), { detail: MISMATCH_DETAIL }, `${name}: a clear detail`)
    }
    const otherEndpoint = await ingest(t, org, key, { url: 'http://127.0.0.1/one' }, '/v1/ingest/url')
    t.equal(otherEndpoint.status, 422, 'the same key on another endpoint → 422')
    t.same(otherEndpoint.json(), { detail: MISMATCH_DETAIL })
    t.equal(await documentCount(database, org), 2, 'nothing ingested by the refused requests')
    t.same((await ingest(t, org, key, { documents: [{ text: 'One.' }, { text: 'Two.', metadata: { a: '1', b: '2' } }] })).json(), first.json(), 'the record is unchanged by them')
  })

  t.test('POST /v1/ingest/url: a replay returns the original 202 without looking the address up again', async (t) => {
    const org = await createOrgWithKey(database, 'url replay')
    const body = { url: 'http://127.0.0.1/policy.html', metadata: { source: 'intranet' } }
    const first = await ingest(t, org, 'url-1', body, '/v1/ingest/url')
    t.equal(first.status, 202)
    const replay = await ingest(t, org, 'url-1', { metadata: { source: 'intranet' }, url: 'http://127.0.0.1/policy.html' }, '/v1/ingest/url')
    t.equal(replay.status, 202)
    t.same(replay.json(), first.json())
    t.equal(await documentCount(database, org), 1)
    const other = await ingest(t, org, 'url-1', { ...body, url: 'http://127.0.0.1/other.html' }, '/v1/ingest/url')
    t.equal(other.status, 422)
    t.same(other.json(), { detail: MISMATCH_DETAIL })
    t.equal(await documentCount(database, org), 1)
  })

  t.test('POST /v1/ingest/file: a replay returns the original 202; another file or field is 422', async (t) => {
    const org = await createOrgWithKey(database, 'file replay')
    const first = await upload(t, org, 'file-1', { metadata: '{"department":"HR"}', chunk_size: '256' }, handbook)
    t.equal(first.status, 202)
    const replay = await upload(t, org, 'file-1', { metadata: '{"department":"HR"}', chunk_size: '256' }, handbook)
    t.equal(replay.status, 202)
    t.same(replay.json(), first.json())
    t.equal(await documentCount(database, org), 1)
    for (const [name, fields, file] of [
      ['other bytes', { metadata: '{"department":"HR"}', chunk_size: '256' }, { ...handbook, content: '# Handbook\n\nVacation is 26 days a year.\n' }],
      ['another file name', { metadata: '{"department":"HR"}', chunk_size: '256' }, { ...handbook, name: 'handbook-v2.md' }],
      ['other metadata', { metadata: '{"department":"legal"}', chunk_size: '256' }, handbook],
      ['a field left out', { metadata: '{"department":"HR"}' }, handbook]
    ] as const) {
      const other = await upload(t, org, 'file-1', fields, file)
      t.equal(other.status, 422, `${name} → 422`)
      t.same(other.json(), { detail: MISMATCH_DETAIL }, `${name}: a clear detail`)
    }
    t.equal(await documentCount(database, org), 1)
  })

  t.test('keys are scoped to the organisation', async (t) => {
    const a = await createOrgWithKey(database, 'scope A')
    const b = await createOrgWithKey(database, 'scope B')
    const fromA = await ingest(t, a, 'shared-key', textBody('Same text.'))
    const fromB = await ingest(t, b, 'shared-key', textBody('Same text.'))
    t.equal(fromB.status, 202, 'B uses the key A used, independently')
    t.not(fromB.json().document_ids[0], fromA.json().document_ids[0], 'B gets its own document')
    t.equal(fromB.json().org_id, b.orgId)
    t.equal(await documentCount(database, b), 1)
    const otherBodyInB = await ingest(t, b, 'key-of-A-only', textBody('Something else.'))
    t.equal(otherBodyInB.status, 202)
    t.same((await ingest(t, a, 'shared-key', textBody('Same text.'))).json(), fromA.json(), 'A replays A\'s response')
    t.same((await ingest(t, b, 'shared-key', textBody('Same text.'))).json(), fromB.json(), 'B replays B\'s response')
    t.equal(await documentCount(database, a), 1)
    t.equal(await documentCount(database, b), 2)
    // A's claim in flight does not block B.
    await claimIdempotencyKey(database.db, a.orgId, 'busy-in-A', 60_000)
    t.equal((await ingest(t, b, 'busy-in-A', textBody('B is not blocked.'))).status, 202)
  })

  t.test('a malformed key is 422 on every endpoint, and no request is handled', async (t) => {
    const org = await createOrgWithKey(database, 'malformed')
    const cases: Array<[string, string, string]> = [
      ['empty', '', 'Idempotency-Key must not be empty'],
      ['256 characters', 'k'.repeat(256), 'Idempotency-Key must be at most 255 characters long'],
      ['a tab', 'a\tb', 'Idempotency-Key must contain only printable ASCII characters'],
      ['a non-ASCII character', 'clé', 'Idempotency-Key must contain only printable ASCII characters'],
      ['a DEL character', 'a\u007fb', 'Idempotency-Key must contain only printable ASCII characters']
    ]
    const { body: form, contentType } = await multipartBody({}, handbook)
    for (const [name, key, detail] of cases) {
      const responses = [
        await ingest(t, org, key, textBody('x')),
        await ingest(t, org, key, { url: 'http://127.0.0.1/x' }, '/v1/ingest/url'),
        await call(t, app, 'POST', '/v1/ingest/file', { key: org.key, rawBody: form, headers: { 'content-type': contentType, 'idempotency-key': key } })
      ]
      for (const response of responses) {
        t.equal(response.status, 422, `${name} → 422`)
        t.same(response.json(), { detail }, name)
      }
    }
    t.equal(await documentCount(database, org), 0)
    t.same(await keyRows(database, org), [])
    const longest = await ingest(t, org, `${'k'.repeat(250)} ~!"#`, textBody('x'))
    t.equal(longest.status, 202, '255 printable characters, spaces and punctuation included, are a valid key')
    const unauthenticated = await call(t, app, 'POST', '/v1/ingest', { body: textBody('x'), headers: { 'idempotency-key': '' } })
    t.equal(unauthenticated.status, 401, 'authentication is checked first')
  })

  t.test('a failed request does not keep its key: the corrected retry is ingested', async (t) => {
    const org = await createOrgWithKey(database, 'failures')
    // Refused by the body schema, before the key is looked at.
    t.equal((await ingest(t, org, 'fix-1', { documents: [{ text: 42 }] })).status, 422)
    t.equal((await ingest(t, org, 'fix-1', { documents: [{ text: '   ' }] })).status, 422)
    t.same(await keyRows(database, org), [])
    t.equal((await ingest(t, org, 'fix-1', textBody('Fixed.'))).status, 202)

    // Refused after the key was claimed: the URL check, and the upload's type as it streams in.
    t.equal((await ingest(t, org, 'fix-2', { url: 'ftp://127.0.0.1/x' }, '/v1/ingest/url')).status, 422)
    t.equal(await keyRow(database, org, 'fix-2'), undefined, 'a refused URL leaves no key')
    t.equal((await ingest(t, org, 'fix-2', { url: 'http://127.0.0.1/fixed' }, '/v1/ingest/url')).status, 202)

    const png = { name: 'photo.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]) }
    t.equal((await upload(t, org, 'fix-3', {}, png)).status, 415)
    t.equal((await upload(t, org, 'fix-3', { chunk_size: 'big' }, handbook)).status, 422)
    t.equal((await upload(t, org, 'fix-3', {})).status, 400)
    t.equal(await keyRow(database, org, 'fix-3'), undefined, 'refused uploads leave no key')
    t.equal((await upload(t, org, 'fix-3', {}, handbook)).status, 202)
    t.equal(await documentCount(database, org), 3)
  })

  t.test('while a request with the key is being handled: 409 on every endpoint; a dead request\'s key frees itself', async (t) => {
    const org = await createOrgWithKey(database, 'in flight')
    // Another instance holds the keys, as a request still running there would.
    for (const key of ['busy-text', 'busy-url', 'busy-file']) {
      t.ok('claimed' in await claimIdempotencyKey(database.db, org.orgId, key, 60_000))
    }
    const responses = [
      await ingest(t, org, 'busy-text', textBody('x')),
      await ingest(t, org, 'busy-url', { url: 'http://127.0.0.1/x' }, '/v1/ingest/url'),
      await upload(t, org, 'busy-file', {}, handbook)
    ]
    for (const response of responses) {
      t.equal(response.status, 409)
      t.same(response.json(), { detail: IN_PROGRESS_DETAIL })
    }
    t.equal(await documentCount(database, org), 0)
    t.match(await keyRow(database, org, 'busy-text'), { status: 'pending', expired: false }, 'the holder keeps its claim')

    // That instance died: its lease runs out and the key is free for the retry.
    await queryInOrg(database, org.orgId, sql`update idempotency_keys set expires_at = now() - interval '1 second' where org_id = ${org.orgId}`)
    const retried = await ingest(t, org, 'busy-text', textBody('x'))
    t.equal(retried.status, 202, 'taken over once the lease has ended')
    t.equal((await ingest(t, org, 'busy-url', { url: 'http://127.0.0.1/x' }, '/v1/ingest/url')).status, 202)
    t.equal((await upload(t, org, 'busy-file', {}, handbook)).status, 202)
    t.same((await ingest(t, org, 'busy-text', textBody('x'))).json(), retried.json(), 'and then replayed')
    t.equal(await documentCount(database, org), 3)
  })

  t.test('a duplicate sent while a slow upload is still streaming gets 409; afterwards the replay', async (t) => {
    const org = await createOrgWithKey(database, 'slow upload')
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const file: FormFile = { name: 'long.txt', content: 'A line of the long policy text.\n'.repeat(4096), type: 'text/plain' }
    const { body, contentType } = await multipartBody({ metadata: '{"size":"large"}' }, file)

    const send = (key: string): { request: http.ClientRequest, response: Promise<{ status: number, body: string }> } => {
      const request = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/ingest/file',
        headers: { authorization: `Bearer ${org.key}`, 'content-type': contentType, 'content-length': body.length, 'idempotency-key': key }
      })
      const response = new Promise<{ status: number, body: string }>((resolve, reject) => {
        request.on('response', (incoming) => {
          const parts: Buffer[] = []
          incoming.on('data', (part: Buffer) => parts.push(part))
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }))
        })
        request.on('error', reject)
      })
      return { request, response }
    }
    const waitForRow = async (key: string, until: (row: KeyRow | undefined) => boolean): Promise<KeyRow | undefined> => {
      const deadline = Date.now() + 15_000
      for (;;) {
        const row = await keyRow(database, org, key)
        if (until(row) || Date.now() > deadline) return row
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }

    // Half the body goes out, then the upload stalls: the first request is in its handler, holding the key.
    const first = send('slow-1')
    first.request.write(body.subarray(0, body.length / 2))
    t.match(await waitForRow('slow-1', (row) => row !== undefined), { status: 'pending' }, 'the key is held from the start of the upload')
    const duplicate = await upload(t, org, 'slow-1', { metadata: '{"size":"large"}' }, file)
    t.equal(duplicate.status, 409, 'the duplicate is refused at once')
    t.same(duplicate.json(), { detail: IN_PROGRESS_DETAIL })
    first.request.end(body.subarray(body.length / 2))
    const accepted = await first.response
    t.equal(accepted.status, 202, 'the first request completes')
    t.ok(checkAgainstSpec('POST', '/v1/ingest/file', accepted.status, 'application/json', accepted.body).ok, 'its body matches the spec')
    const replay = await upload(t, org, 'slow-1', { metadata: '{"size":"large"}' }, file)
    t.equal(replay.status, 202)
    t.same(replay.json(), JSON.parse(accepted.body), 'a later duplicate gets the original response')
    t.equal(await documentCount(database, org), 1)

    // A client that gives up mid-upload leaves no key behind.
    const abandoned = send('slow-2')
    abandoned.response.catch(() => {})
    abandoned.request.write(body.subarray(0, body.length / 2))
    t.ok(await waitForRow('slow-2', (row) => row !== undefined), 'held while the upload runs')
    abandoned.request.destroy()
    t.equal(await waitForRow('slow-2', (row) => row === undefined), undefined, 'released when the client leaves')
    t.equal((await upload(t, org, 'slow-2', { metadata: '{"size":"large"}' }, file)).status, 202, 'the retry is ingested')
    t.equal(await documentCount(database, org), 2)
  })

  t.test('a burst of identical requests ingests once', async (t) => {
    const org = await createOrgWithKey(database, 'burst')
    const body = { documents: Array.from({ length: 5 }, (_, i) => ({ text: `Burst document ${i}.` })) }
    const responses = await Promise.all(Array.from({ length: 8 }, async () => await ingest(t, org, 'burst-1', body)))
    const accepted = responses.filter((response) => response.status === 202)
    t.ok(accepted.length >= 1, `${accepted.length} of 8 answered 202`)
    t.ok(responses.every((response) => response.status === 202 || (response.status === 409 && response.json().detail === IN_PROGRESS_DETAIL)), 'the rest 409')
    t.ok(accepted.every((response) => JSON.stringify(response.json()) === JSON.stringify(accepted[0]?.json())), 'every 202 carries the same document_ids')
    t.equal(await documentCount(database, org), 5, 'the five documents were stored once')
    t.same((await ingest(t, org, 'burst-1', body)).json(), accepted[0]?.json())
  })

  t.test('after 24 hours a key is free again and ingests anew', async (t) => {
    const org = await createOrgWithKey(database, 'expiry')
    const first = await ingest(t, org, 'daily-report', textBody('Report.'))
    await age(database, org, 'daily-report')
    const again = await ingest(t, org, 'daily-report', textBody('Report.'))
    t.equal(again.status, 202)
    t.not(again.json().document_ids[0], first.json().document_ids[0], 'a new document')
    t.equal(await documentCount(database, org), 2)
    t.same((await ingest(t, org, 'daily-report', textBody('Report.'))).json(), again.json(), 'the new response is the one replayed')
    await age(database, org, 'daily-report')
    t.equal((await ingest(t, org, 'daily-report', textBody('Another report.'))).status, 202, 'an expired key may carry another body')
  })

  t.test('expired records are deleted; live ones and other organisations\' are kept', async (t) => {
    const a = await createOrgWithKey(database, 'cleanup A')
    const b = await createOrgWithKey(database, 'cleanup B')
    await ingest(t, a, 'old', textBody('Old.'))
    await ingest(t, a, 'recent', textBody('Recent.'))
    await ingest(t, b, 'old-in-b', textBody('Old in B.'))
    await age(database, a, 'old')
    await age(database, b, 'old-in-b')
    await claimIdempotencyKey(database.db, a.orgId, 'dead-request', 60_000)
    await queryInOrg(database, a.orgId, sql`update idempotency_keys set expires_at = now() - interval '1 second' where org_id = ${a.orgId} and key = 'dead-request'`)
    await claimIdempotencyKey(database.db, a.orgId, 'running-request', 60_000)
    t.same((await keyRows(database, a)).map((row) => [row.key, row.expired]), [['dead-request', true], ['old', true], ['recent', false], ['running-request', false]])

    // Any keyed ingest request of the organisation sweeps its expired records.
    t.equal((await ingest(t, a, 'new', textBody('New.'))).status, 202)
    t.same((await keyRows(database, a)).map((row) => row.key), ['new', 'recent', 'running-request'], 'the 24-hour-old record and the dead lease are gone')
    t.same((await keyRows(database, b)).map((row) => row.key), ['old-in-b'], 'another organisation\'s records are its own business')
    t.equal(await documentCount(database, a), 3, 'documents stay: only the keys expire')
    t.equal(await deleteExpiredIdempotencyKeys(database.db, b.orgId), 1)
    t.same(await keyRows(database, b), [])
  })

  t.test('the key and its documents commit together or not at all', async (t) => {
    const org = await createOrgWithKey(database, 'atomic')
    const document = { document: { sourceType: 'text' as const, filename: null, format: 'text', metadata: {}, chunkSize: 512, chunkOverlap: 64 }, payload: { text: 'Atomic.' } }
    const stale = await claimIdempotencyKey(database.db, org.orgId, 'taken-over', 60_000)
    if (!('claimed' in stale)) throw new Error('expected a claim')
    // Its lease ends and another request takes the key over before the first one stores its documents.
    await queryInOrg(database, org.orgId, sql`update idempotency_keys set expires_at = now() - interval '1 second' where org_id = ${org.orgId}`)
    const current = await claimIdempotencyKey(database.db, org.orgId, 'taken-over', 60_000)
    t.ok('claimed' in current)
    await t.rejects(insertDocuments(database.db, org.orgId, [document], { ...stale.claimed, requestHash: 'a'.repeat(64) }), IdempotencyClaimLostError)
    t.equal(await documentCount(database, org), 0, 'the late request\'s documents were rolled back with it')
    t.match(await keyRow(database, org, 'taken-over'), { status: 'pending', expired: false }, 'the current holder keeps the key')

    // A claim whose record was swept meanwhile still completes: the record is written with the documents.
    const swept = await claimIdempotencyKey(database.db, org.orgId, 'swept', 60_000)
    if (!('claimed' in swept)) throw new Error('expected a claim')
    await queryInOrg(database, org.orgId, sql`delete from idempotency_keys where org_id = ${org.orgId} and key = 'swept'`)
    const [id] = await insertDocuments(database.db, org.orgId, [document], { ...swept.claimed, requestHash: 'b'.repeat(64) })
    const row = await keyRow(database, org, 'swept')
    t.equal(row?.status, 'completed')
    t.match(String(row?.document_ids), id ?? 'missing', 'pointing at the document stored with it')
  })
})
