// The per-organisation rate limit over real HTTP: 429 and its headers, isolation between orgs, keys sharing a budget, several instances, Redis, the sliding window.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call, type ApiResponse } from '../helpers/client.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { testDatabaseUrl } from '../helpers/template.js'
import { createApiKey } from '../../src/keys/api-key.js'
import { revokeApiKey } from '../../src/repositories/api-keys.repo.js'

const RATE_LIMITED = { detail: 'Rate limit exceeded' }
// Tests that count exact remainders over many requests use an hour-long window,
// so a minute boundary crossed mid-test (and the previous minute's fading weight) cannot shift a count by one.
const HOUR = 3_600_000
const REDIS_URL = 'redis://127.0.0.1:6379'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function header (response: ApiResponse, name: string): number | undefined {
  const value = response.headers[name]
  return value === undefined ? undefined : Number(value)
}

function rateHeaders (response: ApiResponse): { limit?: number, remaining?: number, reset?: number } {
  const limit = header(response, 'ratelimit-limit')
  const remaining = header(response, 'ratelimit-remaining')
  const reset = header(response, 'ratelimit-reset')
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(reset === undefined ? {} : { reset })
  }
}

function assertRateLimited (t: Test, response: ApiResponse, limit: number, message: string): void {
  t.equal(response.status, 429, `${message}: 429`)
  t.same(response.json(), RATE_LIMITED, `${message}: exact body`)
  const retryAfter = response.headers['retry-after']
  t.match(String(retryAfter), /^[1-9]\d*$/, `${message}: Retry-After is a whole number of seconds ≥ 1 (${String(retryAfter)})`)
  t.match(rateHeaders(response), { limit, remaining: 0 }, `${message}: RateLimit headers say none remain`)
}

async function listKeys (t: Test, app: FastifyInstance, key: string): Promise<ApiResponse> {
  return await call(t, app, 'GET', '/v1/keys', { key })
}

t.test('over the limit: 429 with the exact body and Retry-After; the headers count down on the way', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 5 } })
  const org = await createOrgWithKey(database)
  const minuteAtStart = Math.floor(Date.now() / 60_000)
  for (let expected = 4; expected >= 0; expected--) {
    const response = await listKeys(t, app, org.key)
    t.equal(response.status, 200)
    const headers = rateHeaders(response)
    t.equal(headers.limit, 5, 'RateLimit-Limit')
    t.equal(headers.remaining, expected, `RateLimit-Remaining ${expected}`)
    t.ok(headers.reset !== undefined && headers.reset >= 1 && headers.reset <= 120, `RateLimit-Reset is in seconds (${String(headers.reset)})`)
    t.equal(response.headers['retry-after'], undefined, 'no Retry-After on an accepted request')
  }
  const refused = await listKeys(t, app, org.key)
  const elapsed = (Date.now() % 60_000) / 1000
  assertRateLimited(t, refused, 5, 'the sixth request in a minute')
  const retryAfter = Number(refused.headers['retry-after'])
  if (Math.floor(Date.now() / 60_000) === minuteAtStart) {
    // All five are in this fixed window, so one more fits once the next window is a fifth through (5 × 0.8 + 1 = 5).
    const expected = Math.ceil(60 - elapsed + 12)
    t.ok(Math.abs(retryAfter - expected) <= 1, `Retry-After ${retryAfter} s is when the next window is a fifth through (about ${expected} s)`)
  } else {
    t.ok(retryAfter >= 1 && retryAfter <= 72, `Retry-After ${retryAfter} s (the requests straddled a minute boundary)`)
  }
  assertRateLimited(t, await call(t, app, 'POST', '/v1/keys', { key: org.key, body: { label: 'x' } }), 5, 'another endpoint shares the count')
  assertRateLimited(t, await call(t, app, 'POST', '/v1/query', { key: org.key, rawBody: '{not json' }), 5, 'refused before the body is parsed')

  for (let i = 0; i < 20; i++) {
    const health = await call(t, app, 'GET', '/healthz')
    t.equal(health.status, 200, '/healthz is never limited')
    t.same(rateHeaders(health), {}, '/healthz carries no RateLimit headers')
  }
  const ready = await call(t, app, 'GET', '/readyz')
  t.equal(ready.status, 200, '/readyz is never limited')
  t.same(rateHeaders(ready), {})
})

