import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import type { Database } from '../../src/db/client.js'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'

t.test('unknown routes are 404 with a detail', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/nope', '/v1/nope', '/v1/keys/x/y', '/v2/keys']) {
    const response = await call(t, app, 'GET', url)
    t.same([response.status, response.json()], [404, { detail: 'Not Found' }], url)
  }
})

/** Renames a table as its owner would (a schema jack's code does not expect: a real 42P01 on the next statement), and back at teardown. */
async function renameTable (t: Test, database: Database, databaseUrl: string | undefined, from: string, to: string): Promise<void> {
  const rename = `alter table ${from} rename to ${to}`
  const back = `alter table ${to} rename to ${from}`
  if (databaseUrl === undefined) {
    // PGlite's one session is a superuser under SET ROLE jack_app.
    const asOwner = async (statement: string): Promise<void> => {
      for (const part of ['reset role', statement, 'set role jack_app']) await database.db.execute(sql.raw(part))
    }
    await asOwner(rename)
    t.teardown(async () => { await asOwner(back) })
    return
  }
  const owner = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  await owner.unsafe(rename)
  t.teardown(async () => { await owner.unsafe(back); await owner.end() })
}

t.test('an unexpected failure is a generic 500; the cause goes to the log only', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { app, database, testDatabase } = await buildTestApp(t, { config: { logLevel: 'error' }, logStream })
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200, 'the key is cached')
  await renameTable(t, database, testDatabase.databaseUrl, 'api_keys', 'api_keys_elsewhere')
  const response = await call(t, app, 'GET', '/v1/keys', { key: org.key })
  t.equal(response.status, 500)
  t.same(response.json(), { detail: 'Internal server error' })
  t.notMatch(response.body, /PGlite|postgres|api_keys|relation|stack|at /i, 'no internals in the body')
  t.ok(lines.some((line) => line.includes('request failed') && line.includes('"err"') && line.includes('42P01')), 'the cause is logged, with its SQLSTATE')
})

t.test('a database closed under the app is unavailable, not a bug: 503 with Retry-After', async (t) => {
  const { app, database } = await buildTestApp(t)
  const org = await createOrgWithKey(database)
  t.equal((await call(t, app, 'GET', '/v1/keys', { key: org.key })).status, 200, 'the key is cached')
  await database.close()
  const response = await call(t, app, 'GET', '/v1/keys', { key: org.key })
  t.same([response.status, response.json(), response.headers['retry-after']], [503, { detail: 'The database is unavailable; retry shortly' }, '5'])
})

t.test('the JSON body limit is configurable and answers 413', async (t) => {
  const { app, database } = await buildTestApp(t, { config: { bodyLimitBytes: 2048 } })
  const org = await createOrgWithKey(database)
  const response = await call(t, app, 'POST', '/v1/keys', { key: org.key, body: { label: 'x'.repeat(3000) } })
  t.same([response.status, response.json()], [413, { detail: 'Request body is larger than the limit of 2048 bytes' }])
})

t.test('an unauthenticated body is never parsed', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await call(t, app, 'POST', '/v1/keys', { rawBody: '{not json' })
  t.same([response.status, response.json()], [401, { detail: 'Invalid authentication credentials' }], '401, not 400: auth runs first')
  t.equal(response.headers['www-authenticate'], 'Bearer')
})
