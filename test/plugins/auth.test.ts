// API-key authentication over real HTTP: the key cache, one verification per key at a time, revocation, repeated headers, keys kept out of logs.
import t from 'tap'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { INVALID_CREDENTIALS } from '../helpers/auth-matrix.js'
import { rawRequest } from '../helpers/raw-http.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { testDatabaseUrl } from '../helpers/template.js'

t.test('a cached, unrevoked key check runs no argon2 and no SQL', async (t) => {
  // No ingest workers: their polling would add statements of their own. No
  // rate limit either: its one statement per request is counted in rate-limit.test.ts.
  const { app, database } = await buildTestApp(t, { config: { workers: 0, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200)
  t.equal(app.keyVerifier.stats.argon2Verifications, 1, 'the first request verifies with argon2')
  // Let the first request's fire-and-forget last_used_at write finish.
  await new Promise((resolve) => setTimeout(resolve, 50))

  const queriesBefore = database.stats.queries
  for (let i = 0; i < 5; i++) t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200)
  t.equal(app.keyVerifier.stats.argon2Verifications, 1, 'no further argon2 runs')
  // A scoped repository call is one transaction of two statements: set_config for
  // the organisation, then its own (BEGIN and COMMIT do not pass through Drizzle's logger).
  t.equal(database.stats.queries - queriesBefore, 10, 'one transaction per request, the scope and the listing itself; none for auth or last_used_at')
})

t.test('keys whose prefix matches nothing are rejected without argon2', async (t) => {
  const { app, database } = await buildTestApp(t)
  await createOrgWithKey(database)
  const response = await call(t, app, 'GET', '/v1/keys', { key: `jack_${'ab'.repeat(24)}` })
  t.equal(response.status, 401)
  t.equal(app.keyVerifier.stats.argon2Verifications, 0)
})

t.test('with the cache off every request verifies with argon2', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { authCacheSize: 0 } })
  const org = await createOrgWithKey(database)
  for (let i = 0; i < 3; i++) t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200)
  t.equal(app.keyVerifier.stats.argon2Verifications, 3)
  const parallel = await Promise.all(Array.from({ length: 3 }, async () => await call(t, app, 'GET', '/v1/keys', { key: org.key })))
  t.ok(parallel.every((response) => response.status === 200))
  t.equal(app.keyVerifier.stats.argon2Verifications, 6, 'in parallel too: requests share no verification when the cache is off (what bench:auth measures)')
})

t.test('last_used_at is written on first use and then at most once a minute', async (t) => {
  const { app, database } = await buildTestApp(t)
  const org = await createOrgWithKey(database)
  const lastUsed = async (): Promise<string | null> => {
    const listing = (await call(t, app, 'GET', '/v1/keys', { key: org.key })).json<Array<{ id: string, last_used_at: string | null }>>()
    return listing.find((key) => key.id === org.keyId)?.last_used_at ?? null
  }
  await lastUsed()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const first = await lastUsed()
  t.ok(first !== null, 'set by the first request')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(await lastUsed(), first, 'not rewritten a second later')
})

t.test('a verification that raced a revocation does not cache the key', async (t) => {
  const { app, database } = await buildTestApp(t)
  const org = await createOrgWithKey(database)
  const pending = app.keyVerifier.verify(org.key)
  app.keyVerifier.forget(org.keyId)
  t.equal((await pending).outcome, 'valid', 'the request already in flight completes')
  await app.keyVerifier.verify(org.key)
  t.equal(app.keyVerifier.stats.argon2Verifications, 2, 'the next check went back to the database')
})

t.test('a check that starts after a revocation does not wait for a verification begun before it', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database)
  const verifier = app.keyVerifier
  const before = verifier.verify(org.key)
  const joined = verifier.verify(org.key)
  t.equal(verifier.stats.sharedVerifications, 1, 'a second check of the same key waits for the first one\'s verification')
  verifier.forget(org.keyId)
  const after = verifier.verify(org.key)
  t.equal(verifier.stats.sharedVerifications, 1, 'a check after the revocation does not: that verification may have read the key before it')
  t.same((await Promise.all([before, joined, after])).map((result) => result.outcome), ['valid', 'valid', 'valid'], '(the key is not actually revoked here)')
  t.equal(verifier.stats.argon2Verifications, 2, 'two verifications ran')
  t.equal((await verifier.verify(org.key)).outcome, 'valid')
  t.equal(verifier.stats.argon2Verifications, 2, 'the one begun after the revocation was cached; the stale one was not')
})

t.test('a check of a key already under way waits for it even when the argon2 queue is full', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0, argon2Concurrency: 1, argon2QueueLimit: 0 } })
  const org = await createOrgWithKey(database)
  const other = await createOrgWithKey(database, 'other')
  const verifier = app.keyVerifier
  const first = verifier.verify(org.key)
  const same = verifier.verify(org.key)
  const different = verifier.verify(other.key)
  t.same((await Promise.all([first, same, different])).map((result) => result.outcome), ['valid', 'valid', 'busy'],
    'the same key shares the running verification; another key finds the only slot taken and no queue')
  t.equal(verifier.stats.argon2Refusals, 1)
  t.equal(verifier.stats.argon2Verifications, 1)
  t.equal((await verifier.verify(other.key)).outcome, 'valid', 'the slot is free again afterwards')
})

