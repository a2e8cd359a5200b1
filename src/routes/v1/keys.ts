// POST/GET /v1/keys and DELETE /v1/keys/{key_id}: the caller's organisation's API keys.
import { Type } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createApiKey } from '../../keys/api-key.js'
import { listApiKeys, revokeApiKey, type ApiKeyRecord } from '../../repositories/api-keys.repo.js'
import { AUTHENTICATED_ERRORS, errorResponses } from '../../schemas/common.js'
import { CreateKeyBody, CreatedKey, KeyListing, KeyParams, type KeyListingType } from '../../schemas/keys.js'
import { NotFoundError } from '../../errors/http-errors.js'
import { toApiTimestamp, toApiTimestampOrNull } from '../../time.js'

function toListing (record: ApiKeyRecord): KeyListingType {
  return {
    id: record.id,
    prefix: record.prefix,
    label: record.label,
    org_id: record.orgId,
    created_at: toApiTimestamp(record.createdAt),
    last_used_at: toApiTimestampOrNull(record.lastUsedAt),
    revoked_at: toApiTimestampOrNull(record.revokedAt)
  }
}

const security = [{ bearerAuth: [] }]

const keysRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/keys', {
    schema: {
      tags: ['keys'],
      operationId: 'createKey',
      summary: 'Create an API key',
      description: 'The full key is in this response only; jack keeps just its argon2id hash.',
      security,
      body: CreateKeyBody,
      response: { 201: { ...CreatedKey, description: 'The new key, shown this once' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    }
  }, async (request, reply) => {
    const { record, key } = await createApiKey(app.db, request.org.orgId, request.body.label)
    return await reply.code(201).send({
      id: record.id,
      key,
      prefix: record.prefix,
      label: record.label,
      org_id: record.orgId,
      created_at: toApiTimestamp(record.createdAt)
    })
  })

  app.get('/keys', {
    schema: {
      tags: ['keys'],
      operationId: 'listKeys',
      summary: 'List API keys',
      description: 'Newest first. Never includes the full key.',
      security,
      response: { 200: Type.Array(KeyListing, { description: 'The organisation\'s keys, newest first' }), ...errorResponses(401, 403, 429, 500, 503) }
    }
  }, async (request) => {
    const records = await listApiKeys(app.db, request.org.orgId)
    return records.map(toListing)
  })

  app.delete('/keys/:key_id', {
    schema: {
      tags: ['keys'],
      operationId: 'revokeKey',
      summary: 'Revoke an API key',
      description: 'At once and for good; revoking again returns the same object. A key may revoke itself.',
      security,
      params: KeyParams,
      response: { 200: { ...KeyListing, description: 'The revoked key' }, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 500, 503) }
    }
  }, async (request) => {
    const record = await revokeApiKey(app.db, request.org.orgId, request.params.key_id)
    if (record === undefined) throw new NotFoundError('API key not found')
    // This instance stops accepting the key before replying; others learn through NOTIFY.
    app.keyVerifier.forget(record.id)
    return toListing(record)
  })
}

export default keysRoutes
