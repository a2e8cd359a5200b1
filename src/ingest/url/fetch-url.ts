// Fetches a URL given for ingest: http(s) only, checked addresses only, bounded in time, size and redirects.
import { lookup as lookupHost } from 'node:dns/promises'
import { request, type Dispatcher } from 'undici'
import { isCloudMetadataAddress, isForbiddenAddress } from './address-policy.js'
import { BLOCKED_PORTS } from './blocked-ports.js'
import { parseIp } from './ip-address.js'
import { createPinnedAgent, type ResolvedAddress } from './pinned-agent.js'

export type { ResolvedAddress }

/** The URL itself is not allowed (scheme, credentials, port, forbidden address, unresolvable host): the API answers 422 with this message. */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError'
}

/** Fetching failed: the document ends `failed` with this message, which is safe to show to the caller. */
export class UrlFetchError extends Error {
  override name = 'UrlFetchError'
}

export interface FetchOptions {
  /** JACK_URL_ALLOW_PRIVATE: lifts the address rule, except for cloud metadata addresses, which stay refused. */
  allowPrivate: boolean
  /** The whole fetch, DNS and redirects included. Default 15000. */
  timeoutMs?: number
  /** Largest body accepted. Default 20 MiB. */
  maxBytes?: number
  /** Default 5. */
  maxRedirects?: number
  /** Resolves a host name to every address it has. Default: the system resolver (node:dns lookup, all: true). */
  lookup?: (hostname: string) => Promise<ResolvedAddress[]>
  /** Replaces isForbiddenAddress when allowPrivate is false; for tests that need loopback to count as "public". */
  addressPolicy?: (ip: string) => boolean
  /** Aborting it rejects the fetch with the signal's reason. */
  signal?: AbortSignal
}

export interface FetchedPage {
  /** The final URL, after redirects. */
  url: string
  status: number
  contentType: string | null
  bytes: Uint8Array
}

const DEFAULT_TIMEOUT_MS = 15_000
const DEFAULT_MAX_BYTES = 20 * 1024 * 1024
const DEFAULT_MAX_REDIRECTS = 5
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const FORBIDDEN_KINDS = 'private, loopback, link-local, reserved or cloud metadata'
const REQUEST_HEADERS = {
  'user-agent': 'jack/0.1 (+document ingest)',
  accept: 'text/html,application/xhtml+xml,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/markdown,text/plain;q=0.9,*/*;q=0.5',
  // No compression: maxBytes then bounds what is decoded, and there is no decompression bomb to defuse.
  'accept-encoding': 'identity'
}

async function lookupAll (hostname: string): Promise<ResolvedAddress[]> {
  const answers = await lookupHost(hostname, { all: true })
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }))
}

/** Host names and schemes come from callers and remote servers: keep them short in messages. */
function shorten (text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text
}

