// The security checks every authenticated route gets: missing, malformed, unknown, other-scheme and revoked keys.
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Test } from 'tap'
import type { Database } from '../../src/db/client.js'
import { createApiKey } from '../../src/keys/api-key.js'
import { revokeApiKey } from '../../src/repositories/api-keys.repo.js'
import type { OrgId } from '../../src/org-id.js'
import { call } from './client.js'

export interface RouteUnderTest {
  method: InjectOptions['method']
  url: string
  body?: unknown
}

export const INVALID_CREDENTIALS = { detail: 'Invalid authentication credentials' }
export const REVOKED = { detail: 'API key has been revoked' }

export async function authMatrix (t: Test, app: FastifyInstance, database: Database, orgId: OrgId, route: RouteUnderTest): Promise<void> {
  const { key: goodKey } = await createApiKey(database.db, orgId, 'matrix')
  const hex = goodKey.slice(5)
  const cases: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['an empty header', { authorization: '' }],
    ['the Basic scheme', { authorization: `Basic ${goodKey}` }],
    ['no scheme', { authorization: goodKey }],
    ['Bearer with nothing after it', { authorization: 'Bearer ' }],
    ['two spaces after Bearer', { authorization: `Bearer  ${goodKey}` }],
    ['jack_ + 47 hex', { authorization: `Bearer jack_${hex.slice(1)}` }],
    ['jack_ + 49 hex', { authorization: `Bearer ${goodKey}0` }],
    ['uppercase hex', { authorization: `Bearer jack_${hex.toUpperCase()}` }],
    ['a wrong prefix word', { authorization: `Bearer jeck_${hex}` }],
    ['an unknown key', { authorization: `Bearer jack_${'0'.repeat(48)}` }],
    ['a known prefix with the wrong secret', { authorization: `Bearer ${goodKey.slice(0, 16)}${'0'.repeat(37)}` }],
    ['trailing garbage', { authorization: `Bearer ${goodKey} x` }]
  ]
  for (const [name, headers] of cases) {
    const response = await call(t, app, route.method, route.url, { headers, ...(route.body === undefined ? {} : { body: route.body }) })
    t.equal(response.status, 401, `${route.method} ${route.url} with ${name} → 401`)
    t.same(response.json(), INVALID_CREDENTIALS, `${name}: exact 401 body`)
  }
  const { key: revokedKey, record } = await createApiKey(database.db, orgId, 'matrix-revoked')
  t.not((await call(t, app, route.method, route.url, { key: revokedKey, ...(route.body === undefined ? {} : { body: route.body }) })).status, 401, 'the key works before revocation')
  await revokeApiKey(database.db, orgId, record.id)
  app.keyVerifier.forget(record.id)
  const revoked = await call(t, app, route.method, route.url, { key: revokedKey, ...(route.body === undefined ? {} : { body: route.body }) })
  t.equal(revoked.status, 403, `${route.method} ${route.url} with a revoked key → 403`)
  t.same(revoked.json(), REVOKED, 'exact 403 body')
}
