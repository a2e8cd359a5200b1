// The per-organisation rate limit for /v1: counted after authentication (it needs the org) and before the body is read, in the database or Redis.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { RateLimitExceededError } from '../src/errors/http-errors.js'
import { DatabaseRateLimitStore } from '../src/rate-limit/database-store.js'
import { RateLimiter } from '../src/rate-limit/rate-limiter.js'
import type { RateLimitStore } from '../src/rate-limit/rate-limit-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Undefined when RATE_LIMIT_PER_MINUTE is 0. */
    rateLimiter: RateLimiter | undefined
    /** An onRequest hook for authenticated scopes: counts the request, sets the RateLimit-* headers, 429 over the limit. */
    enforceRateLimit: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

// A store that is down would otherwise log once per request.
const STORE_WARNING_INTERVAL_MS = 10_000

// Response headers for the OpenAPI document (Fastify's serializer ignores them).
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { type: 'integer', description: 'Requests the organisation may make per minute (absent when the deployment has no limit, or its counter store is unreachable)' },
  'RateLimit-Remaining': { type: 'integer', description: 'Requests the organisation may still make now' },
  'RateLimit-Reset': { type: 'integer', description: 'Seconds until the whole limit is available again, if no more requests come' }
}
const RETRY_AFTER_HEADER = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before a request will be accepted' }
}

type ResponseSchemas = Record<string, Record<string, unknown>>

/** The route's responses with the rate-limit headers documented: on every 2xx, and Retry-After on 429. */
function withRateLimitHeaders (responses: ResponseSchemas): ResponseSchemas {
  const documented: ResponseSchemas = {}
  for (const [status, schema] of Object.entries(responses)) {
    const code = Number(status)
    const own = (schema.headers ?? {}) as Record<string, unknown>
    if (code >= 200 && code < 300) documented[status] = { ...schema, headers: { ...RATE_LIMIT_HEADERS, ...own } }
    else if (code === 429) documented[status] = { ...schema, headers: { ...RETRY_AFTER_HEADER, ...RATE_LIMIT_HEADERS, ...own } }
    else documented[status] = schema
  }
  return documented
}

export default fp(async (app) => {
  // Documented whatever this deployment's limit, so the spec does not depend on configuration.
  app.addHook('onRoute', (route) => {
    const responses = route.schema?.response as ResponseSchemas | undefined
    if (!route.url.startsWith('/v1/') || responses === undefined) return
    route.schema = { ...route.schema, response: withRateLimitHeaders(responses) }
  })

  const { rateLimit: limit, rateLimitWindowMs: windowMs, redisUrl, redisKeyPrefix } = app.config
  if (limit === 0) {
    app.decorate('rateLimiter', undefined)
    app.decorate('enforceRateLimit', async () => {})
    return
  }

  let lastWarningAt = Number.NEGATIVE_INFINITY
  let unwarned = 0
  const warnStoreFailure = (error: unknown, message: string): void => {
    unwarned++
    const now = Date.now()
    if (now - lastWarningAt < STORE_WARNING_INTERVAL_MS) return
    app.log.warn({ err: error, requestsLetThrough: unwarned }, message)
    lastWarningAt = now
    unwarned = 0
  }

  let store: RateLimitStore
  if (redisUrl === undefined) {
    store = new DatabaseRateLimitStore(app.db)
  } else {
    let connectionWarnedAt = Number.NEGATIVE_INFINITY
    // Loaded only when configured: ioredis takes a noticeable part of start-up otherwise.
    const { RedisRateLimitStore } = await import('../src/rate-limit/redis-store.js')
    store = await RedisRateLimitStore.connect({
      url: redisUrl,
      keyPrefix: redisKeyPrefix,
      onError: (error) => {
        // ioredis reports every failed reconnect; one line per interval is enough.
        const now = Date.now()
        if (now - connectionWarnedAt < STORE_WARNING_INTERVAL_MS) return
        connectionWarnedAt = now
        app.log.warn({ err: error }, 'rate-limit Redis connection failed; requests are not rate-limited until it is back')
      }
    })
  }
  app.addHook('onClose', async () => { await store.close() })
  const limiter = new RateLimiter(store, { limit, windowMs })
  app.decorate('rateLimiter', limiter)

  app.decorate('enforceRateLimit', async (request: FastifyRequest, reply: FastifyReply) => {
    let decision
    try {
      decision = await limiter.check(request.org.orgId)
    } catch (error) {
      // Fail open: an unreachable counter store must not take the API down with it.
      warnStoreFailure(error, 'rate-limit store failed; letting requests through unlimited')
      return
    }
    reply.header('ratelimit-limit', decision.limit)
    reply.header('ratelimit-remaining', decision.remaining)
    reply.header('ratelimit-reset', decision.resetSeconds)
    if (!decision.allowed) {
      reply.header('retry-after', decision.retryAfterSeconds)
      throw new RateLimitExceededError()
    }
  })
}, { name: 'rate-limit', dependencies: ['config', 'db', 'auth'] })
