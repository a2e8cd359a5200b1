// Errors as log lines may hold them: type, code, SQLSTATE, a capped message and stack frames; never query parameters, row values or document text.
import { causeChain } from '../db/database-errors.js'

/** Driver messages can quote a value (`invalid input syntax for type uuid: "…"`); past this they are cut. */
const MAX_MESSAGE_CHARS = 300
const MAX_QUERY_CHARS = 300
const MAX_STACK_FRAMES = 12
const MAX_CAUSES = 4

export interface LoggedError {
  type: string
  message: string
  code?: string
  stack?: string
  cause?: LoggedError
}

function cut (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
}

/**
 * Drizzle's query errors put every parameter into the message — on a failed
 * ingest, whole documents (one such log line measured 1.68 MB). The SQL text
 * is jack's own and safe to keep; the parameters are the tenant's.
 */
function messageOf (error: Error): string {
  const message = error.message
  if (message.startsWith('Failed query: ')) {
    const query = message.slice('Failed query: '.length).replace(/\nparams: [\s\S]*$/, '')
    return `Failed query: ${cut(query, MAX_QUERY_CHARS)} (parameters withheld)`
  }
  return cut(message, MAX_MESSAGE_CHARS)
}

// Only the frames: a stack's first line repeats the message, parameters and all.
function framesOf (error: Error): string | undefined {
  if (typeof error.stack !== 'string') return undefined
  const frames = error.stack.split('\n').filter((line) => line.startsWith('    at ')).slice(0, MAX_STACK_FRAMES)
  return frames.length === 0 ? undefined : frames.join('\n')
}

function describe (error: unknown): LoggedError {
  if (!(error instanceof Error)) {
    // A plain object already shaped for the log ({ type, message }): its fields, capped like any error's.
    const shaped = (typeof error === 'object' && error !== null ? error : {}) as { type?: unknown, message?: unknown, code?: unknown }
    return {
      type: typeof shaped.type === 'string' ? shaped.type : typeof error,
      message: cut(typeof shaped.message === 'string' ? shaped.message : String(error), MAX_MESSAGE_CHARS),
      ...(typeof shaped.code === 'string' ? { code: shaped.code } : {})
    }
  }
  const code = (error as { code?: unknown }).code
  const stack = framesOf(error)
  return {
    type: error.name === 'Error' ? error.constructor.name : error.name,
    message: messageOf(error),
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    ...(stack === undefined ? {} : { stack })
  }
}

/** pino's `err` serializer for every jack logger: an allow-list of fields, causes included. */
export function serializeError (error: unknown): LoggedError {
  const links = [...causeChain(error)].slice(0, MAX_CAUSES + 1).map(describe)
  const [outermost = describe(error)] = links
  let current = outermost
  for (const link of links.slice(1)) {
    current.cause = link
    current = link
  }
  return outermost
}
