import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'drizzle-orm'
import { createTestDatabase } from '../helpers/database.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import { insertDocuments } from '../../src/repositories/documents.repo.js'
import { claimIdempotencyKey } from '../../src/repositories/idempotency-keys.repo.js'
import { canonicalJson, hashRequest, IN_PROGRESS_DETAIL, readIdempotencyKey, withIdempotencyKey } from '../../src/ingest/idempotency.js'

const log = pino({ level: 'silent' }) as unknown as FastifyBaseLogger

t.test('readIdempotencyKey: 1–255 printable ASCII characters, else 422', async (t) => {
  t.equal(readIdempotencyKey({}), undefined, 'no header, no key')
  t.equal(readIdempotencyKey({ 'idempotency-key': 'a' }), 'a')
  t.equal(readIdempotencyKey({ 'idempotency-key': ' ~'.repeat(127) + 'x' }), ' ~'.repeat(127) + 'x', '255 characters, spaces included')
  t.equal(readIdempotencyKey({ 'idempotency-key': ['a', 'b'] }), 'a, b', 'repeated headers read as Node joins them')
  for (const [name, value, detail] of [
    ['empty', '', 'Idempotency-Key must not be empty'],
    ['256 characters', 'x'.repeat(256), 'Idempotency-Key must be at most 255 characters long'],
    ['a newline', 'a\nb', 'Idempotency-Key must contain only printable ASCII characters'],
    ['NUL', '\u0000', 'Idempotency-Key must contain only printable ASCII characters'],
    ['Latin-1', 'caf\u00e9', 'Idempotency-Key must contain only printable ASCII characters'],
    ['an emoji', '😀', 'Idempotency-Key must contain only printable ASCII characters']
  ] as const) {
    t.throws(() => readIdempotencyKey({ 'idempotency-key': value }), { statusCode: 422, message: detail }, name)
  }
})

t.test('canonicalJson and hashRequest: object key order does not matter, everything else does', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'é' }], c: true } }), '{"a":{"c":true,"d":[3,{"y":"é","z":null}]},"b":1}')
  t.equal(canonicalJson({ a: undefined, b: [undefined] }), '{"b":[null]}', 'as JSON.stringify treats undefined')
  t.equal(hashRequest({ x: 1, y: 2 }), hashRequest({ y: 2, x: 1 }))
  t.not(hashRequest({ list: [1, 2] }), hashRequest({ list: [2, 1] }), 'array order is meaning')
  t.not(hashRequest({ a: '1' }), hashRequest({ a: 1 }), 'types are meaning')
  t.match(hashRequest({}), /^[0-9a-f]{64}$/)
})

t.test('withIdempotencyKey against a database', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const database = await testDatabase.open()
  t.teardown(async () => { await database.close() })
  const org = await createOrg(database.db, 'service')
  const document = { document: { sourceType: 'text' as const, filename: null, format: 'text', metadata: {}, chunkSize: 512, chunkOverlap: 64 }, payload: { text: 'Text.' } }
  const status = async (key: string): Promise<string | undefined> => {
    const rows = await queryInOrg<{ status: string }>(database, org.id, sql`select status from idempotency_keys where org_id = ${org.id} and key = ${key} and expires_at > now()`)
    return rows[0]?.status
  }

  t.test('a request running past its lease keeps its key: the lease is renewed while it runs', async (t) => {
    const leaseMs = 300
    const ids = await withIdempotencyKey(database.db, org.id, 'long-running', log, async (guard) => {
      await sleep(leaseMs * 4)
      t.match(await claimIdempotencyKey(database.db, org.id, 'long-running', leaseMs), { held: { status: 'pending' } }, 'still held four leases later')
      return await insertDocuments(database.db, org.id, [document], guard.completion(() => 'c'.repeat(64)))
    }, { leaseMs })
    t.equal(ids.length, 1)
    await sleep(leaseMs * 2)
    t.equal(await status('long-running'), 'completed', 'completed for 24 hours, not for a lease')
  })

  t.test('a request that throws gives its key back and the error goes on', async (t) => {
    await t.rejects(withIdempotencyKey(database.db, org.id, 'throws', log, async () => {
      t.equal(await status('throws'), 'pending')
      throw new Error('boom')
    }), { message: 'boom' })
    t.equal(await status('throws'), undefined)
  })

  t.test('a claim lost before commit is 409 and stores nothing', async (t) => {
    await t.rejects(withIdempotencyKey(database.db, org.id, 'lost', log, async (guard) => {
      // The lease runs out and another request takes the key over.
      await queryInOrg(database, org.id, sql`update idempotency_keys set expires_at = now() - interval '1 second' where org_id = ${org.id} and key = 'lost'`)
      t.ok('claimed' in await claimIdempotencyKey(database.db, org.id, 'lost', 60_000))
      return await insertDocuments(database.db, org.id, [document], guard.completion(() => 'd'.repeat(64)))
    }), { statusCode: 409, message: IN_PROGRESS_DETAIL })
    t.equal(await status('lost'), 'pending', 'the new holder keeps it')
  })

  t.test('without a key the work runs plainly', async (t) => {
    const ids = await withIdempotencyKey(database.db, org.id, undefined, log, async (guard) => {
      t.equal(guard.replay(() => { throw new Error('not hashed without a key') }), undefined)
      return await insertDocuments(database.db, org.id, [document], guard.completion(() => { throw new Error('not hashed without a key') }))
    })
    t.equal(ids.length, 1)
  })
})
