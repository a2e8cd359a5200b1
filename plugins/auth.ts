// API-key authentication for /v1: a @fastify/auth strategy that runs in onRequest, before any body is read.
// Addresses with too many failed checks are refused before any lookup or argon2, and argon2 runs a few at a time, once per key however many requests present it.
import fp from 'fastify-plugin'
import fastifyAuth from '@fastify/auth'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { KeyVerifier, parseBearerKey, repeatsAuthorization, type Verification } from '../src/keys/key-verifier.js'
import { AuthFailureThrottle } from '../src/keys/auth-failure-throttle.js'
import { AuthBusyError, AuthFailuresThrottledError, InvalidCredentialsError, RevokedKeyError } from '../src/errors/http-errors.js'
import type { OrgId } from '../src/org-id.js'

export interface RequestOrg {
  orgId: OrgId
  keyId: string
}

declare module 'fastify' {
  interface FastifyInstance {
    keyVerifier: KeyVerifier
    authFailureThrottle: AuthFailureThrottle
    verifyApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    /** Set by the auth plugin only, on every /v1 request that reached a handler. */
    org: RequestOrg
  }
}

export default fp(async (app) => {
  const verifier = new KeyVerifier(app.database, {
    cacheSize: app.config.authCacheSize,
    onBackgroundError: (error) => app.log.warn({ err: error }, 'could not record API key use'),
    argon2Concurrency: app.config.argon2Concurrency,
    argon2QueueLimit: app.config.argon2QueueLimit
  })
  const throttle = new AuthFailureThrottle({ limit: app.config.authFailureLimit, windowMs: app.config.authFailureWindowMs })
  await verifier.start()
  app.addHook('onClose', async () => { await verifier.stop() })

  app.decorate('keyVerifier', verifier)
  app.decorate('authFailureThrottle', throttle)
  app.decorateRequest('org', null as unknown as RequestOrg)
  app.decorate('verifyApiKey', async (request: FastifyRequest, reply: FastifyReply) => {
    // A malformed key, or several Authorization headers, cost nothing to refuse, so are not counted as failures.
    if (repeatsAuthorization(request.raw.rawHeaders)) throw new InvalidCredentialsError()
    const key = parseBearerKey(request.headers.authorization)
    if (key === undefined) throw new InvalidCredentialsError()
    // A key this instance has verified costs nothing to check either, so it is
    // served even from an address being throttled (one shared with an attacker behind a NAT).
    let result: Verification | undefined = verifier.cached(key)
    if (result === undefined) {
      const admission = throttle.admit(request.ip)
      if (!admission.admitted) {
        reply.header('retry-after', admission.retryAfterSeconds)
        throw new AuthFailuresThrottledError()
      }
      result = await verifier.verify(key)
      // Every refused request counts once, also when it shared its verification
      // with others presenting the same key: the limit is on refusals per address.
      if (result.outcome === 'invalid') throttle.recordFailure(request.ip)
    }
    if (result.outcome === 'busy') {
      reply.header('retry-after', 1)
      throw new AuthBusyError()
    }
    if (result.outcome === 'invalid') throw new InvalidCredentialsError()
    if (result.outcome === 'revoked') throw new RevokedKeyError()
    request.org = { orgId: result.orgId, keyId: result.keyId }
  })
  await app.register(fastifyAuth)
}, { name: 'auth', dependencies: ['config', 'db'] })
