// Abuse of the key check over real HTTP: failed checks throttled per client address before any lookup or argon2, argon2 run a bounded few at a time, once per key.
import t from 'tap'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call, type ApiResponse } from '../helpers/client.js'
import { createApiKey } from '../../src/keys/api-key.js'
import { loadConfig } from '../../src/config.js'

const THROTTLED = { detail: 'Too many failed authentication attempts' }
const BUSY = { detail: 'Too many authentication attempts in progress; retry shortly' }
const INVALID = { detail: 'Invalid authentication credentials' }

/** A well-formed key with a real key's prefix and a wrong secret: the costly kind of failure (a lookup and argon2). */
function wrongSecret (key: string, index: number): string {
  return `${key.slice(0, 16)}${index.toString(16).padStart(37, '0')}`
}

t.test('failed checks are throttled per address, before any lookup or argon2', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { workers: 0, authFailureLimit: 5, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const attacker = '203.0.113.7'
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key, remoteAddress: attacker })).status, 200, 'the org\'s key is verified (and cached) from that address')
  const argon2AtStart = app.keyVerifier.stats.argon2Verifications

  for (let i = 0; i < 5; i++) {
    const response = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, i), remoteAddress: attacker })
    t.equal(response.status, 401, `failure ${i + 1} of 5 → 401`)
  }
  t.equal(app.keyVerifier.stats.argon2Verifications - argon2AtStart, 5, 'each ran argon2 once')

  const queriesBefore = database.stats.queries
  for (let i = 5; i < 25; i++) {
    const response = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, i), remoteAddress: attacker })
    t.equal(response.status, 429, 'past the limit → 429')
    t.same(response.json(), THROTTLED, 'exact body')
    const retryAfter = Number(response.headers['retry-after'])
    // At most the rest of this window plus the fifth of the next it takes 5 failures to fade to 4.
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 72, `Retry-After ${retryAfter} s`)
  }
  t.equal(app.keyVerifier.stats.argon2Verifications - argon2AtStart, 5, 'no argon2 ran for the throttled address')
  t.equal(database.stats.queries, queriesBefore, 'nor any SQL: refused before the prefix lookup')

  const cached = await call(t, app, 'GET', '/v1/keys', { key: org.key, remoteAddress: attacker })
  t.equal(cached.status, 200, 'a key already verified still works from the throttled address (it costs nothing to check)')
  const { key: freshKey } = await createApiKey(database.db, org.orgId, 'fresh')
  const fresh = await call(t, app, 'GET', '/v1/keys', { key: freshKey, remoteAddress: attacker })
  t.equal(fresh.status, 429, 'a key not yet verified waits out the throttle like any other check from that address')
  t.same(fresh.json(), THROTTLED)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: freshKey, remoteAddress: '198.51.100.1' })).status, 200, 'from another address it works')

  const neighbour = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 99), remoteAddress: '203.0.113.8' })
  t.equal(neighbour.status, 401, 'another address has its own count')
  t.same(neighbour.json(), INVALID)

  const malformedFrom = '192.0.2.50'
  for (let i = 0; i < 20; i++) {
    t.equal((await call(t, app, 'GET', '/v1/keys', { headers: { authorization: `Bearer not-a-key-${i}` }, remoteAddress: malformedFrom })).status, 401)
  }
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 1), remoteAddress: malformedFrom })).status, 401,
    'malformed keys (refused without a lookup) do not count towards the limit')
})

t.test('a valid key\'s first burst after a restart is one argon2 run and never throttled', async (t) => {
  // The deployment's own limit, not the tests' lenient one: the burst is twice its size.
  const { authFailureLimit } = loadConfig({})
  t.equal(authFailureLimit, 20, 'the default limit')
  const { app, database } = await buildTestApp(t, { config: { workers: 0, authFailureLimit, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const responses = await Promise.all(Array.from({ length: 40 }, async () => await call(t, app, 'GET', '/v1/keys', { key: org.key })))
  t.same(responses.map((response) => response.status), Array(40).fill(200), '40 × 200')
  t.equal(app.keyVerifier.stats.argon2Verifications, 1, 'exactly one argon2 verification')
  t.ok(app.keyVerifier.stats.sharedVerifications > 0, `the others waited for it or found it cached (${app.keyVerifier.stats.sharedVerifications} waited)`)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 1) })).status, 401, 'and none of them counted as a failure')
})

t.test('a bad key sent in parallel shares one argon2 run, and each refused request counts as one failure', async (t) => {
  // A long window, entered well before its end, so no failure fades while the test counts them.
  const windowMs = 3_600_000
  while (Date.now() % windowMs > windowMs - 30_000) await new Promise((resolve) => setTimeout(resolve, 200))
  const { app, database } = await buildTestApp(t, { config: { workers: 0, authFailureLimit: 41, authFailureWindowMs: windowMs, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const from = '198.51.100.77'
  const bad = wrongSecret(org.key, 7)
  const responses = await Promise.all(Array.from({ length: 40 }, async () => await call(t, app, 'GET', '/v1/keys', { key: bad, remoteAddress: from })))
  t.same(responses.map((response) => response.status), Array(40).fill(401), '40 × 401: none was refused for checks still under way')
  t.same(responses[0]?.json(), INVALID)
  t.equal(app.keyVerifier.stats.argon2Verifications, 1, 'one argon2 verification for all 40')
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 8), remoteAddress: from })).status, 401,
    'the 41st failure is still admitted: the shared verification counted 40, not 1 and not more')
  const throttled = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 9), remoteAddress: from })
  t.same([throttled.status, throttled.json()], [429, THROTTLED], 'and then the limit of 41 is reached')
})

