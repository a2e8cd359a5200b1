// One error handler and one not-found handler: every error leaves as {"detail": …}; 5xx causes go to the log only.
import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { describeValidationError } from '../src/errors/validation-detail.js'
import { DatabaseUnavailableHttpError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../src/errors/http-errors.js'
import { isDatabaseUnavailable, sqlStateOf } from '../src/db/database-errors.js'

const FRAMEWORK_DETAILS: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body is required',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type; send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Request body does not match its Content-Length',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Malformed JSON in request body',
  FST_REQ_FILE_TOO_LARGE: 'File is larger than the 100 MB limit',
  FST_FILES_LIMIT: 'Send one file per request',
  FST_PARTS_LIMIT: 'Too many parts in the multipart body',
  FST_FIELDS_LIMIT: 'Too many form fields',
  FST_PROTO_VIOLATION: 'Malformed multipart body',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'Send the file as multipart/form-data with a "file" part'
}

// Statuses the framework may pick that the API does not use, and the API's status for them.
const STATUS_FOR_API: Record<number, number> = { 406: 415 }

export default fp(async (app) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation !== undefined) {
      const problem = describeValidationError(error.validation, error.validationContext, request.body === undefined || request.body === null)
      return reply.code(problem.status).send({ detail: problem.detail })
    }
    if (isDatabaseUnavailable(error)) {
      // Expected in an outage and already visible in /readyz: a warning, not an error per request.
      request.log.warn({ err: error, sqlstate: sqlStateOf(error) }, 'request failed: the database is unavailable')
      const unavailable = new DatabaseUnavailableHttpError()
      return reply.code(unavailable.statusCode).header('retry-after', UNAVAILABLE_RETRY_AFTER_SECONDS).send({ detail: unavailable.message })
    }
    const status = STATUS_FOR_API[error.statusCode ?? 500] ?? error.statusCode ?? 500
    if (status >= 500 || status < 400) {
      request.log.error({ err: error, sqlstate: sqlStateOf(error) }, 'request failed')
      return reply.code(500).send({ detail: 'Internal server error' })
    }
    let detail: string
    if (error.code?.startsWith('JACK_') === true) detail = error.message
    else if (error.code !== undefined && error.code in FRAMEWORK_DETAILS) detail = FRAMEWORK_DETAILS[error.code] as string
    else if (status === 413) detail = `Request body is larger than the limit of ${app.config.bodyLimitBytes} bytes`
    else if (error instanceof SyntaxError || status === 400) detail = 'Malformed JSON in request body'
    else detail = error.message
    if (status === 401) reply.header('www-authenticate', 'Bearer')
    return reply.code(status).send({ detail })
  })

  app.setNotFoundHandler((_request, reply) => {
    return reply.code(404).send({ detail: 'Not Found' })
  })
}, { name: 'errors', dependencies: ['config'] })
