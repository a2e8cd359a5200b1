// Scale-out (issue #5): two `jack serve` API processes and `jack worker` processes on one PostgreSQL database, over real HTTP and real signals.
import http from 'node:http'
import net from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import postgres from 'postgres'
import { Client, request } from 'undici'
import { chunkText } from '../src/ingest/chunker.js'
import { generateApiKey } from '../src/keys/api-key.js'
import { createOrgWithKey } from './helpers/app.js'
import { createTestDatabase } from './helpers/database.js'
import { multipartBody } from './helpers/documents.js'
import { withinMs } from './helpers/llm-server.js'
import { jackEnv, spawnJack, startServe, type JackProcess, type RunningServer } from './helpers/processes.js'
import { testDatabaseUrl } from './helpers/template.js'

const onPglite = testDatabaseUrl === undefined
// Small, so the rate-limit test is short; large enough for the few requests each other test makes in its org.
const RATE_LIMIT = 10
// The ingest defaults, which the expected chunk counts are computed with.
const CHUNKING = { chunkSize: 512, chunkOverlap: 64 }

interface ApiReply {
  status: number
  headers: Headers
  body: any
  ms: number
}

/** A real HTTP request to one of the API processes. */
async function api (server: RunningServer, method: string, path: string, key: string, body?: unknown): Promise<ApiReply> {
  const started = performance.now()
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000)
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text), ms: performance.now() - started }
}

/** Polls `probe` until it returns a value other than undefined; throws when `timeoutMs` has passed. */
async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}

interface RunningWorker {
  proc: JackProcess
  /** The id it writes into ingest_jobs.leased_by. */
  id: string
}

async function startWorker (t: Test, env: NodeJS.ProcessEnv): Promise<RunningWorker> {
  const proc = spawnJack(t, ['worker'], env)
  const [line] = await proc.waitForStdout(/^.*"msg":"ingest worker started".*$/m)
  return { proc, id: (JSON.parse(line) as { id: string }).id }
}

/** The ids of the documents a process logged as processed. */
function processedBy (proc: JackProcess): Set<string> {
  const ids = new Set<string>()
  for (const line of proc.stdout.split('\n')) {
    if (!line.includes('"msg":"document processed"')) continue
    ids.add((JSON.parse(line) as { documentId: string }).documentId)
  }
  return ids
}

/** Whether a new TCP connection to the port is refused. */
async function connectionRefused (port: number): Promise<boolean> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(2000, () => {
      socket.destroy()
      reject(new Error(`connecting to port ${port} neither succeeded nor failed within 2 s`))
    })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // ECONNRESET: the connection reached the backlog of a listener that was closing; try again.
      if (error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET') resolve(error.code === 'ECONNREFUSED')
      else reject(error)
    })
  })
}

/** A text long enough that processing it (70–90 chunks and their postings) takes a noticeable time; each a different length, so chunk counts tell documents apart. */
function ledgerText (index: number): string {
  const sentences = Array.from({ length: 1700 + index * 25 }, (_, i) => `Ledger ${index} clause ${i} keeps invoice ${i * 7} on file for audit review. `)
  return `Ledger ${index}. ${sentences.join('')}`
}

