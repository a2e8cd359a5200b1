// Turns a schema validation failure into the API's status and a detail that names the field.
import type { FastifySchemaValidationError } from 'fastify'

export interface ValidationProblem {
  status: 400 | 422
  detail: string
}

/** `/documents/0/text` → `documents[0].text`. */
function fieldName (instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (child !== undefined) parts.push(child)
  let name = ''
  for (const part of parts) {
    name += /^\d+$/.test(part) ? `[${part}]` : name === '' ? part : `.${part}`
  }
  return name
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null'
}

function describeType (type: unknown): string {
  const types = Array.isArray(type) ? type : [type]
  return types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(' or ')
}

export function describeValidationError (errors: FastifySchemaValidationError[], context: string | undefined, bodyMissing: boolean): ValidationProblem {
  const error = errors[0]
  const where = context === 'body' || context === undefined ? '' : ` in the ${context === 'querystring' ? 'query string' : context === 'params' ? 'path' : context}`
  if (error === undefined) return { status: 422, detail: 'Request is invalid' }
  if (context === 'body' && bodyMissing) return { status: 400, detail: 'Request body is required' }
  const params = error.params as Record<string, unknown>
  const field = fieldName(error.instancePath)
  const subject = field === '' ? (context === 'body' ? 'request body' : `request ${context ?? ''}`.trim()) : field
  const propertyName = (error as { propertyName?: string }).propertyName
  if (propertyName !== undefined) {
    const shown = propertyName.length > 40 ? `${propertyName.slice(0, 40)}…` : propertyName
    return { status: 422, detail: `${subject} has an invalid key ${JSON.stringify(shown)}: keys ${error.message ?? 'are not allowed'}${where}` }
  }
  switch (error.keyword) {
    case 'required':
      return { status: 400, detail: `field '${fieldName(error.instancePath, String(params.missingProperty))}' is required${where}` }
    case 'type':
      return { status: 422, detail: `${subject} must be ${describeType(params.type)}${where}` }
    case 'minLength':
      return { status: 422, detail: params.limit === 1 ? `${subject} must not be empty${where}` : `${subject} must be at least ${String(params.limit)} characters long${where}` }
    case 'maxLength':
      return { status: 422, detail: `${subject} must be at most ${String(params.limit)} characters long${where}` }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { status: 422, detail: `${subject} must be ${String(params.comparison)} ${String(params.limit)}${where}` }
    case 'minItems':
      if (params.limit === 1) return { status: 422, detail: `${subject} list must not be empty${where}` }
      return { status: 422, detail: `${subject} must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}${where}` }
    case 'maxItems':
      return { status: 422, detail: `${subject} must have at most ${String(params.limit)} items${where}` }
    case 'maxProperties':
      return { status: 422, detail: `${subject} must have at most ${String(params.limit)} keys${where}` }
    case 'format':
      return { status: 422, detail: `${subject} must be a valid ${params.format === 'uuid' ? 'UUID' : String(params.format)}${where}` }
    case 'enum':
      return { status: 422, detail: `${subject} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${where}` }
    case 'additionalProperties':
      return { status: 422, detail: `${subject} has an unknown field '${String(params.additionalProperty)}'${where}` }
    default:
      return { status: 422, detail: `${subject} ${error.message ?? 'is invalid'}${where}` }
  }
}
