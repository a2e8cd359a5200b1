import diagnosticsChannel from 'node:diagnostics_channel'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t, { type Test } from 'tap'
import { checkUrl, fetchUrl, UrlFetchError, UrlRefusedError, type FetchOptions, type ResolvedAddress } from '../../../src/ingest/url/fetch-url.js'

// Every server here listens on loopback, and every host name resolves (through
// an injected lookup) to loopback; nothing in this file leaves the machine.

const MiB = 1024 * 1024
const HTML = '<!doctype html><html><head><title>Refunds</title></head><body><p>Refunds within 30 days.</p></body></html>'
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from([0xe2, 0xe3, 0xcf, 0xd3, 0x00, 0xff]), Buffer.from('\n%%EOF\n')])

interface RecordedRequest {
  path: string
  host: string | undefined
  userAgent: string | undefined
  accept: string | undefined
  acceptEncoding: string | undefined
}

interface LocalServer {
  origin: string
  port: number
  requests: RecordedRequest[]
}

async function startServer (t: Test, handle: (request: http.IncomingMessage, response: http.ServerResponse) => void, host = '127.0.0.1'): Promise<LocalServer> {
  const requests: RecordedRequest[] = []
  const server = http.createServer((request, response) => {
    requests.push({
      path: request.url ?? '',
      host: request.headers.host,
      userAgent: request.headers['user-agent'],
      accept: request.headers.accept,
      acceptEncoding: request.headers['accept-encoding']
    })
    handle(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  return { origin: `http://${host}:${port}`, port, requests }
}

const endless = { written: 0, closed: false }

function route (request: http.IncomingMessage, response: http.ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://server.invalid')
  const hop = /^\/hop\/(\d+)$/.exec(url.pathname)
  if (hop !== null) {
    const remaining = Number(hop[1])
    if (remaining === 0) response.writeHead(200, { 'content-type': 'text/plain' }).end('arrived')
    else response.writeHead(302, { location: `/hop/${remaining - 1}` }).end('moved')
    return
  }
  switch (url.pathname) {
    case '/page.html':
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML)
      return
    case '/doc.pdf':
      response.writeHead(200, { 'content-type': 'application/pdf' }).end(PDF)
      return
    case '/to':
      response.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('location') ?? '/' }).end()
      return
    case '/missing':
      response.writeHead(404, { 'content-type': 'text/plain' }).end('secret internal detail')
      return
    case '/broken':
      response.writeHead(500).end('stack trace')
      return
    case '/redirect-without-location':
      response.writeHead(302).end()
      return
    case '/slow-headers':
      return // never answers; closeAllConnections ends it at teardown
    case '/slow-body':
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.write('the first byte and nothing more')
      return
    case '/sized': {
      const bytes = Buffer.alloc(Number(url.searchParams.get('bytes')), 'x')
      if (url.searchParams.has('chunked')) {
        response.writeHead(200, { 'content-type': 'text/plain' })
        response.write(bytes.subarray(0, 1))
        response.end(bytes.subarray(1))
      } else {
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': bytes.length }).end(bytes)
      }
      return
    }
    case '/declared-large':
      response.writeHead(200, { 'content-type': 'application/pdf', 'content-length': 2 * MiB })
      response.flushHeaders()
      return // the body never comes: reading it would hang until the time limit
    case '/endless': {
      const chunk = Buffer.alloc(64 * 1024, 'x')
      response.writeHead(200, { 'content-type': 'application/octet-stream' })
      response.on('close', () => { endless.closed = true })
      const pump = (): void => {
        while (!response.destroyed && endless.written < 256 * MiB) {
          endless.written += chunk.length
          if (!response.write(chunk)) return
        }
        response.end()
      }
      response.on('drain', pump)
      pump()
      return
    }
    default:
      response.writeHead(404).end()
  }
}