t.test('two API processes and ingest worker processes share one PostgreSQL database', {
  skip: onPglite ? 'PostgreSQL only (set TEST_DATABASE_URL): a PGlite data directory belongs to one process, so there is nothing to scale out' : false
}, async (t) => {
  // Processes that outlive the subtest starting them belong to this test: a subtest's teardown kills its own.
  const suite = t
  const setUpStarted = performance.now()
  const testDatabase = await createTestDatabase(t)
  const sql = postgres(testDatabase.databaseUrl ?? '', { max: 2, onnotice: () => {} })
  t.teardown(async () => { await sql.end({ timeout: 5 }) })
  /** A document's status once it is no longer processing; throws when that takes longer than `timeoutMs`. */
  const settledStatus = async (id: string, timeoutMs: number): Promise<string> => await until(`document ${id} processed`, async () => {
    const [row] = await sql<Array<{ status: string }>>`select status from documents where id = ${id}`
    return row?.status === 'processing' ? undefined : row?.status
  }, timeoutMs)

  // The first API process to start bootstraps the default org with this key.
  const bootstrapKey = generateApiKey()
  const common = { JACK_URL_ALLOW_PRIVATE: 'true' }
  const apiEnv = jackEnv(testDatabase, { ...common, JACK_WORKERS: '0', RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT), JACK_BOOTSTRAP_KEY: bootstrapKey })
  const [api1, api2, worker1] = await Promise.all([
    startServe(t, apiEnv),
    startServe(t, apiEnv),
    // Worker 1 keeps the default 60 s lease, so a job it gives back is visibly not one whose lease ran out.
    startWorker(t, jackEnv(testDatabase, { ...common, JACK_WORKERS: '2' }))
  ])
  // Created once the default org exists (an org created first would stop the bootstrap).
  // Each org has its own rate-limit budget: the rate-limit test exhausts its own.
  const database = await testDatabase.open()
  t.teardown(async () => { await database.close() })
  const rateOrg = await createOrgWithKey(database, 'Rate Limited Ltd')
  const shutdownOrg = await createOrgWithKey(database, 'Shutdown Ltd')
  t.comment(`set-up (a database, two API processes, a worker process, two orgs) took ${Math.round(performance.now() - setUpStarted)} ms`)
  t.not(api1.port, api2.port, 'two API processes on two ports')

  await t.test('a document ingested through API 1 is processed by the worker process and answered through API 2', async (t) => {
    const text = 'Refunds are issued within 30 days of purchase. Store credit never expires.'
    const accepted = await api(api1, 'POST', '/v1/ingest', bootstrapKey, { documents: [{ text, filename: 'refunds.md', metadata: { department: 'billing' } }] })
    t.equal(accepted.status, 202, 'API 1 accepts the document')
    const id = accepted.body.document_ids[0] as string

    t.equal(await settledStatus(id, 15_000), 'ready', 'the document becomes ready')
    t.ok(processedBy(worker1.proc).has(id), '`jack worker` processed it')
    t.notMatch(api1.proc.stdout + api2.proc.stdout, /document processed/, 'neither API process (JACK_WORKERS=0) processed anything')

    const fetched = await api(api2, 'GET', `/v1/documents/${id}`, bootstrapKey)
    t.equal(fetched.status, 200, 'API 2 finds the document')
    t.match(fetched.body, { id, status: 'ready', chunk_count: 1, filename: 'refunds.md', metadata: { department: 'billing' } }, 'ready, with its chunk and metadata')

    const answered = await api(api2, 'POST', '/v1/query', bootstrapKey, { question: 'How long do refunds take?' })
    t.equal(answered.status, 200, 'API 2 answers the question')
    t.match(answered.body.answer, /30 days/, `answered from the document: ${JSON.stringify(answered.body.answer)}`)
    t.match(answered.body.citations[0], { document_id: id, source: 'refunds.md', chunk_index: 0 }, 'and cites it')
  })

  await t.test('a key revoked through API 1 is refused by API 2, which had it cached, within one second', async (t) => {
    const created = await api(api1, 'POST', '/v1/keys', bootstrapKey, { label: 'to revoke' })
    t.equal(created.status, 201, 'API 1 creates a second key')
    const { id: keyId, key } = created.body as { id: string, key: string }
    t.equal((await api(api2, 'GET', '/v1/documents', key)).status, 200, 'API 2 accepts the key (verifying it once with argon2 and caching it)')
    const cachedCheck = await api(api2, 'GET', '/v1/documents', key)
    t.equal(cachedCheck.status, 200, `and again from its cache (${Math.round(cachedCheck.ms)} ms)`)

    const revoked = await api(api1, 'DELETE', `/v1/keys/${keyId}`, bootstrapKey)
    const revokedAt = performance.now()
    t.equal(revoked.status, 200, 'API 1 revokes the key')
    t.match(revoked.body, { id: keyId, revoked_at: /Z$/ }, 'revoked_at is set')
    const onApi1 = await api(api1, 'GET', '/v1/documents', key)
    t.same([onApi1.status, onApi1.body], [403, { detail: 'API key has been revoked' }], 'API 1 refuses it on the very next request')

    let polls = 0
    const refused = await until('403 from API 2', async () => {
      polls++
      const reply = await api(api2, 'GET', '/v1/documents', key)
      return reply.status === 200 ? undefined : reply
    }, 1000, 10)
    const elapsed = performance.now() - revokedAt
    t.same([refused.status, refused.body], [403, { detail: 'API key has been revoked' }], 'API 2 answers 403 "API key has been revoked"')
    t.ok(elapsed < 1000, `within one second of the revocation: ${Math.round(elapsed)} ms, ${polls} request(s)`)
  })

  await t.test('the rate limit counts the requests of both API processes together', async (t) => {
    // Request n (from 0) goes to API 1 when n is even, to API 2 when it is odd.
    const serverFor = (index: number): RunningServer => index % 2 === 0 ? api1 : api2
    for (let index = 0; index < RATE_LIMIT; index++) {
      const reply = await api(serverFor(index), 'GET', '/v1/documents', rateOrg.key)
      t.equal(reply.status, 200, `request ${index + 1}, to API ${(index % 2) + 1}: 200`)
      t.equal(reply.headers.get('ratelimit-limit'), String(RATE_LIMIT), 'RateLimit-Limit')
      t.equal(reply.headers.get('ratelimit-remaining'), String(RATE_LIMIT - index - 1), `RateLimit-Remaining ${RATE_LIMIT - index - 1}`)
    }
    for (const index of [RATE_LIMIT, RATE_LIMIT + 1]) {
      const reply = await api(serverFor(index), 'GET', '/v1/documents', rateOrg.key)
      const name = `request ${index + 1}, to API ${(index % 2) + 1}`
      t.same([reply.status, reply.body], [429, { detail: 'Rate limit exceeded' }], `${name}: 429 "Rate limit exceeded"`)
      const retryAfter = Number(reply.headers.get('retry-after'))
      t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `${name}: Retry-After ${String(reply.headers.get('retry-after'))} s`)
      t.equal(reply.headers.get('ratelimit-remaining'), '0', `${name}: RateLimit-Remaining 0`)
    }
    const otherOrg = await api(api1, 'GET', '/v1/documents', shutdownOrg.key)
    t.equal(otherOrg.status, 200, 'another organisation is not limited by it')
  })

  await t.test('SIGTERM: API 1 finishes an upload in flight, refuses new connections and exits 0', async (t) => {
    // Cached on API 1 first, so the upload's authentication is instant and the handler is reading the body when the signal lands.
    t.equal((await api(api1, 'GET', '/v1/documents', shutdownOrg.key)).status, 200, 'the uploading key works on API 1')
    const content = Array.from({ length: 4000 }, (_, i) => `Archive rule ${i}: boxes are kept for seven years. `).join('')
    const { body, contentType } = await multipartBody({ metadata: JSON.stringify({ kind: 'archive' }) }, { name: 'archive-rules.txt', content, type: 'text/plain' })
    const firstPart = 64 * 1024
    let releaseRest: () => void = () => {}
    const rest = new Promise<void>((resolve) => { releaseRest = resolve })
    async function * slowBody (): AsyncGenerator<Buffer> {
      yield body.subarray(0, firstPart)
      await rest
      // The rest trickles in, as from a slow client, while the server is shutting down.
      for (let offset = firstPart; offset < body.length; offset += 16 * 1024) {
        await sleep(20)
        yield body.subarray(offset, offset + 16 * 1024)
      }
    }
    // A keep-alive client, as real clients are: the server must still let the connection go once the reply is sent.
    const client = new Client(api1.baseUrl)
    t.teardown(async () => { await client.destroy() })
    const started = performance.now()
    const upload = request(`${api1.baseUrl}/v1/ingest/file`, {
      dispatcher: client,
      method: 'POST',
      headers: { authorization: `Bearer ${shutdownOrg.key}`, 'content-type': contentType, 'content-length': String(body.length) },
      body: Readable.from(slowBody()),
      signal: AbortSignal.timeout(15_000)
    })
    upload.catch(() => {}) // awaited below; a rejection before then must not be unhandled
    await api1.proc.waitForStdout(/"url":"\/v1\/ingest\/file"[^\n]*"msg":"incoming request"/, 10_000)

    api1.proc.child.kill('SIGTERM')
    await api1.proc.waitForStdout(/"msg":"shutting down"/, 5000)
    let attempts = 0
    await until('refused connection', async () => {
      attempts++
      return await connectionRefused(api1.port) ? true : undefined
    }, 2000, 10)
    t.pass(`a new connection to API 1 is refused while the upload is still in flight (attempt ${attempts})`)
    t.equal(api1.proc.child.exitCode, null, 'API 1 is still running, waiting for the upload')

    releaseRest()
    const response = await upload
    const reply = await response.body.json() as { status: string, org_id: string, document_ids: string[] }
    t.equal(response.statusCode, 202, `the upload in flight gets its normal 202 (${Math.round(performance.now() - started)} ms after it began)`)
    t.match(reply, { status: 'accepted', org_id: shutdownOrg.orgId, document_ids: [/^[0-9a-f-]{36}$/] }, 'with its document id')
    const uploadedId = reply.document_ids[0] ?? ''

    const signalled = performance.now()
    t.same(await api1.proc.waitForExit(12_000), { code: 0, signal: null }, `API 1 exits 0 (${Math.round(performance.now() - signalled)} ms after the reply)`)
    t.notMatch(api1.proc.stdout, /requests still running|"level":50/, 'without cutting a request or logging an error')

    t.equal(await settledStatus(uploadedId, 15_000), 'ready', 'the document uploaded during shutdown is stored and becomes ready')
  })

  let worker2: RunningWorker | undefined
  await t.test('SIGTERM: a worker holding a job gives it back, and another worker takes it over at once', async (t) => {
    // A page whose first fetch never answers keeps worker 1 busy on the job; later fetches answer.
    const page = 'The archive room opens at nine and closes at five.'
    let fetches = 0
    let firstFetchClosed: () => void = () => {}
    const firstFetchGone = new Promise<void>((resolve) => { firstFetchClosed = resolve })
    let firstFetchArrived: () => void = () => {}
    const firstFetch = new Promise<void>((resolve) => { firstFetchArrived = resolve })
    const pageServer = http.createServer((req, res) => {
      fetches++
      if (fetches === 1) {
        req.socket.once('close', firstFetchClosed)
        firstFetchArrived()
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(page)
    })
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      pageServer.closeAllConnections()
      pageServer.close()
    })
    const { port } = pageServer.address() as net.AddressInfo

    const accepted = await api(api2, 'POST', '/v1/ingest/url', shutdownOrg.key, { url: `http://127.0.0.1:${port}/opening-hours.txt` })
    t.equal(accepted.status, 202, 'API 2 accepts a URL document')
    const id = accepted.body.document_ids[0] as string
    await withinMs(firstFetch, 10_000, 'worker 1 fetching the page')
    const [held] = await sql<Array<{ leased_by: string, lease_seconds: number }>>`
      select leased_by, extract(epoch from lease_expires_at - now())::float8 as lease_seconds from ingest_jobs where document_id = ${id}`
    t.equal(held?.leased_by, worker1.id, 'worker 1 holds the job')
    t.ok((held?.lease_seconds ?? 0) > 30, `with ${Math.round(held?.lease_seconds ?? 0)} s of its lease left`)

    const signalled = performance.now()
    worker1.proc.child.kill('SIGTERM')
    // Worker 2 (a 2 s lease, for the next test) starts while worker 1 waits for its job to finish.
    worker2 = await startWorker(suite, jackEnv(testDatabase, { ...common, JACK_WORKERS: '2', JACK_JOB_LEASE_SECONDS: '2' }))
    t.same(await worker1.proc.waitForExit(20_000), { code: 0, signal: null }, `worker 1 exits 0 (${Math.round(performance.now() - signalled)} ms after SIGTERM: its grace for running jobs, then it aborts them)`)
    const exitedAt = performance.now()
    await withinMs(firstFetchGone, 1000, 'worker 1 closing its page fetch')
    t.pass('the page fetch worker 1 was waiting on is closed')
    const [after] = await sql<Array<{ leased_by: string | null, lease_expires_at: Date | null, attempts: number }>>`
      select leased_by, lease_expires_at, attempts from ingest_jobs where document_id = ${id}`
    if (after === undefined) {
      t.pass('the job is already done')
    } else {
      t.not(after.leased_by, worker1.id, `worker 1 no longer holds the job (leased_by ${String(after.leased_by)}, attempts ${after.attempts})`)
      if (after.leased_by === null) t.equal(after.lease_expires_at, null, 'its lease is cleared')
      else t.equal(after.leased_by, worker2.id, 'worker 2 has taken it')
    }

    const status = await settledStatus(id, 5000)
    t.equal(status, 'ready', `ready ${Math.round(performance.now() - exitedAt)} ms after worker 1 exited, long before its lease would have run out`)
    // The worker logs after its commit, so the line may trail the status by a moment.
    const logDeadline = performance.now() + 5000
    while (!processedBy(worker2.proc).has(id) && performance.now() < logDeadline) await new Promise((resolve) => setTimeout(resolve, 50))
    t.ok(processedBy(worker2.proc).has(id), 'processed by worker 2')
    t.equal(fetches, 2, 'the page was fetched again once')
  })

  await t.test('SIGKILL: a worker killed mid-ingest loses nothing, and nothing is stored twice', async (t) => {
    if (worker2 === undefined) return t.fail('worker 2 did not start')
    const victim = worker2
    const texts = Array.from({ length: 20 }, (_, index) => ledgerText(index))
    const expectedChunks = texts.map((text) => chunkText(text, CHUNKING).length)
    const accepted = await api(api2, 'POST', '/v1/ingest', shutdownOrg.key, { documents: texts.map((text, index) => ({ text, filename: `ledger-${index}.txt` })) })
    t.equal(accepted.status, 202, `API 2 accepts ${texts.length} documents of ${Math.round((texts[0]?.length ?? 0) / 1000)}–${Math.round((texts.at(-1)?.length ?? 0) / 1000)} kB`)
    const ids = accepted.body.document_ids as string[]

    let seen = ''
    const atKill = await until('a worker busy mid-ingest', async () => {
      const [{ ready } = { ready: 0 }] = await sql<Array<{ ready: number }>>`select count(*)::int as ready from documents where id in ${sql(ids)} and status = 'ready'`
      const leased = await sql<Array<{ document_id: string }>>`select document_id from ingest_jobs where leased_by = ${victim.id}`
      seen = JSON.stringify({ ready, leased: leased.length })
      return ready >= 2 && leased.length > 0 ? { ready } : undefined
    }, 15_000, 10).catch((error: Error) => { throw new Error(`${error.message} (last seen ${seen}); worker 2's log: ${victim.proc.stdout.slice(-2000)}`) })
    victim.proc.child.kill('SIGKILL')
    t.same(await victim.proc.waitForExit(5000), { code: null, signal: 'SIGKILL' }, 'worker 2 is killed')
    const orphaned = (await sql<Array<{ document_id: string }>>`select document_id from ingest_jobs where leased_by = ${victim.id}`).map((row) => row.document_id)
    t.ok(atKill.ready < ids.length && orphaned.length > 0, `killed with ${atKill.ready} of ${ids.length} ready and ${orphaned.length} job(s) in its hands`)

    const killedAt = performance.now()
    const worker3 = await startWorker(t, jackEnv(testDatabase, { ...common, JACK_WORKERS: '2' }))
    await until('every document ready', async () => {
      const [row] = await sql<Array<{ waiting: number }>>`select count(*)::int as waiting from documents where id in ${sql(ids)} and status <> 'ready'`
      return row?.waiting === 0 ? true : undefined
    }, 30_000, 50)
    t.pass(`worker 3 finished the rest ${Math.round(performance.now() - killedAt)} ms after the kill`)
    // (A job whose last commit was on its way when the process died may have been finished by worker 2 itself.)
    const takenOver = orphaned.filter((id) => processedBy(worker3.proc).has(id))
    t.ok(takenOver.length > 0, `including ${takenOver.length} of the ${orphaned.length} job(s) worker 2 held when it died, once its 2 s lease ran out`)

    const rows = await sql<Array<{ id: string, status: string, chunk_count: number, chunks: number, indexes: number, max_index: number }>>`
      select d.id, d.status, d.chunk_count, count(c.chunk_index)::int as chunks, count(distinct c.chunk_index)::int as indexes, coalesce(max(c.chunk_index), -1)::int as max_index
      from documents d left join chunks c on c.org_id = d.org_id and c.document_id = d.id
      where d.id in ${sql(ids)} group by d.org_id, d.id`
    const byId = new Map(rows.map((row) => [row.id, row]))
    const wrong = ids.flatMap((id, index) => {
      const row = byId.get(id)
      const expected = expectedChunks[index] ?? -1
      return row?.status === 'ready' && row.chunk_count === expected && row.chunks === expected && row.indexes === expected && row.max_index === expected - 1
        ? []
        : [{ id, expected, row }]
    })
    t.same(wrong, [], `all ${ids.length} ready, each with exactly the ${Math.min(...expectedChunks)}–${Math.max(...expectedChunks)} chunks the chunker makes of it, numbered 0…n-1, none twice`)

    const [stats] = await sql<Array<{ counted: number, stored: number }>>`
      select (select coalesce(sum(chunk_count), 0)::int from org_chunk_stats where org_id = ${shutdownOrg.orgId}) as counted,
             (select count(*)::int from chunks where org_id = ${shutdownOrg.orgId}) as stored`
    t.equal(stats?.counted, stats?.stored, `the org's chunk statistics count each stored chunk once (${String(stats?.stored)})`)
    const leftovers = await sql<Array<{ status: string, count: number }>>`
      select d.status, count(*)::int as count from documents d where d.org_id = ${shutdownOrg.orgId} group by d.status`
    t.same(leftovers, [{ status: 'ready', count: ids.length + 2 }], 'every document this org ever sent (the upload and the page too) is ready')
    t.equal((await sql`select document_id from ingest_jobs`).length, 0, 'and the queue is empty')

    const found = await api(api2, 'POST', '/v1/search', shutdownOrg.key, { query: 'Ledger 17 clause 1234', top_k: 1 })
    t.equal(found.status, 200, 'API 2 searches')
    t.equal(found.body.results[0]?.document_id, ids[17], 'and finds the document the query names first')

    worker3.proc.child.kill('SIGTERM')
    t.same(await worker3.proc.waitForExit(10_000), { code: 0, signal: null }, 'worker 3 stops cleanly')
  })

  await t.test('stop API 2', async (t) => {
    t.same(await api2.stop(10_000), { code: 0, signal: null }, 'API 2 exits 0 on SIGTERM')
  })
})
