// buildApp(options) → a configured jack instance: infrastructure plugins first, then routes.
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { DestinationStream } from 'pino'
import configPlugin from '../plugins/config.js'
import dbPlugin from '../plugins/db.js'
import shutdownPlugin from '../plugins/shutdown.js'
import validationPlugin from '../plugins/validation.js'
import errorsPlugin from '../plugins/errors.js'
import openapiPlugin from '../plugins/openapi.js'
import authPlugin from '../plugins/auth.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import healthRoutes from './routes/health.js'
import keysRoutes from './routes/v1/keys.js'
import ingestRoutes from './routes/v1/ingest.js'
import documentsRoutes from './routes/v1/documents.js'
import queryRoutes from './routes/v1/query.js'
import workerPlugin from '../plugins/worker.js'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import { loggerOptions } from './logging/logger-options.js'
import { requestIdOf } from './logging/request-id.js'
import { setIndexCacheLimit } from './search-index/search-chunks.js'

export interface BuildOptions {
  config: Config
  /** Use this open database instead of opening one from the config. */
  database?: Database
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
}

export async function buildApp (options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options
  setIndexCacheLimit(config.indexCacheBytes)
  const app = Fastify({
    logger: {
      ...loggerOptions(config.logLevel),
      ...(options.logStream === undefined ? {} : { stream: options.logStream })
    },
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    // Unique across processes and restarts (Fastify's default counts from req-1 in each), or the caller's own.
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // The client address the failed-authentication throttle counts by (JACK_TRUST_PROXY).
    trustProxy: config.trustProxy,
    ajv: { customOptions: { strict: false } },
    // Paths the router cannot take apart (bad percent-encoding, a parameter longer than
    // maxParamLength) are malformed path parameters: 422 in the API's error shape, not Fastify's.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.header('x-request-id', request.id).code(422).send({ detail: error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'The URL path is not valid' })
    },
    // Requests Node's HTTP parser refuses (oversized or malformed headers) never reach a
    // route or the error handler: they are answered on the raw socket, in the API's error
    // shape rather than Fastify's, and the connection is closed as the parser cannot go on.
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) {
        socket.destroy()
        return
      }
      const refusals: Record<string, [number, string, string]> = {
        HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'Request header fields are too large'],
        HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'Request chunk extensions are too large'],
        ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'Request timed out']
      }
      const [status, reason, detail] = refusals[error.code] ?? [400, 'Bad Request', 'Malformed HTTP request']
      // As Node's own handler does: never write into a response already under way on this socket.
      const inFlight = (socket as typeof socket & { _httpMessage?: { headersSent: boolean } })._httpMessage
      if (socket.writable && inFlight?.headersSent !== true) {
        const body = JSON.stringify({ detail })
        socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      }
      socket.destroy()
    }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // First of all hooks, so every answer carries it: refusals by auth and rate limit, 404s and errors included.
  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })
  await app.register(configPlugin, { config })
  await app.register(dbPlugin, { database: options.database })
  await app.register(shutdownPlugin)
  await app.register(validationPlugin)
  await app.register(errorsPlugin)
  await app.register(openapiPlugin)
  await app.register(authPlugin)
  await app.register(rateLimitPlugin)
  await app.register(workerPlugin)

  await app.register(healthRoutes)
  await app.register(async (v1) => {
    v1.addHook('onRequest', v1.auth([v1.verifyApiKey]))
    // After authentication (it counts per organisation), still before the body is read.
    v1.addHook('onRequest', v1.enforceRateLimit)
    await v1.register(keysRoutes)
    await v1.register(ingestRoutes)
    await v1.register(documentsRoutes)
    await v1.register(queryRoutes)
  }, { prefix: '/v1' })

  return app
}
