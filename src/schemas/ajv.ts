// The JSON Schema validator jack uses for request parts, shared by the route validation plugin and multipart form fields.
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** `coerceTypes: false` for JSON bodies (so "6" is not 6); 'array' for text from query strings and paths. */
export function buildAjv (coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: true, allErrors: false, strict: false })
  addFormats(ajv)
  // ajv-formats also accepts "urn:uuid:…", which PostgreSQL's uuid type refuses (a 500 from the query).
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  return ajv
}