t.test('IPv6 clients are counted by their /64', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { authFailureLimit: 2, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const statusFrom = async (address: string, index: number): Promise<number> =>
    (await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, index), remoteAddress: address })).status
  t.equal(await statusFrom('2001:db8:1:2::1', 1), 401)
  t.equal(await statusFrom('2001:db8:1:2::ffff:1', 2), 401)
  t.equal(await statusFrom('2001:db8:1:2:aaaa::9', 3), 429, 'another address in the same /64 shares the count')
  t.equal(await statusFrom('2001:db8:1:3::1', 4), 401, 'the next /64 does not')
  t.equal(await statusFrom('::ffff:192.0.2.1', 5), 401)
  t.equal(await statusFrom('192.0.2.1', 6), 401)
  t.equal(await statusFrom('::ffff:192.0.2.1', 7), 429, 'an IPv4-mapped address counts as its IPv4 address')
})

t.test('a throttled address is admitted again as its failures leave the window', async (t) => {
  const windowMs = 4000
  const { app, database } = await buildTestApp(t, { config: { authFailureLimit: 3, authFailureWindowMs: windowMs, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const from = '198.51.100.20'
  // Start at the beginning of a window, so the three failures (slow on a loaded machine) share one and none has faded yet.
  while (Date.now() % windowMs > 0.1 * windowMs) await new Promise((resolve) => setTimeout(resolve, 20))
  for (let i = 0; i < 3; i++) t.equal((await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, i), remoteAddress: from })).status, 401)
  const refused = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 3), remoteAddress: from })
  t.equal(refused.status, 429)
  t.ok(Number(refused.headers['retry-after']) <= 8, 'Retry-After is within two windows')
  await new Promise((resolve) => setTimeout(resolve, 2 * windowMs + 100))
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, 4), remoteAddress: from })).status, 401, 'checked again (and failed) two windows later')
})

t.test('a flood of bad keys with a known prefix never runs more than N argon2 at once, and cached keys never wait', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { argon2Concurrency: 2, argon2QueueLimit: 100, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200, 'the legitimate key is verified and cached')
  const argon2AtStart = app.keyVerifier.stats.argon2Verifications

  let floodDone = 0
  const flood = Array.from({ length: 30 }, async (_, i) => {
    const response = await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, i), remoteAddress: `10.1.0.${i + 1}` })
    floodDone++
    return response
  })
  // Let the flood reach argon2, then ask with the cached key while it is busy.
  const floodQueued = (): boolean => app.keyVerifier.argon2Load.queued > 0 || floodDone === 30
  while (!floodQueued()) await new Promise((resolve) => setImmediate(resolve))
  const legitimate = await call(t, app, 'GET', '/v1/keys', { key: org.key })
  const doneWhenServed = floodDone
  const queuedWhenServed = app.keyVerifier.argon2Load.queued
  t.equal(legitimate.status, 200, 'the cached key is served during the flood')
  t.ok(doneWhenServed < 30, `before the flood was over (${doneWhenServed} of 30 done, ${queuedWhenServed} still queued for argon2)`)

  const responses = await Promise.all(flood)
  t.ok(responses.every((response) => response.status === 401), 'every bad key → 401')
  t.equal(app.keyVerifier.stats.argon2Verifications - argon2AtStart, 30, 'each was checked once')
  t.equal(app.keyVerifier.stats.argon2PeakConcurrency, 2, 'never more than 2 argon2 at once (and the flood did use both)')
})

t.test('past the argon2 queue, checks are refused at once with 429 and Retry-After', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { argon2Concurrency: 1, argon2QueueLimit: 2, rateLimit: 0 } })
  const org = await createOrgWithKey(database)
  const responses: ApiResponse[] = await Promise.all(Array.from({ length: 24 }, async (_, i) =>
    await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, i), remoteAddress: `10.2.0.${i + 1}` })))
  const refused = responses.filter((response) => response.status === 429)
  const checked = responses.filter((response) => response.status === 401)
  t.equal(refused.length + checked.length, 24, 'each is 401 (checked) or 429 (refused)')
  t.ok(refused.length > 0, `some were refused (${refused.length})`)
  for (const response of refused) {
    t.same(response.json(), BUSY, 'exact body')
    t.equal(response.headers['retry-after'], '1', 'Retry-After: 1')
  }
  t.equal(app.keyVerifier.stats.argon2Refusals, refused.length)
  t.equal(app.keyVerifier.stats.argon2Verifications, checked.length, 'argon2 ran only for the checks that got a slot')
  t.equal(app.keyVerifier.stats.argon2PeakConcurrency, 1)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200, 'once the flood is over a real key is checked as usual')
})

t.test('X-Forwarded-For decides the address only when JACK_TRUST_PROXY names the proxy', async (t) => {
  for (const [trustProxy, separate] of [[false, false], ['127.0.0.1', true]] as const) {
    const { app, database } = await buildTestApp(t, { config: { authFailureLimit: 1, rateLimit: 0, trustProxy } })
    const org = await createOrgWithKey(database)
    const from = async (forwardedFor: string, index: number): Promise<number> =>
      (await call(t, app, 'GET', '/v1/keys', { key: wrongSecret(org.key, index), headers: { 'x-forwarded-for': forwardedFor } })).status
    t.equal(await from('198.51.100.1', 1), 401)
    t.equal(await from('198.51.100.2', 2), separate ? 401 : 429,
      separate ? 'behind a trusted proxy each forwarded client has its own count' : 'untrusted, the header is ignored: both come from the proxy\'s address')
  }
})