function formatDuration (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

function formatSize (bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`
  if (bytes % 1024 === 0) return `${bytes / 1024} KB`
  return `${bytes} bytes`
}

/** Checks what can be checked without DNS. */
function parseTarget (input: string, base?: URL): URL {
  let url: URL
  try {
    url = new URL(input, base)
  } catch {
    throw new UrlRefusedError('URL is not a valid absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlRefusedError(`Only http and https URLs can be fetched, not ${shorten(url.protocol)}`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new UrlRefusedError('URLs containing a username or password are not accepted')
  }
  if (url.port !== '' && BLOCKED_PORTS.has(Number(url.port))) {
    throw new UrlRefusedError(`Port ${url.port} is not allowed`)
  }
  return url
}

function isRefusedAddress (ip: string, options: FetchOptions): boolean {
  if (parseIp(ip) === undefined || isCloudMetadataAddress(ip)) return true
  if (options.allowPrivate) return false
  return (options.addressPolicy ?? isForbiddenAddress)(ip)
}

async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** Every address the host stands for, each of them allowed; a single forbidden one refuses the host. */
async function resolveAddresses (url: URL, options: FetchOptions, signal: AbortSignal): Promise<ResolvedAddress[]> {
  const host = url.hostname
  const literal = parseIp(host)
  if (literal !== undefined) {
    const address = literal.version === 6 ? host.slice(1, -1) : host
    if (isRefusedAddress(address, options)) {
      throw new UrlRefusedError(`URL host ${shorten(host)} is a forbidden address (${FORBIDDEN_KINDS})`)
    }
    return [{ address, family: literal.version }]
  }
  let answers: ResolvedAddress[]
  try {
    answers = await untilAborted((options.lookup ?? lookupAll)(host), signal)
  } catch (error) {
    if (signal.aborted) throw error
    answers = []
  }
  if (answers.length === 0) throw new UrlFetchError(`Could not resolve host ${shorten(host)}`)
  const addresses: ResolvedAddress[] = []
  for (const answer of answers) {
    if (isRefusedAddress(answer.address, options)) {
      throw new UrlRefusedError(`URL host ${shorten(host)} resolves to a forbidden address (${FORBIDDEN_KINDS})`)
    }
    // The family comes from the address itself, not from what the resolver claims.
    addresses.push({ address: answer.address, family: parseIp(answer.address)?.version ?? answer.family })
  }
  return addresses
}

interface Deadline {
  signal: AbortSignal
  stop: () => void
}

/** One signal for the whole fetch: the time limit (reason: a UrlFetchError) or the caller's abort (reason: theirs). */
function startDeadline (options: FetchOptions): Deadline {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new UrlFetchError(`URL did not answer within ${formatDuration(timeoutMs)}`)), timeoutMs)
  const caller = options.signal
  const onCallerAbort = (): void => controller.abort(caller?.reason)
  if (caller?.aborted === true) onCallerAbort()
  else caller?.addEventListener('abort', onCallerAbort, { once: true })
  return {
    signal: controller.signal,
    stop: () => {
      clearTimeout(timer)
      caller?.removeEventListener('abort', onCallerAbort)
    }
  }
}

/**
 * Validates the URL's form and resolves and checks its host, without sending
 * a request: the fast 422 at request time. The fetch checks again, since DNS
 * may answer differently by then.
 */
export async function checkUrl (url: string, options: FetchOptions): Promise<URL> {
  const target = parseTarget(url)
  const deadline = startDeadline(options)
  try {
    await resolveAddresses(target, options, deadline.signal)
  } catch (error) {
    throw error instanceof UrlFetchError ? new UrlRefusedError(error.message) : error
  } finally {
    deadline.stop()
  }
  return target
}

/**
 * A redirect is checked like the URL given, but its refusal is a fetch
 * failure: it is only discovered while fetching, after the request was
 * accepted. https → http is refused: the caller asked for an authenticated
 * source, and a downgrade would let anyone on the path rewrite the document.
 */
function redirectTarget (current: URL, location: string): URL {
  let next: URL
  try {
    next = parseTarget(location, current)
  } catch (error) {
    throw error instanceof UrlRefusedError ? new UrlFetchError(`Redirect was refused: ${error.message}`) : error
  }
  if (current.protocol === 'https:' && next.protocol === 'http:') {
    throw new UrlFetchError('Redirect from https to http was refused')
  }
  return next
}

async function resolveRedirectAddresses (url: URL, options: FetchOptions, signal: AbortSignal): Promise<ResolvedAddress[]> {
  try {
    return await resolveAddresses(url, options, signal)
  } catch (error) {
    throw error instanceof UrlRefusedError ? new UrlFetchError(`Redirect was refused: ${error.message}`) : error
  }
}

/** Drops a body unread; undici reports the abort as an 'error' nobody needs to hear. */
function discard (body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {})
  body.destroy()
}

function firstHeader (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

async function readBody (body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length
    // Leaving the loop destroys the stream, which closes the connection at once.
    if (total > maxBytes) throw new UrlFetchError(`URL response is larger than ${formatSize(maxBytes)}`)
    chunks.push(chunk)
  }
  // A fresh buffer, not Buffer.concat: small results of that share Node's
  // buffer pool, which a parser that transfers its input (pdf.js) would detach.
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

function errorCode (error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && /^[A-Z0-9_]{1,60}$/.test(code)) return code
  const nested = (error as { errors?: unknown }).errors ?? [(error as { cause?: unknown }).cause]
  return Array.isArray(nested) ? nested.map(errorCode).find((found) => found !== undefined) : undefined
}

/** A short message from a network failure: the error code at most, never internal error text. */
function describeFailure (error: unknown, url: URL): UrlFetchError {
  const host = shorten(url.host)
  const code = errorCode(error)
  switch (code) {
    case 'ECONNREFUSED':
      return new UrlFetchError(`Connection to ${host} was refused`)
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return new UrlFetchError(`Connection to ${host} was closed unexpectedly`)
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new UrlFetchError(`Could not connect to ${host}`)
  }
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ALTNAME/.test(code)) {
    return new UrlFetchError(`TLS connection to ${host} failed (${code})`)
  }
  if (code?.startsWith('HPE_') === true) return new UrlFetchError(`${host} sent an invalid HTTP response`)
  return new UrlFetchError(code === undefined ? `Could not fetch from ${host}` : `Could not fetch from ${host} (${code})`)
}

/**
 * Fetches the URL with GET, following up to maxRedirects redirects. Every hop
 * is resolved once, checked, and connected to at exactly the checked
 * addresses. Resolves only with a 2xx response whose body fits maxBytes.
 */
export async function fetchUrl (url: string, options: FetchOptions): Promise<FetchedPage> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS
  let target = parseTarget(url)
  const deadline = startDeadline(options)
  const pinned = new Map<string, ResolvedAddress[]>()
  const agent = createPinnedAgent(pinned)
  try {
    for (let redirects = 0; ; redirects++) {
      const addresses = redirects === 0
        ? await resolveAddresses(target, options, deadline.signal)
        : await resolveRedirectAddresses(target, options, deadline.signal)
      pinned.set(target.hostname, addresses)
      const response = await request(target, { dispatcher: agent, method: 'GET', headers: REQUEST_HEADERS, signal: deadline.signal })
      const location = firstHeader(response.headers.location)
      if (REDIRECT_STATUSES.has(response.statusCode) && location !== undefined) {
        await response.body.dump()
        if (redirects >= maxRedirects) throw new UrlFetchError(`Too many redirects (more than ${maxRedirects})`)
        target = redirectTarget(target, location)
        continue
      }
      if (response.statusCode < 200 || response.statusCode > 299) {
        discard(response.body)
        throw new UrlFetchError(`URL returned HTTP ${response.statusCode}`)
      }
      const declaredLength = firstHeader(response.headers['content-length'])
      if (declaredLength !== undefined && /^\d+$/.test(declaredLength) && Number(declaredLength) > maxBytes) {
        discard(response.body)
        throw new UrlFetchError(`URL response is larger than ${formatSize(maxBytes)}`)
      }
      const bytes = await readBody(response.body, maxBytes)
      return { url: target.href, status: response.statusCode, contentType: firstHeader(response.headers['content-type']) ?? null, bytes }
    }
  } catch (error) {
    if (error instanceof UrlRefusedError || error instanceof UrlFetchError) throw error
    if (deadline.signal.aborted) throw deadline.signal.reason
    throw describeFailure(error, target)
  } finally {
    deadline.stop()
    await agent.destroy()
  }
}