// Records where undici actually connected, so tests can show which address was used.
const connectedTo: string[] = []
const onConnected = (message: unknown): void => {
  const socket = (message as { socket: Socket }).socket
  connectedTo.push(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`)
}
diagnosticsChannel.subscribe('undici:client:connected', onConnected)
t.teardown(() => diagnosticsChannel.unsubscribe('undici:client:connected', onConnected))

const server = await startServer(t, route)
const local: FetchOptions = { allowPrivate: true }

/** A resolver for made-up names; every call is counted. */
function fakeResolver (table: Record<string, string[] | ((call: number) => string[])>): { lookup: (hostname: string) => Promise<ResolvedAddress[]>, calls: string[] } {
  const calls: string[] = []
  const lookup = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname)
    const entry = table[hostname]
    const addresses = typeof entry === 'function' ? entry(calls.filter((name) => name === hostname).length) : entry
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return { lookup, calls }
}

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

t.test('an HTML page comes back with its bytes and content type', async (t) => {
  const before = server.requests.length
  const page = await fetchUrl(`${server.origin}/page.html`, local)
  t.equal(page.url, `${server.origin}/page.html`)
  t.equal(page.status, 200)
  t.equal(page.contentType, 'text/html; charset=utf-8')
  t.ok(page.bytes instanceof Uint8Array)
  t.equal(Buffer.from(page.bytes).toString('utf8'), HTML)
  const sent = server.requests[before]
  t.equal(sent?.userAgent, 'jack/0.1 (+document ingest)')
  t.match(sent?.accept, /text\/html.*application\/pdf/)
  t.equal(sent?.acceptEncoding, 'identity', 'no compression, so maxBytes bounds the document itself')
})

t.test('a PDF comes back byte for byte', async (t) => {
  const page = await fetchUrl(`${server.origin}/doc.pdf`, local)
  t.equal(page.contentType, 'application/pdf')
  t.same(Buffer.from(page.bytes), PDF)
})

t.test('the default resolver is used when no lookup is given', async (t) => {
  const page = await fetchUrl(`http://localhost:${server.port}/page.html`, local)
  t.equal(page.status, 200)
  t.equal(page.url, `http://localhost:${server.port}/page.html`)
})

t.test('redirects are followed up to the limit', async (t) => {
  let before = server.requests.length
  const page = await fetchUrl(`${server.origin}/hop/3`, local)
  t.equal(page.url, `${server.origin}/hop/0`, 'the final URL is reported')
  t.equal(Buffer.from(page.bytes).toString(), 'arrived')
  t.same(server.requests.slice(before).map((request) => request.path), ['/hop/3', '/hop/2', '/hop/1', '/hop/0'])

  t.equal((await fetchUrl(`${server.origin}/hop/5`, local)).url, `${server.origin}/hop/0`, 'exactly 5 redirects are fine')

  before = server.requests.length
  const error = await rejection(fetchUrl(`${server.origin}/hop/6`, local))
  t.ok(error instanceof UrlFetchError)
  t.equal((error as Error).message, 'Too many redirects (more than 5)')
  t.equal(server.requests.length - before, 6, 'the sixth redirect is not followed')

  const none = await rejection(fetchUrl(`${server.origin}/hop/1`, { ...local, maxRedirects: 0 }))
  t.equal((none as Error).message, 'Too many redirects (more than 0)')
})

t.test('relative, absolute-path and 303/307/308 redirects resolve against the current URL', async (t) => {
  for (const [location, status] of [['page.html', 301], ['/page.html', 303], ['./page.html?x=1', 307], [`${server.origin}/page.html`, 308]] as const) {
    const page = await fetchUrl(`${server.origin}/to?status=${status}&location=${encodeURIComponent(location)}`, local)
    t.equal(Buffer.from(page.bytes).toString(), HTML, `${status} ${location}`)
    t.match(page.url, `${server.origin}/page.html`)
  }
})

