// The errors domain code throws; the errors plugin turns each into its status and {"detail": message}.
import createError from '@fastify/error'

export const NotFoundError = createError('JACK_NOT_FOUND', '%s', 404)
export const InvalidCredentialsError = createError('JACK_UNAUTHORIZED', 'Invalid authentication credentials', 401)
export const RevokedKeyError = createError('JACK_REVOKED', 'API key has been revoked', 403)
export const UnprocessableError = createError('JACK_UNPROCESSABLE', '%s', 422)
export const BadRequestError = createError('JACK_BAD_REQUEST', '%s', 400)
export const ConflictError = createError('JACK_CONFLICT', '%s', 409)
// 429s: the caller sets Retry-After on the reply before throwing these.
export const RateLimitExceededError = createError('JACK_RATE_LIMITED', 'Rate limit exceeded', 429)
export const AuthFailuresThrottledError = createError('JACK_AUTH_THROTTLED', 'Too many failed authentication attempts', 429)
export const AuthBusyError = createError('JACK_AUTH_BUSY', 'Too many authentication attempts in progress; retry shortly', 429)
// 503s: the errors plugin answers these for any error whose cause is an unreachable database, with Retry-After.
export const DatabaseUnavailableHttpError = createError('JACK_DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly', 503)
/** Seconds a client is told to wait after a 503. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5
