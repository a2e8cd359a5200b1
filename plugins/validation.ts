// Schema validation: JSON bodies are checked strictly (no type coercion, so "6" is not 6); query strings and paths are coerced from text.
import fp from 'fastify-plugin'
import { buildAjv } from '../src/schemas/ajv.js'
import { assertStorableStrings } from '../src/errors/storable-strings.js'
import { BadRequestError } from '../src/errors/http-errors.js'

export default fp(async (app) => {
  const bodyAjv = buildAjv(false)
  const textAjv = buildAjv('array')
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema))
  app.addHook('preValidation', async (request) => { assertStorableStrings(request.body) })

  // JSON bodies must be UTF-8: invalid bytes are refused rather than silently
  // turned into U+FFFD. Parsing itself stays Fastify's (__proto__ and
  // constructor.prototype keys are refused).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  app.removeContentTypeParser('application/json')
  // Every body jack takes is JSON or multipart: a text/plain body is a client mistake (415), not a string to validate.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // Many HTTP clients send Content-Type: application/json on every request, a bodiless DELETE too.
    if ((body as Buffer).length === 0 && request.method === 'DELETE') {
      done(null, undefined)
      return
    }
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch {
      done(new BadRequestError('Request body is not valid UTF-8'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}, { name: 'validation' })
