// Tells an unreachable or exhausted database apart from a bug: the first is a 503 and costs no document an attempt, the second a 500.
const CONNECTION_CODES = new Set([
  // Node's socket errors, as postgres.js passes them on.
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  // postgres.js's own: the connect timeout, a connection lost mid-query, a pool closed by shutdown.
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED',
  // A full disk under PGlite surfaces as the file system's error.
  'ENOSPC', 'EDQUOT'
])

// SQLSTATEs of a server that cannot serve now but may soon, whatever was asked of it.
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '57014', // query_canceled: jack cancels only through statement_timeout, a sign of overload
  '58030' // io_error
])

// Classes: 08 connection exception, 53 insufficient resources (disk full, out of memory, too many connections).
const UNAVAILABLE_CLASSES = ['08', '53']

function codeOf (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The error and its causes, outermost first (Drizzle wraps the driver's error as `cause`). */
export function * causeChain (error: unknown): Generator<unknown> {
  const seen = new Set<unknown>()
  let current = error
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current)
    yield current
    current = (current as { cause?: unknown }).cause
  }
}

/** The SQLSTATE of a database error anywhere in the chain, if there is one. */
export function sqlStateOf (error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const code = codeOf(link)
    if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

/** Whether the database could not be reached or could not serve: worth retrying later, never the request's or the document's fault. */
export function isDatabaseUnavailable (error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (link instanceof DatabaseUnavailableError) return true
    // PGlite's only word for a closed database (shutdown under way): no code to go by.
    if (link instanceof Error && link.message === 'PGlite is closed') return true
    const code = codeOf(link)
    if (code === undefined) continue
    if (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true
    if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) return true
  }
  return false
}

/** Thrown where jack itself decides the database is out of reach (a ping that timed out). */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError'
}