t.test('every authenticated response carries the headers, the stream included; unauthenticated requests are not counted', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 100, rateLimitWindowMs: HOUR } })
  const org = await createOrgWithKey(database)
  const missing = randomUUID()
  const requests: Array<{ name: string, send: () => Promise<ApiResponse>, status: number }> = [
    { name: 'GET /v1/keys', send: async () => await listKeys(t, app, org.key), status: 200 },
    { name: 'POST /v1/keys', send: async () => await call(t, app, 'POST', '/v1/keys', { key: org.key, body: { label: 'headers' } }), status: 201 },
    { name: 'POST /v1/ingest', send: async () => await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: 'Refunds are issued within 30 days.' }] } }), status: 202 },
    { name: 'GET /v1/documents', send: async () => await call(t, app, 'GET', '/v1/documents', { key: org.key }), status: 200 },
    { name: 'GET /v1/documents/{id} (404)', send: async () => await call(t, app, 'GET', `/v1/documents/${missing}`, { key: org.key }), status: 404 },
    { name: 'DELETE /v1/documents/{id} (404)', send: async () => await call(t, app, 'DELETE', `/v1/documents/${missing}`, { key: org.key }), status: 404 },
    { name: 'POST /v1/query (422)', send: async () => await call(t, app, 'POST', '/v1/query', { key: org.key, body: { question: 'x', top_k: 50 } }), status: 422 },
    { name: 'POST /v1/query (400)', send: async () => await call(t, app, 'POST', '/v1/query', { key: org.key, rawBody: '{not json' }), status: 400 },
    { name: 'POST /v1/query', send: async () => await call(t, app, 'POST', '/v1/query', { key: org.key, body: { question: 'What is the refund policy?' } }), status: 200 },
    { name: 'POST /v1/search', send: async () => await call(t, app, 'POST', '/v1/search', { key: org.key, body: { query: 'refund' } }), status: 200 },
    { name: 'POST /v1/query/stream', send: async () => await call(t, app, 'POST', '/v1/query/stream', { key: org.key, body: { question: 'What is the refund policy?' } }), status: 200 }
  ]
  let expected = 99
  for (const request of requests) {
    const response = await request.send()
    t.equal(response.status, request.status, `${request.name} → ${request.status}`)
    t.same(rateHeaders(response).remaining, expected, `${request.name}: RateLimit-Remaining ${expected}`)
    t.equal(header(response, 'ratelimit-limit'), 100, `${request.name}: RateLimit-Limit`)
    t.ok(header(response, 'ratelimit-reset') !== undefined, `${request.name}: RateLimit-Reset`)
    if (request.name === 'POST /v1/query/stream') t.match(String(response.headers['content-type']), /^text\/event-stream/, 'the stream is an event stream')
    expected--
  }

  // Not authenticated, so not counted against anyone and without the headers.
  const { key: revoked, record } = await createApiKey(database.db, org.orgId, 'revoked')
  await revokeApiKey(database.db, org.orgId, record.id)
  const unauthenticated: Array<[string, ApiResponse, number]> = [
    ['no key', await listKeys(t, app, ''), 401],
    ['an unknown key', await call(t, app, 'GET', '/v1/keys', { key: `jack_${'0'.repeat(48)}` }), 401],
    ['a wrong secret', await call(t, app, 'GET', '/v1/keys', { key: `${org.key.slice(0, 16)}${'0'.repeat(37)}` }), 401],
    ['a revoked key', await listKeys(t, app, revoked), 403]
  ]
  for (const [name, response, status] of unauthenticated) {
    t.equal(response.status, status, `${name} → ${status}`)
    t.same(rateHeaders(response), {}, `${name}: no RateLimit headers`)
  }
  t.equal(rateHeaders(await listKeys(t, app, org.key)).remaining, expected, 'the refused requests did not count')
})