t.test('each hop is resolved exactly once and connected to at the checked address', async (t) => {
  const resolver = fakeResolver({ 'site.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] })
  const before = server.requests.length
  const connectionsBefore = connectedTo.length
  const page = await fetchUrl(`http://site.test:${server.port}/hop/3`, { ...local, lookup: resolver.lookup })
  t.equal(page.url, `http://site.test:${server.port}/hop/0`)
  t.same(resolver.calls, ['site.test', 'site.test', 'site.test', 'site.test'], 'one lookup per hop, and none by the socket layer')
  t.same(server.requests.slice(before).map((request) => request.host), Array(4).fill(`site.test:${server.port}`), 'the Host header keeps the name')
  t.ok(connectedTo.slice(connectionsBefore).every((address) => address === `127.0.0.1:${server.port}`), 'connected to the checked address')

  const crossHost = fakeResolver({ 'site.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] })
  await fetchUrl(`http://site.test:${server.port}/to?location=${encodeURIComponent(`http://other.test:${server.port}/page.html`)}`, { ...local, lookup: crossHost.lookup })
  t.same(crossHost.calls, ['site.test', 'other.test'])
})

t.test('a resolver that changes its answer after the check is never asked again (DNS rebinding)', async (t) => {
  const inside = await startServer(t, (_request, response) => { response.end('inside') }, '127.0.0.2')
  // 127.0.0.1 stands in for a public address here; 127.0.0.2 for a private one.
  const onlyFirstLoopback = (ip: string): boolean => ip !== '127.0.0.1'
  const resolver = fakeResolver({ 'rebind.test': (call) => call === 1 ? ['127.0.0.1'] : ['127.0.0.2'] })
  const page = await fetchUrl(`http://rebind.test:${server.port}/page.html`, { allowPrivate: false, addressPolicy: onlyFirstLoopback, lookup: resolver.lookup })
  t.equal(Buffer.from(page.bytes).toString(), HTML)
  t.same(resolver.calls, ['rebind.test'])
  t.equal(inside.requests.length, 0)
})

t.test('a redirect to a forbidden address fails without connecting to it', async (t) => {
  const inside = await startServer(t, (_request, response) => { response.end('inside') }, '127.0.0.2')
  const onlyFirstLoopback = (ip: string): boolean => ip !== '127.0.0.1'
  const resolver = fakeResolver({ 'public.test': ['127.0.0.1'], 'internal.test': ['127.0.0.2'] })
  const options: FetchOptions = { allowPrivate: false, addressPolicy: onlyFirstLoopback, lookup: resolver.lookup }
  const connectionsBefore = connectedTo.length
  const error = await rejection(fetchUrl(`http://public.test:${server.port}/to?location=${encodeURIComponent(`http://internal.test:${inside.port}/`)}`, options))
  t.ok(error instanceof UrlFetchError, 'discovered while fetching, so the document fails')
  t.equal((error as Error).message, 'Redirect was refused: URL host internal.test resolves to a forbidden address (private, loopback, link-local, reserved or cloud metadata)')
  t.same(resolver.calls, ['public.test', 'internal.test'])
  t.equal(inside.requests.length, 0, 'the forbidden server received nothing')
  t.same(connectedTo.slice(connectionsBefore), [`127.0.0.1:${server.port}`], 'the only connection was the first hop')

  const literal = await rejection(fetchUrl(`http://public.test:${server.port}/to?location=${encodeURIComponent(`http://127.0.0.2:${inside.port}/`)}`, options))
  t.match((literal as Error).message, /^Redirect was refused: URL host 127\.0\.0\.2 is a forbidden address/)
  t.equal(inside.requests.length, 0)
})

t.test('a redirect to a host resolving to 10.0.0.1 or to cloud metadata is refused before any connection', async (t) => {
  const resolver = fakeResolver({ 'public.test': ['127.0.0.1'], 'intranet.test': ['10.0.0.1'] })
  const options: FetchOptions = { allowPrivate: false, addressPolicy: (ip) => ip !== '127.0.0.1' && ip !== '8.8.8.8', lookup: resolver.lookup }
  const targets = ['http://intranet.test/', 'http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:a9fe:a9fe]/']
  for (const target of targets) {
    // The redirect check is the same code as checkUrl; were it to let a target
    // through, stop here rather than send a packet off this machine.
    const precheck = await rejection(checkUrl(target, options))
    if (!t.ok(precheck instanceof UrlRefusedError, `checkUrl refuses ${target}`)) continue
    const connectionsBefore = connectedTo.length
    const error = await rejection(fetchUrl(`http://public.test:${server.port}/to?location=${encodeURIComponent(target)}`, options))
    t.ok(error instanceof UrlFetchError, target)
    t.match((error as Error).message, /^Redirect was refused: URL host \S+ (is|resolves to) a forbidden address/)
    t.same(connectedTo.slice(connectionsBefore), [`127.0.0.1:${server.port}`], 'only the first hop was connected')
  }
  t.same(resolver.calls.filter((name) => name === 'intranet.test'), ['intranet.test', 'intranet.test'], 'resolved by checkUrl and by the redirect check, never by a socket')
})

t.test('cloud metadata stays refused even when private addresses are allowed', async (t) => {
  const resolver = fakeResolver({ 'metadata.test': ['169.254.169.254'] })
  for (const target of ['http://169.254.169.254/latest/meta-data', 'http://[fd00:ec2::254]/', 'http://100.100.100.200/', 'http://metadata.test/']) {
    const error = await rejection(checkUrl(target, { ...local, lookup: resolver.lookup }))
    t.ok(error instanceof UrlRefusedError, target)
  }
  if (!t.ok((await rejection(checkUrl('http://169.254.169.254/', local))) instanceof UrlRefusedError, 'checked before fetching')) return
  const connectionsBefore = connectedTo.length
  const redirect = await rejection(fetchUrl(`${server.origin}/to?location=${encodeURIComponent('http://169.254.169.254/latest/meta-data')}`, local))
  t.match((redirect as Error).message, /^Redirect was refused: URL host 169\.254\.169\.254 is a forbidden address/)
  t.equal(connectedTo.length - connectionsBefore, 1)
})

t.test('redirects to other schemes or with credentials are refused', async (t) => {
  const ftp = await rejection(fetchUrl(`${server.origin}/to?location=${encodeURIComponent('ftp://files.example/doc.pdf')}`, local))
  t.ok(ftp instanceof UrlFetchError)
  t.equal((ftp as Error).message, 'Redirect was refused: Only http and https URLs can be fetched, not ftp:')
  const file = await rejection(fetchUrl(`${server.origin}/to?location=${encodeURIComponent('file:///etc/passwd')}`, local))
  t.equal((file as Error).message, 'Redirect was refused: Only http and https URLs can be fetched, not file:')
  const credentials = await rejection(fetchUrl(`${server.origin}/to?location=${encodeURIComponent(`http://user:pass@127.0.0.1:${server.port}/page.html`)}`, local))
  t.equal((credentials as Error).message, 'Redirect was refused: URLs containing a username or password are not accepted')
})

t.test('a final status outside 2xx fails with the status and nothing from the body', async (t) => {
  for (const [path, status] of [['/missing', 404], ['/broken', 500], ['/redirect-without-location', 302]] as const) {
    const error = await rejection(fetchUrl(`${server.origin}${path}`, local))
    t.ok(error instanceof UrlFetchError, path)
    t.equal((error as Error).message, `URL returned HTTP ${status}`)
  }
})

t.test('the time limit covers waiting for headers and for the body', async (t) => {
  for (const path of ['/slow-headers', '/slow-body']) {
    const started = Date.now()
    const error = await rejection(fetchUrl(`${server.origin}${path}`, { ...local, timeoutMs: 300 }))
    t.ok(error instanceof UrlFetchError, path)
    t.equal((error as Error).message, 'URL did not answer within 300 ms')
    t.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`)
  }
})

t.test('the default limits read as the issue states them', async (t) => {
  const error = await rejection(fetchUrl(`${server.origin}/slow-headers`, { ...local, timeoutMs: 1000 }))
  t.equal((error as Error).message, 'URL did not answer within 1 s')
})

t.test('an endless body is cut off just past maxBytes and the connection closed', async (t) => {
  endless.written = 0
  endless.closed = false
  const error = await rejection(fetchUrl(`${server.origin}/endless`, { ...local, maxBytes: MiB }))
  t.ok(error instanceof UrlFetchError)
  t.equal((error as Error).message, 'URL response is larger than 1 MB')
  const deadline = Date.now() + 3000
  while (!endless.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(endless.closed, 'the server saw the connection close')
  t.ok(endless.written < 32 * MiB, `the server wrote ${(endless.written / MiB).toFixed(1)} MiB before the abort (it would write 256)`)
})

t.test('a declared Content-Length over maxBytes fails before reading the body', async (t) => {
  const started = Date.now()
  const error = await rejection(fetchUrl(`${server.origin}/declared-large`, { ...local, maxBytes: MiB, timeoutMs: 10_000 }))
  t.ok(error instanceof UrlFetchError)
  t.equal((error as Error).message, 'URL response is larger than 1 MB')
  t.ok(Date.now() - started < 2000, 'did not wait for a body that never comes')
})

t.test('a body of exactly maxBytes is accepted, one byte more is not', async (t) => {
  for (const mode of ['', '&chunked']) {
    t.equal((await fetchUrl(`${server.origin}/sized?bytes=1000${mode}`, { ...local, maxBytes: 1000 })).bytes.length, 1000, `1000 bytes${mode}`)
    const error = await rejection(fetchUrl(`${server.origin}/sized?bytes=1001${mode}`, { ...local, maxBytes: 1000 }))
    t.equal((error as Error).message, 'URL response is larger than 1000 bytes', `1001 bytes${mode}`)
  }
})

t.test('network failures become short messages', async (t) => {
  const closed = http.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise((resolve) => closed.close(resolve))
  const refused = await rejection(fetchUrl(`http://127.0.0.1:${port}/`, local))
  t.ok(refused instanceof UrlFetchError)
  t.equal((refused as Error).message, `Connection to 127.0.0.1:${port} was refused`)

  const resolver = fakeResolver({ 'empty.test': [] })
  for (const host of ['nowhere.invalid', 'empty.test']) {
    const fetchError = await rejection(fetchUrl(`http://${host}/`, { ...local, lookup: resolver.lookup }))
    t.ok(fetchError instanceof UrlFetchError, 'at fetch time a failed lookup fails the document')
    t.equal((fetchError as Error).message, `Could not resolve host ${host}`)
    const checkError = await rejection(checkUrl(`http://${host}/`, { ...local, lookup: resolver.lookup }))
    t.ok(checkError instanceof UrlRefusedError, 'at request time it is a 422')
    t.equal((checkError as Error).message, `Could not resolve host ${host}`)
  }
})

t.test('the caller can abort a fetch', async (t) => {
  const controller = new AbortController()
  const reason = new Error('shutting down')
  setTimeout(() => controller.abort(reason), 100)
  const error = await rejection(fetchUrl(`${server.origin}/slow-headers`, { ...local, signal: controller.signal }))
  t.equal(error, reason, 'rejected with the caller\'s own reason')
  t.equal(await rejection(fetchUrl(`${server.origin}/page.html`, { ...local, signal: controller.signal })), reason, 'an aborted signal stops it at once')
})

t.test('the bytes own their memory', async (t) => {
  const page = await fetchUrl(`${server.origin}/page.html`, local)
  t.equal(page.bytes.byteOffset, 0)
  t.equal(page.bytes.buffer.byteLength, page.bytes.length, 'not a view into Node\'s shared buffer pool, so transferring it is safe')
})