t.test('a request with more than one Authorization header is refused, whichever comes first', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200, 'the key alone works (and is cached)')
  const good = `Bearer ${org.key}`
  const cases: Array<[string, string[]]> = [
    ['the valid key twice', [good, good]],
    ['the valid key, then another', [good, 'Bearer jack_' + '0'.repeat(48)]],
    ['another scheme, then the valid key', ['Basic dXNlcjpwYXNz', good]],
    ['the valid key, then an empty header', [good, '']]
  ]
  for (const [name, values] of cases) {
    // inject sends an array as the header repeated; Node's types allow Authorization one value only.
    const response = await app.inject({ method: 'GET', url: '/v1/keys', headers: { authorization: values as unknown as string } })
    t.equal(response.statusCode, 401, `${name} → 401`)
    t.same(response.json(), INVALID_CREDENTIALS, 'exact body')
    t.equal(response.headers['www-authenticate'], 'Bearer')
  }

  // Over a real socket, as a client behind a proxy would send it (inject builds its raw headers itself).
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const head = (...lines: string[]): string => ['GET /v1/keys HTTP/1.1', 'Host: localhost', 'Connection: close', ...lines, '', ''].join('\r\n')
  const single = await rawRequest(port, head(`Authorization: ${good}`))
  t.equal(single.status, 200, 'one header over the socket: 200')
  const repeated = await rawRequest(port, head(`Authorization: ${good}`, 'X-Between: 1', `authorization: ${good}`))
  t.equal(repeated.status, 401, 'two over the socket, in different cases: 401')
  t.same(JSON.parse(repeated.body), INVALID_CREDENTIALS)
  t.equal(repeated.headers['www-authenticate'], 'Bearer')
})

t.test('keys never reach the log', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { app, database } = await buildTestApp(t, { config: { logLevel: 'trace' }, logStream })
  const org = await createOrgWithKey(database)
  const created = (await call(t, app, 'POST', '/v1/keys', { key: org.key, body: { label: 'logged?' } })).json<{ id: string, key: string }>()
  await call(t, app, 'GET', '/v1/keys', { key: created.key })
  await call(t, app, 'DELETE', `/v1/keys/${created.id}`, { key: org.key })
  await call(t, app, 'GET', '/v1/keys', { key: created.key })
  await call(t, app, 'GET', '/v1/keys', { key: `${org.key.slice(0, 20)}${'f'.repeat(33)}` })
  await call(t, app, 'GET', '/v1/keys', { headers: { authorization: `Basic ${org.key}` } })
  app.log.info({ headers: { authorization: `Bearer ${org.key}` } }, 'a careless log call')
  const log = lines.join('')
  t.ok(lines.length > 10, 'requests were logged')
  for (const key of [org.key, created.key]) {
    t.notOk(log.includes(key.slice(16)), 'no key secret appears in the log')
  }
  t.match(log, /\[redacted\]/, 'the Authorization header is redacted')
})

t.test('revocation reaches a second instance within one second', { skip: testDatabaseUrl === undefined ? 'PGlite serves one process; several instances need PostgreSQL' : false }, async (t) => {
  const first = await buildTestApp(t)
  const second = await buildTestApp(t, { testDatabase: first.testDatabase })
  const org = await createOrgWithKey(first.database)
  const victim = (await call(t, first.app, 'POST', '/v1/keys', { key: org.key, body: { label: 'victim' } })).json<{ id: string, key: string }>()
  t.equal((await call(t, second.app, 'GET', '/v1/keys', { key: victim.key })).status, 200, 'cached on the second instance')
  const argon2Before = second.app.keyVerifier.stats.argon2Verifications
  t.equal((await call(t, second.app, 'GET', '/v1/keys', { key: victim.key })).status, 200)
  t.equal(second.app.keyVerifier.stats.argon2Verifications, argon2Before, 'served from its cache')

  const revokedAt = Date.now()
  t.equal((await call(t, first.app, 'DELETE', `/v1/keys/${victim.id}`, { key: org.key })).status, 200)
  let status = 200
  while (status === 200 && Date.now() - revokedAt < 1000) {
    status = (await call(t, second.app, 'GET', '/v1/keys', { key: victim.key })).status
    if (status === 200) await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.equal(status, 403, 'the second instance refuses the key')
  t.ok(Date.now() - revokedAt < 1000, `within one second (${Date.now() - revokedAt} ms)`)
})

t.test('an instance whose listener reconnects drops its cache', { skip: testDatabaseUrl === undefined ? 'needs PostgreSQL' : false }, async (t) => {
  const { app, database } = await buildTestApp(t)
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200)
  // Cut the LISTEN connection, then revoke behind the listener's back (no NOTIFY):
  // only a flush on reconnect can catch this.
  await database.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'`)
  await queryInOrg(database, org.orgId, sql`update api_keys set revoked_at = now() where id = ${org.keyId}`)
  const deadline = Date.now() + 10_000
  let status = 200
  while (status === 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    status = (await call(t, app, 'GET', '/v1/keys', { key: org.key })).status
  }
  t.equal(status, 403, 'after the reconnect the revocation is seen')
})