t.test('organisations are isolated, and all keys of one organisation share its budget', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 3, rateLimitWindowMs: HOUR } })
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  const { key: secondKeyOfA } = await createApiKey(database.db, orgA.orgId, 'second')

  t.equal((await listKeys(t, app, orgA.key)).status, 200)
  t.equal((await listKeys(t, app, secondKeyOfA)).status, 200)
  t.equal(rateHeaders(await listKeys(t, app, orgA.key)).remaining, 0, 'two keys, one count')
  assertRateLimited(t, await listKeys(t, app, secondKeyOfA), 3, 'A\'s second key')
  assertRateLimited(t, await listKeys(t, app, orgA.key), 3, 'A\'s first key')

  for (let expected = 2; expected >= 0; expected--) {
    const response = await listKeys(t, app, orgB.key)
    t.equal(response.status, 200, 'org B is not affected by A being at its limit')
    t.equal(rateHeaders(response).remaining, expected, `B's own count: ${expected} remaining`)
  }
  assertRateLimited(t, await listKeys(t, app, orgB.key), 3, 'B at its own limit')
})

t.test('the database store costs one statement per request', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0, rateLimit: 100 } })
  const org = await createOrgWithKey(database)
  t.equal((await listKeys(t, app, org.key)).status, 200)
  await sleep(50) // the first request's last_used_at write
  const before = database.stats.queries
  for (let i = 0; i < 5; i++) t.equal((await listKeys(t, app, org.key)).status, 200)
  // Each is a scoped repository call, one transaction of two statements: set_config
  // for the organisation, then its own (BEGIN and COMMIT do not pass through Drizzle's logger).
  t.equal(database.stats.queries - before, 20, 'five listings and five counts, each one transaction: the scope and its statement')
})

t.test('a sliding window refuses the burst a fixed window would let through at its boundary', async (t) => {
  // A 6-second window so the test takes seconds; the arithmetic is the same at 60.
  const windowMs = 6000
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 4, rateLimitWindowMs: windowMs } })
  const org = await createOrgWithKey(database)
  // Windows are aligned to multiples of their length since the epoch.
  const phase = (): number => Date.now() % windowMs
  while (phase() < 0.55 * windowMs || phase() > 0.65 * windowMs) await sleep(20)
  for (let i = 0; i < 4; i++) t.equal((await listKeys(t, app, org.key)).status, 200, `request ${i + 1} late in the first window`)
  assertRateLimited(t, await listKeys(t, app, org.key), 4, 'a fifth in the same window')

  // Just past the boundary a fixed window would start again from zero; the sliding
  // window still holds almost all four (4 × (1 − elapsed/window) + 1 > 4).
  await sleep(windowMs - phase() + 50)
  const early = await listKeys(t, app, org.key)
  assertRateLimited(t, early, 4, 'just after the fixed-window boundary')
  const elapsedAtRefusal = phase()
  t.ok(elapsedAtRefusal < 0.25 * windowMs, `refused while the previous window still weighs over 3 (${elapsedAtRefusal} ms in)`)
  // One request fits once a quarter of the window has passed.
  t.equal(Number(early.headers['retry-after']), Math.ceil((0.25 * windowMs - elapsedAtRefusal) / 1000), 'Retry-After is when a quarter of the window has passed')

  await sleep(Math.max(0, 0.25 * windowMs - phase()) + 100)
  const later = await listKeys(t, app, org.key)
  t.equal(later.status, 200, 'accepted once the previous window has faded enough')
  t.equal(rateHeaders(later).remaining, 0, 'and that was the one that fitted')
  const [windows] = await queryInOrg<{ n: number }>(database, org.orgId, sql`select count(*)::int as n from rate_limit_windows`)
  t.equal(windows?.n, 2, 'the table holds the current and previous windows only')
})

