// Validates real responses against the committed openapi.yaml, so the published spec cannot drift from behaviour.
import fs from 'node:fs'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import YAML from 'yaml'
import { packageRoot } from '../../src/package-root.js'
import { parseSse } from './sse.js'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
interface Spec {
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, unknown> }
}

export const specPath = path.join(packageRoot, 'openapi.yaml')
const spec = YAML.parse(fs.readFileSync(specPath, 'utf8')) as Spec

const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
// Component schemas are referenced as #/components/schemas/<name>; give the
// validator the whole document under one id so those references resolve.
ajv.addSchema({ ...spec, $id: 'openapi.json' } as object)

const routes = Object.keys(spec.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
}))

export function findSpecPath (url: string): string | undefined {
  const pathname = new URL(url, 'http://localhost').pathname
  return routes.find((route) => route.pattern.test(pathname))?.template
}

export interface SpecCheck {
  ok: boolean
  problem?: string
}

/** Checks a response's status and body against the spec's description of that operation. */
export function checkAgainstSpec (method: string, url: string, status: number, contentType: string | undefined, body: string): SpecCheck {
  const template = findSpecPath(url)
  if (template === undefined) return { ok: true } // unknown route: a 404 the spec need not list
  const operation = spec.paths[template]?.[method.toLowerCase()]
  if (operation === undefined) return { ok: true }
  const response = operation.responses?.[String(status)]
  if (response === undefined) return { ok: false, problem: `${method} ${template} answered ${status}, which the spec does not list` }
  if (response.content === undefined) return body === '' ? { ok: true } : { ok: false, problem: `${method} ${template} ${status} has a body the spec does not describe` }
  const mediaType = (contentType ?? '').split(';')[0]?.trim() ?? ''
  const media = response.content[mediaType]
  if (media === undefined) return { ok: false, problem: `${method} ${template} ${status} sent ${mediaType}, the spec lists ${Object.keys(response.content).join(', ')}` }
  if (mediaType === 'text/event-stream') return checkEvents(method, template, body)
  if (mediaType !== 'application/json' || media.schema === undefined) return { ok: true }
  const pointer = `/paths/${template.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`
  const validate = ajv.getSchema(`openapi.json#${pointer}`)
  if (validate === undefined) return { ok: false, problem: `no schema at ${pointer}` }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { ok: false, problem: `${method} ${template} ${status} body is not JSON` }
  }
  if (validate(parsed) !== true) return { ok: false, problem: `${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}` }
  return { ok: true }
}

// The data schema of each event of /v1/query/stream, by event name: the components the operation's description names.
const EVENT_SCHEMAS: Record<string, string> = {
  citations: 'StreamCitationsEvent',
  token: 'StreamTokenEvent',
  done: 'QueryResponse',
  error: 'ErrorBody'
}

/** Every event is one the spec names, its data valid JSON of that event's schema; the stream ends with done or error. */
function checkEvents (method: string, template: string, body: string): SpecCheck {
  const events = parseSse(body)
  for (const [index, event] of events.entries()) {
    const name = EVENT_SCHEMAS[event.event]
    if (name === undefined) return { ok: false, problem: `${method} ${template} sent an event "${event.event}" the spec does not name` }
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${name}`)
    if (validate === undefined) return { ok: false, problem: `openapi.yaml has no component ${name}` }
    let parsed: unknown
    try {
      parsed = JSON.parse(event.data)
    } catch {
      return { ok: false, problem: `${method} ${template} event ${index} (${event.event}) data is not JSON` }
    }
    if (validate(parsed) !== true) return { ok: false, problem: `${method} ${template} event ${index} (${event.event}): ${ajv.errorsText(validate.errors)}` }
  }
  const last = events.at(-1)?.event
  if (last !== 'done' && last !== 'error') return { ok: false, problem: `${method} ${template} stream ended with ${last ?? 'no event'}, not done or error` }
  return { ok: true }
}
