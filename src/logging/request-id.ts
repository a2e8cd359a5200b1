// The ID a request is known by in logs and in its X-Request-Id response header: the caller's own when it is well formed, else a fresh UUID.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/**
 * What an incoming ID may look like: short, and characters that cannot break a
 * log line, a header or a query (UUIDs, ULIDs, trace IDs, "req-123"…). Anything
 * else is replaced rather than cleaned, so a client never sees its value altered.
 */
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/

export function requestIdOf (request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && WELL_FORMED.test(incoming) ? incoming : randomUUID()
}
