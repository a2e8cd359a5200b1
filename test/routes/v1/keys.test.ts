import t from 'tap'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { authMatrix } from '../../helpers/auth-matrix.js'
import { queryInOrg } from '../../helpers/org-sql.js'

const KEY_FORMAT = /^jack_[0-9a-f]{48}$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

t.test('keys', async (t) => {
  const { app, database } = await buildTestApp(t)
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')

  t.test('POST creates a key that is shown once, authenticates, and is stored only as a hash', async (t) => {
    const created = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'production' } })
    t.equal(created.status, 201)
    const body = created.json()
    t.match(body.key, KEY_FORMAT)
    t.equal(body.prefix, body.key.slice(0, 16))
    t.equal(body.label, 'production')
    t.equal(body.org_id, orgA.orgId)
    t.match(body.created_at, TIMESTAMP)
    t.same(Object.keys(body).sort(), ['created_at', 'id', 'key', 'label', 'org_id', 'prefix'])

    const listed = await call(t, app, 'GET', '/v1/keys', { key: body.key })
    t.equal(listed.status, 200, 'the new key authenticates')
    t.notOk(listed.body.includes(body.key), 'no listing contains the full key')
    t.notOk(listed.body.includes(body.key.slice(16)), 'nor its secret part')

    const rows = await queryInOrg(database, orgA.orgId, sql`select * from api_keys where id = ${body.id}`)
    const stored = JSON.stringify(rows)
    t.notOk(stored.includes(body.key.slice(16)), 'the database holds no plaintext key')
    t.match(stored, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'it holds an argon2id hash')
  })

  t.test('GET lists the org\'s keys newest first, never with the key', async (t) => {
    const first = (await call(t, app, 'POST', '/v1/keys', { key: orgB.key, body: { label: 'first' } })).json()
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = (await call(t, app, 'POST', '/v1/keys', { key: orgB.key, body: { label: 'second' } })).json()
    const listed = await call(t, app, 'GET', '/v1/keys', { key: orgB.key })
    const keys = listed.json<Array<Record<string, unknown>>>()
    t.same(keys.map((key) => key.label), ['second', 'first', 'test'])
    t.same(keys[0], { id: second.id, prefix: second.prefix, label: 'second', org_id: orgB.orgId, created_at: second.created_at, last_used_at: null, revoked_at: null })
    t.ok(keys.every((key) => !('key' in key) && !('hash' in key)), 'no key or hash field')
    t.ok(keys.every((key) => key.org_id === orgB.orgId), 'only org B\'s keys')
    t.equal(keys.find((key) => key.id === first.id)?.label, 'first')
    t.match(keys.find((key) => key.id === orgB.keyId)?.last_used_at, TIMESTAMP, 'last_used_at records use')
  })

  t.test('DELETE revokes at once and for good, idempotently; a key may revoke itself', async (t) => {
    const created = (await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'short-lived' } })).json()
    t.equal((await call(t, app, 'GET', '/v1/keys', { key: created.key })).status, 200)
    const revoked = await call(t, app, 'DELETE', `/v1/keys/${created.id}`, { key: orgA.key })
    t.equal(revoked.status, 200)
    t.match(revoked.json().revoked_at, TIMESTAMP)
    t.equal(revoked.json().id, created.id)
    t.notOk('key' in revoked.json())

    const next = await call(t, app, 'GET', '/v1/keys', { key: created.key })
    t.equal(next.status, 403, 'the very next request with it is refused')
    t.same(next.json(), { detail: 'API key has been revoked' })

    const again = await call(t, app, 'DELETE', `/v1/keys/${created.id}`, { key: orgA.key })
    t.equal(again.status, 200)
    t.same(again.json(), revoked.json(), 'revoking again returns the same object')

    const self = (await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'self' } })).json()
    const selfRevoke = await call(t, app, 'DELETE', `/v1/keys/${self.id}`, { key: self.key })
    t.equal(selfRevoke.status, 200, 'a key may revoke itself')
    t.equal((await call(t, app, 'GET', '/v1/keys', { key: self.key })).status, 403)
  })

  t.test('org B cannot list, see or revoke org A\'s keys', async (t) => {
    const aKey = (await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'a-secret' } })).json()
    const listB = (await call(t, app, 'GET', '/v1/keys', { key: orgB.key })).json<Array<{ id: string, org_id: string }>>()
    t.notOk(listB.some((key) => key.id === aKey.id || key.id === orgA.keyId), 'A\'s keys are not in B\'s list')
    t.ok(listB.every((key) => key.org_id === orgB.orgId))
    const revoke = await call(t, app, 'DELETE', `/v1/keys/${aKey.id}`, { key: orgB.key })
    t.equal(revoke.status, 404)
    t.same(revoke.json(), { detail: 'API key not found' })
    const missing = await call(t, app, 'DELETE', '/v1/keys/00000000-0000-4000-8000-000000000000', { key: orgB.key })
    t.same([missing.status, missing.json()], [404, { detail: 'API key not found' }], 'indistinguishable from a key that does not exist')
    t.equal((await call(t, app, 'GET', '/v1/keys', { key: aKey.key })).status, 200, 'A\'s key still works')
  })

  t.test('bad input to POST /v1/keys', async (t) => {
    const cases: Array<[string, { body?: unknown, rawBody?: string, headers?: Record<string, string> }, number, string | RegExp]> = [
      ['malformed JSON', { rawBody: '{"label": ' }, 400, 'Malformed JSON in request body'],
      ['no body', { headers: { 'content-type': 'application/json' } }, 400, 'Request body is required'],
      ['missing label', { body: {} }, 400, 'field \'label\' is required'],
      ['label of the wrong type', { body: { label: 5 } }, 422, 'label must be a string'],
      ['label null', { body: { label: null } }, 422, 'label must be a string'],
      ['empty label', { body: { label: '' } }, 422, 'label must not be empty'],
      ['101 characters', { body: { label: 'x'.repeat(101) } }, 422, 'label must be at most 100 characters long'],
      ['a JSON array', { body: [{ label: 'x' }] }, 422, 'request body must be an object'],
      ['a JSON string', { body: 'label' }, 422, 'request body must be an object'],
      ['a prototype-pollution key', { rawBody: '{"label":"x","__proto__":{"admin":true}}' }, 400, 'Malformed JSON in request body'],
      ['a form body', { rawBody: 'label=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /content type/]
    ]
    for (const [name, options, status, detail] of cases) {
      const response = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, ...options })
      t.equal(response.status, status, `${name} → ${status}`)
      const body = response.json()
      t.same(Object.keys(body), ['detail'], `${name}: only a detail`)
      if (typeof detail === 'string') t.equal(body.detail, detail)
      else t.match(body.detail, detail)
    }

    const exactly100 = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'x'.repeat(100) } })
    t.equal(exactly100.status, 201, '100 characters is allowed')

    const extra = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'extra', admin: true, org_id: orgB.orgId } })
    t.equal(extra.status, 201, 'unknown fields are ignored, as the hosted API does')
    t.equal(extra.json().org_id, orgA.orgId, 'an org_id in the body changes nothing')
    t.notOk('admin' in extra.json())

    const nul = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: 'a\u0000b' } })
    t.same([nul.status, nul.json()], [422, { detail: 'label must not contain NUL (\\u0000) characters' }], 'NUL cannot be stored in PostgreSQL text')
    const hostileLabel = '<script>\'; drop table api_keys;-- \u202e\ud83d\ude00 \\'
    const hostile = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, body: { label: hostileLabel } })
    t.equal(hostile.status, 201, 'a hostile label is just text')
    const listed = await call(t, app, 'GET', '/v1/keys', { key: orgA.key })
    t.ok(listed.json().some((key: { label: string }) => key.label === hostileLabel), 'and comes back unchanged')

    const oversize = await call(t, app, 'POST', '/v1/keys', { key: orgA.key, rawBody: JSON.stringify({ label: 'x'.repeat(11 * 1024 * 1024) }) })
    t.equal(oversize.status, 413)
    t.match(oversize.json().detail, /larger than the limit/)
  })

  t.test('bad input to DELETE /v1/keys/{key_id}', async (t) => {
    for (const id of ['abc', '1', '00000000-0000-0000-0000-00000000000g', '%00', '..%2F..']) {
      const response = await call(t, app, 'DELETE', `/v1/keys/${id}`, { key: orgA.key })
      t.equal(response.status, 422, `${id} → 422`)
      t.equal(response.json().detail, 'key_id must be a valid UUID in the path')
    }
  })

  for (const route of [
    { method: 'POST' as const, url: '/v1/keys', body: { label: 'matrix' } },
    { method: 'GET' as const, url: '/v1/keys' },
    { method: 'DELETE' as const, url: '/v1/keys/00000000-0000-4000-8000-000000000000' }
  ]) {
    t.test(`authentication of ${route.method} ${route.url}`, async (t) => {
      const org = await createOrgWithKey(database, `matrix ${route.method}`)
      await authMatrix(t, app, database, org.orgId, route)
    })
  }
})