t.test('several instances on one database share the count', { skip: testDatabaseUrl === undefined ? 'PGlite serves one process; several instances need PostgreSQL' : false }, async (t) => {
  const first = await buildTestApp(t, { config: { rateLimit: 6, rateLimitWindowMs: HOUR } })
  const second = await buildTestApp(t, { testDatabase: first.testDatabase, config: { rateLimit: 6, rateLimitWindowMs: HOUR } })
  const org = await createOrgWithKey(first.database)
  const remaining: number[] = []
  for (let i = 0; i < 6; i++) {
    const response = await listKeys(t, i % 2 === 0 ? first.app : second.app, org.key)
    t.equal(response.status, 200)
    remaining.push(rateHeaders(response).remaining ?? -1)
  }
  t.same(remaining, [5, 4, 3, 2, 1, 0], 'alternating instances count down one budget')
  assertRateLimited(t, await listKeys(t, first.app, org.key), 6, 'the first instance')
  assertRateLimited(t, await listKeys(t, second.app, org.key), 6, 'the second instance')

  // Concurrent requests on both instances never overshoot: the check and the count are one atomic upsert.
  const other = await createOrgWithKey(first.database, 'concurrent')
  await listKeys(t, first.app, other.key) // verify the key on both instances first, so argon2 does not serialise the burst
  await listKeys(t, second.app, other.key)
  const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => await listKeys(t, i % 2 === 0 ? first.app : second.app, other.key)))
  t.equal(burst.filter((response) => response.status === 200).length, 4, 'exactly the four left of six are accepted out of twenty at once')
  t.equal(burst.filter((response) => response.status === 429).length, 16)
})

async function redisReachable (): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

const redisSkip = await redisReachable() ? false : `Redis is not reachable at ${REDIS_URL}`

t.test('with REDIS_URL the count lives in Redis', { skip: redisSkip }, async (t) => {
  const prefix = `jack-test:${process.pid}:${randomUUID()}:`
  const redis = new Redis(REDIS_URL)
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 3, rateLimitWindowMs: HOUR, redisUrl: REDIS_URL, redisKeyPrefix: prefix } })
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  for (let expected = 2; expected >= 0; expected--) t.equal(rateHeaders(await listKeys(t, app, orgA.key)).remaining, expected)
  assertRateLimited(t, await listKeys(t, app, orgA.key), 3, 'A over its limit in Redis')
  t.equal((await listKeys(t, app, orgB.key)).status, 200, 'B is not affected')

  const keys = await redis.keys(`${prefix}*`)
  t.equal(keys.length, 2, 'one counter per organisation and window, under the prefix')
  t.ok(keys.some((key) => key.startsWith(`${prefix}{${orgA.orgId}}:`)), 'keyed by organisation')
  const ttl = await redis.pttl(keys[0] ?? '')
  t.ok(ttl > HOUR && ttl <= 2 * HOUR + 1000, `counters expire on their own after two windows (${ttl} ms)`)
  for (const org of [orgA, orgB]) {
    const [windows] = await queryInOrg<{ n: number }>(database, org.orgId, sql`select count(*)::int as n from rate_limit_windows`)
    t.equal(windows?.n, 0, 'nothing was counted in the database')
  }

  // Several instances sharing one Redis: see test/rate-limit/stores.test.ts.
})

t.test('Redis down: requests are let through (fail open) with a warning, without RateLimit headers', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  // Port 1: nothing listens there, so every connection is refused at once.
  const { app, database } = await buildTestApp(t, { config: { rateLimit: 2, redisUrl: 'redis://127.0.0.1:1', logLevel: 'warn' }, logStream })
  const org = await createOrgWithKey(database)
  for (let i = 0; i < 5; i++) {
    const response = await listKeys(t, app, org.key)
    t.equal(response.status, 200, `request ${i + 1} of 5 over a limit of 2 is let through`)
    t.same(rateHeaders(response), {}, 'without RateLimit headers: there is no count to report')
  }
  const warnings = lines.filter((line) => line.includes('rate-limit'))
  t.ok(warnings.length >= 1, 'the failure is logged')
  t.ok(warnings.length <= 3, `but not once per request (${warnings.length} lines)`)
})
