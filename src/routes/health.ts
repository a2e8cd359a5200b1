// GET /healthz and GET /readyz, outside authentication.
import { Type } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.js'

const Status = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Probes arrive every few seconds: their request lines would drown the log, so they show only when debugging; a failed check still warns.
  const logLevel = app.config.logLevel === 'debug' || app.config.logLevel === 'trace' ? app.config.logLevel : 'warn'
  app.get('/healthz', {
    logLevel,
    schema: {
      tags: ['operations'],
      operationId: 'health',
      summary: 'Liveness: 200 while the process runs',
      security: [],
      response: { 200: { ...Status, description: 'The process is running' } }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    logLevel,
    schema: {
      tags: ['operations'],
      operationId: 'ready',
      summary: 'Readiness: 200 when the database answers, else 503',
      security: [],
      response: { 200: { ...Status, description: 'The database answers' }, ...errorResponses(503) }
    }
  }, async (request, reply) => {
    try {
      await app.database.ping(2000)
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed')
      return await reply.code(503).send({ detail: 'Database is not reachable' })
    }
    return { status: 'ok' as const }
  })
}

export default healthRoutes
