// Schema validation: JSON bodies are checked strictly (no type coercion, so "6" is not 6); query strings and paths are coerced from text.
import fp from 'fastify-plugin'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { assertNoNulCharacters } from '../src/errors/nul-characters.js'

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

function buildAjv (coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: true, allErrors: false, strict: false })
  addFormats(ajv)
  return ajv
}

export default fp(async (app) => {
  const bodyAjv = buildAjv(false)
  const textAjv = buildAjv('array')
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema))
  app.addHook('preValidation', async (request) => { assertNoNulCharacters(request.body) })
}, { name: 'validation' })
