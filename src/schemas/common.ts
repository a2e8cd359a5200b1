// Schemas shared by every route: the error body, IDs and timestamps.
import { Type, type Static } from 'typebox'

export const ErrorBody = Type.Object({
  detail: Type.String({ description: 'A human-readable message.' })
}, { $id: 'ErrorBody', title: 'Error', additionalProperties: false })

export const Uuid = Type.String({ format: 'uuid' })
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339, UTC, e.g. 2026-06-12T14:24:37Z' })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON, or a required field is missing',
  401: 'Missing or invalid API key',
  403: 'API key has been revoked',
  404: 'Not found in the caller\'s organisation',
  409: 'A request with this Idempotency-Key is still being handled',
  413: 'Body too large',
  415: 'Unsupported media type or file format',
  422: 'A field has the wrong type or is out of range',
  429: 'Rate limit exceeded (with RateLimit-* headers); or, before the key is checked, too many failed or concurrent key checks from this client',
  500: 'Unexpected server error',
  503: 'The database is unavailable (with Retry-After); for /readyz, not ready'
}

type ErrorBodyRef = ReturnType<typeof errorBodyRef>

function errorBodyRef (status: number) {
  return Type.Unsafe<Static<typeof ErrorBody>>(Type.Ref('ErrorBody', { description: ERROR_DESCRIPTIONS[status] ?? 'Error' }))
}

/** Response entries for the given error statuses, each the `{"detail": …}` body. */
export function errorResponses<const Statuses extends readonly number[]> (...statuses: Statuses): { [S in Statuses[number]]: ErrorBodyRef } {
  const responses: Record<number, ErrorBodyRef> = {}
  for (const status of statuses) responses[status] = errorBodyRef(status)
  return responses as { [S in Statuses[number]]: ErrorBodyRef }
}

/** Errors any authenticated JSON route can answer with. */
export const AUTHENTICATED_ERRORS = [400, 401, 403, 413, 415, 422, 429, 500, 503] as const
