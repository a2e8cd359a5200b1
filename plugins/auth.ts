// API-key authentication for /v1: a @fastify/auth strategy that runs in onRequest, before any body is read.
import fp from 'fastify-plugin'
import fastifyAuth from '@fastify/auth'
import type { FastifyRequest } from 'fastify'
import { KeyVerifier, parseBearerKey } from '../src/keys/key-verifier.js'
import { InvalidCredentialsError, RevokedKeyError } from '../src/errors/http-errors.js'
import type { OrgId } from '../src/org-id.js'

export interface RequestOrg {
  orgId: OrgId
  keyId: string
}

declare module 'fastify' {
  interface FastifyInstance {
    keyVerifier: KeyVerifier
    verifyApiKey: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    /** Set by the auth plugin only, on every /v1 request that reached a handler. */
    org: RequestOrg
  }
}

export default fp(async (app) => {
  const verifier = new KeyVerifier(app.database, {
    cacheSize: app.config.authCacheSize,
    onBackgroundError: (error) => app.log.warn({ err: error }, 'could not record API key use')
  })
  await verifier.start()
  app.addHook('onClose', async () => { await verifier.stop() })

  app.decorate('keyVerifier', verifier)
  app.decorateRequest('org', null as unknown as RequestOrg)
  app.decorate('verifyApiKey', async (request: FastifyRequest) => {
    const key = parseBearerKey(request.headers.authorization)
    if (key === undefined) throw new InvalidCredentialsError()
    const result = await verifier.verify(key)
    if (result.outcome === 'invalid') throw new InvalidCredentialsError()
    if (result.outcome === 'revoked') throw new RevokedKeyError()
    request.org = { orgId: result.orgId, keyId: result.keyId }
  })
  await app.register(fastifyAuth)
}, { name: 'auth', dependencies: ['config', 'db'] })
