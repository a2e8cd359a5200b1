import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { waitForDocument } from '../helpers/documents.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { claimNextJob } from '../../src/repositories/ingest-jobs.repo.js'
import type { Database } from '../../src/db/client.js'
import type { OrgId } from '../../src/org-id.js'
import { pino } from 'pino'
import { loadConfig, type Config } from '../../src/config.js'
import { ExtractionPool } from '../../src/ingest/extraction-pool.js'
import { IngestWorker, workerOptionsFrom } from '../../src/ingest/worker.js'

/** How many rows of `table` the organisation has (row-level security hides every other organisation's), or one document has. */
async function count (database: Database, orgId: OrgId, table: 'chunks' | 'ingest_jobs' | 'document_payloads', documentId?: string): Promise<number> {
  const where = documentId === undefined ? sql`true` : sql`document_id = ${documentId}`
  const [row] = await queryInOrg<{ n: number }>(database, orgId, sql`select count(*)::int as n from ${sql.identifier(table)} where ${where}`)
  return row?.n ?? -1
}

/** A local HTTP server whose behaviour the test controls; counts requests. */
async function localServer (t: Test, handler: http.RequestListener): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = http.createServer((request, response) => { requests++; handler(request, response) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/page.html`, requests: () => requests }
}

const until = async (condition: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

t.test('accepted documents survive a stop before processing, and are processed exactly once', async (t) => {
  const first = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(first.database)
  const ids: string[] = (await call(t, first.app, 'POST', '/v1/ingest', {
    key: org.key,
    body: { documents: Array.from({ length: 20 }, (_, i) => ({ text: `Queued document ${i}. It has two sentences.` })) }
  })).json().document_ids
  await first.app.close()
  await first.database.close()

  const second = await buildTestApp(t, { testDatabase: first.testDatabase, config: { workers: 2 } })
  for (const id of ids) {
    t.equal((await waitForDocument(second.app, org.key, id)).status, 'ready', 'ready after the restart')
    t.equal(await count(second.database, org.orgId, 'chunks', id), 1, 'exactly one set of chunks')
  }
  t.equal(await count(second.database, org.orgId, 'ingest_jobs'), 0, 'no job is left behind')
  t.equal(await count(second.database, org.orgId, 'document_payloads'), 0, 'payloads are dropped once processed')
})

t.test('a job whose worker vanished is reclaimed when its lease expires', async (t) => {
  const first = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(first.database)
  const id: string = (await call(t, first.app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'Leased by a worker that died.' }] } })).json().document_ids[0]
  // A worker claims the job and dies: nobody renews its short lease.
  t.equal((await claimNextJob(first.database.db, 'dead-worker', 300))?.documentId, id)
  t.equal(await claimNextJob(first.database.db, 'other-worker', 60_000), undefined, 'a live lease is not taken')
  await first.app.close()
  await first.database.close()

  const second = await buildTestApp(t, { testDatabase: first.testDatabase, config: { workers: 1 } })
  const document = await waitForDocument(second.app, org.key, id)
  t.equal(document.status, 'ready', 'another worker finished it')
  t.equal(await count(second.database, org.orgId, 'chunks', id), 1)
})

t.test('a job interrupted on every attempt ends failed instead of looping', async (t) => {
  const first = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(first.database)
  const id: string = (await call(t, first.app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'Poison.' }] } })).json().document_ids[0]
  for (let attempt = 1; attempt <= 3; attempt++) {
    t.equal((await claimNextJob(first.database.db, `doomed-${attempt}`, 1))?.attempts, attempt)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await first.app.close()
  await first.database.close()
  const second = await buildTestApp(t, { testDatabase: first.testDatabase, config: { workers: 1, jobMaxAttempts: 3 } })
  const document = await waitForDocument(second.app, org.key, id)
  t.match(document, { status: 'failed', error_message: 'Processing did not finish after 3 attempts', chunk_count: 0 })
})

t.test('a job that always fails retries with back-off, then ends failed with the reason', async (t) => {
  const server = await localServer(t, (_request, response) => { response.writeHead(500).end('boom') })
  const { app, database } = await buildTestApp(t, { config: { workers: 1, urlAllowPrivate: true, jobRetryBaseMs: 50, jobMaxAttempts: 3 } })
  const org = await createOrgWithKey(database)
  const id: string = (await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url: server.url } })).json().document_ids[0]
  const document = await waitForDocument(app, org.key, id)
  t.match(document, { status: 'failed', error_message: 'URL returned HTTP 500' })
  t.equal(server.requests(), 3, 'tried exactly three times')
})

t.test('each job has a hard time limit', async (t) => {
  const server = await localServer(t, () => { /* never answers */ })
  const { app, database } = await buildTestApp(t, { config: { workers: 1, urlAllowPrivate: true, jobTimeoutMs: 1000, jobMaxAttempts: 1 } })
  const org = await createOrgWithKey(database)
  const id: string = (await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url: server.url } })).json().document_ids[0]
  const document = await waitForDocument(app, org.key, id)
  t.match(document, { status: 'failed', error_message: 'Processing timed out after 1 s' })
})

t.test('a document deleted while processing stays deleted', async (t) => {
  let release: () => void = () => {}
  const server = await localServer(t, (_request, response) => {
    release = () => response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><article><p>Late content that must not come back.</p></article></body></html>')
  })
  const { app, database } = await buildTestApp(t, { config: { workers: 1, urlAllowPrivate: true } })
  const org = await createOrgWithKey(database)
  const id: string = (await call(t, app, 'POST', '/v1/ingest/url', { key: org.key, body: { url: server.url } })).json().document_ids[0]
  await until(() => server.requests() > 0)
  t.equal((await call(t, app, 'DELETE', `/v1/documents/${id}`, { key: org.key })).status, 204)
  release()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal((await call(t, app, 'GET', `/v1/documents/${id}`, { key: org.key })).status, 404, 'still gone')
  t.equal(await count(database, org.orgId, 'chunks', id), 0, 'no chunks were written')
  t.equal(await count(database, org.orgId, 'ingest_jobs', id), 0)
})

/** A worker of its own over an app that processes nothing itself, with extraction threads that misbehave on request. */
async function hostileWorker (t: Test, database: Database, overrides: Partial<Config>): Promise<IngestWorker> {
  const config = { ...loadConfig({}), workers: 1, jobRetryBaseMs: 50, ...overrides }
  const pool = new ExtractionPool({ threads: 1, memoryLimitMb: 64, entry: new URL('../helpers/hostile-thread.ts', import.meta.url) })
  const worker = new IngestWorker(database, { ...workerOptionsFrom(config, pino({ level: 'silent' })), pollIntervalMs: 100, pool })
  await worker.start()
  t.teardown(async () => { await worker.stop(1000) })
  return worker
}

t.test('an extraction thread that dies mid-job costs that job an attempt, and the process lives on', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database)
  const worker = await hostileWorker(t, database, { jobMaxAttempts: 2 })
  const [dies, exhausts, fine]: string[] = (await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'exit' }, { text: 'allocate' }, { text: 'fine' }] } })).json().document_ids
  t.match(await waitForDocument(app, org.key, dies as string), { status: 'failed', error_message: 'Internal error while processing the document' }, 'two attempts, then failed')
  t.match(await waitForDocument(app, org.key, exhausts as string), { status: 'failed', error_message: 'Document exceeds the memory limit while extracting' }, 'out of memory is final at once')
  t.match(await waitForDocument(app, org.key, fine as string), { status: 'ready', chunk_count: 1 })
  t.equal(worker.pool.stats.killed, 3, 'exit twice, out of memory once: each thread replaced')
})

t.test('the time limit stops an extraction that never yields', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database)
  await hostileWorker(t, database, { jobMaxAttempts: 1, jobTimeoutMs: 1000 })
  const id: string = (await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'spin' }] } })).json().document_ids[0]
  const started = Date.now()
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200, 'the server answers while the thread spins')
  t.match(await waitForDocument(app, org.key, id), { status: 'failed', error_message: 'Processing timed out after 1 s' })
  t.ok(Date.now() - started < 10_000)
})

t.test('stopping during an extraction that never yields ends within the grace and gives the job back', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database)
  const worker = await hostileWorker(t, database, { jobMaxAttempts: 3 })
  const id: string = (await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'spin' }] } })).json().document_ids[0]
  await until(() => worker.pool.stats.started > 0)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = Date.now()
  await worker.stop(500)
  t.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms with a grace of 500 ms`)
  const [job] = await queryInOrg<{ attempts: number, leased_by: string | null }>(database, org.orgId, sql`select attempts, leased_by from ingest_jobs where document_id = ${id}`)
  t.same(job, { attempts: 0, leased_by: null }, 'released, its attempt restored, for the next worker')
  t.equal((await waitForDocument(app, org.key, id, 100)).status, 'processing')
})
