import diagnosticsChannel from 'node:diagnostics_channel'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { checkUrl, fetchUrl, UrlRefusedError, type FetchOptions, type ResolvedAddress } from '../../../src/ingest/url/fetch-url.js'

// Refusals with the real address policy (allowPrivate false). A refused URL
// must be refused before any connection: undici's beforeConnect channel is
// watched for the whole file, and the local server must see no request.

let connectAttempts = 0
const onBeforeConnect = (): void => { connectAttempts++ }
diagnosticsChannel.subscribe('undici:client:beforeConnect', onBeforeConnect)
t.teardown(() => diagnosticsChannel.unsubscribe('undici:client:beforeConnect', onBeforeConnect))

let received = 0
const server = http.createServer((_request, response) => {
  received++
  response.end('should never be reached')
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(async () => await new Promise((resolve) => server.close(resolve)))
const { port } = server.address() as AddressInfo

const lookups: string[] = []
const NAMES: Record<string, string[]> = {
  'loopback.test': ['127.0.0.1'],
  'intranet.test': ['10.0.0.1'],
  'mixed.test': ['127.0.0.1', '93.184.215.14'],
  'mixed-public-first.test': ['93.184.215.14', '10.0.0.1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'ula.test': ['fd12:3456::1'],
  'public.test': ['93.184.215.14']
}
async function lookup (hostname: string): Promise<ResolvedAddress[]> {
  lookups.push(hostname)
  const addresses = NAMES[hostname]
  if (addresses === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
}
const strict: FetchOptions = { allowPrivate: false, lookup }

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  return undefined
}

const FORBIDDEN_HOST = '(private, loopback, link-local, reserved or cloud metadata)'

// [url, expected message, whether fetchUrl may run it too]. fetchUrl only runs
// where even a broken check could reach nothing but this machine.
const REFUSED: Array<[string, string | RegExp, boolean]> = [
  [`http://127.0.0.1:${port}/`, `URL host 127.0.0.1 is a forbidden address ${FORBIDDEN_HOST}`, true],
  [`http://127.9.9.9:${port}/`, /is a forbidden address/, true],
  ['http://10.0.0.1/', `URL host 10.0.0.1 is a forbidden address ${FORBIDDEN_HOST}`, false],
  ['http://192.168.1.1/', /is a forbidden address/, false],
  ['http://100.64.0.1/', /is a forbidden address/, false],
  ['http://169.254.169.254/latest/meta-data', `URL host 169.254.169.254 is a forbidden address ${FORBIDDEN_HOST}`, false],
  ['http://[fd00:ec2::254]/latest/meta-data', /is a forbidden address/, false],
  [`http://[::1]:${port}/`, `URL host [::1] is a forbidden address ${FORBIDDEN_HOST}`, true],
  [`http://[::ffff:127.0.0.1]:${port}/`, `URL host [::ffff:7f00:1] is a forbidden address ${FORBIDDEN_HOST}`, true],
  [`http://[::ffff:7f00:1]:${port}/`, /is a forbidden address/, true],
  [`http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/`, /is a forbidden address/, true],
  [`http://2130706433:${port}/`, `URL host 127.0.0.1 is a forbidden address ${FORBIDDEN_HOST}`, true],
  [`http://0x7f.1:${port}/`, /^URL host 127\.0\.0\.1 is a forbidden address/, true],
  [`http://017700000001:${port}/`, /^URL host 127\.0\.0\.1 is a forbidden address/, true],
  [`http://127.1:${port}/`, /^URL host 127\.0\.0\.1 is a forbidden address/, true],
  [`http://0:${port}/`, /^URL host 0\.0\.0\.0 is a forbidden address/, true],
  [`http://loopback.test:${port}/`, `URL host loopback.test resolves to a forbidden address ${FORBIDDEN_HOST}`, true],
  [`http://mapped.test:${port}/`, /^URL host mapped\.test resolves to a forbidden address/, true],
  [`http://mixed.test:${port}/`, /^URL host mixed\.test resolves to a forbidden address/, true],
  ['http://mixed-public-first.test/', /^URL host mixed-public-first\.test resolves to a forbidden address/, false],
  ['http://intranet.test/', /^URL host intranet\.test resolves to a forbidden address/, false],
  ['http://ula.test/', /^URL host ula\.test resolves to a forbidden address/, false],
  ['ftp://files.example/doc.pdf', 'Only http and https URLs can be fetched, not ftp:', true],
  ['file:///etc/passwd', 'Only http and https URLs can be fetched, not file:', true],
  ['javascript:alert(1)', 'Only http and https URLs can be fetched, not javascript:', true],
  ['data:text/html,hello', 'Only http and https URLs can be fetched, not data:', true],
  ['http://user:pass@public.test/', 'URLs containing a username or password are not accepted', true],
  [`http://user@127.0.0.1:${port}/`, 'URLs containing a username or password are not accepted', true],
  ['http://public.test:25/', 'Port 25 is not allowed', true],
  ['https://public.test:6667/', 'Port 6667 is not allowed', true],
  ['not a url', 'URL is not a valid absolute URL', true],
  ['/relative/path', 'URL is not a valid absolute URL', true],
  ['http://nowhere.invalid/', 'Could not resolve host nowhere.invalid', false]
]

t.test('checkUrl refuses each URL without sending anything', async (t) => {
  for (const [url, message] of REFUSED) {
    const error = await rejection(checkUrl(url, strict))
    t.ok(error instanceof UrlRefusedError, url)
    if (typeof message === 'string') t.equal((error as Error).message, message, url)
    else t.match((error as Error).message, message, url)
  }
  t.equal(connectAttempts, 0, 'no connection was attempted')
  t.equal(received, 0, 'the local server received nothing')
})

t.test('fetchUrl refuses the same URLs before connecting', async (t) => {
  for (const [url, message, safeToFetch] of REFUSED) {
    if (!safeToFetch) continue
    // Only after checkUrl has refused it: fetchUrl checks with the same code.
    if (!((await rejection(checkUrl(url, strict))) instanceof UrlRefusedError)) {
      t.fail(`checkUrl let ${url} through; not fetching it`)
      continue
    }
    const error = await rejection(fetchUrl(url, strict))
    t.ok(error instanceof UrlRefusedError, url)
    if (typeof message === 'string') t.equal((error as Error).message, message, url)
    else t.match((error as Error).message, message, url)
  }
  t.equal(connectAttempts, 0, 'no connection was attempted')
  t.equal(received, 0, 'the local server received nothing')
})

t.test('localhost through the system resolver is refused', async (t) => {
  const error = await rejection(checkUrl(`http://localhost:${port}/`, { allowPrivate: false }))
  t.ok(error instanceof UrlRefusedError)
  t.equal((error as Error).message, `URL host localhost resolves to a forbidden address ${FORBIDDEN_HOST}`)
  t.ok((await rejection(fetchUrl(`http://localhost:${port}/`, { allowPrivate: false }))) instanceof UrlRefusedError)
  t.equal(connectAttempts, 0)
  t.equal(received, 0)
})

t.test('IP literals and blocked ports never reach the resolver', async (t) => {
  lookups.length = 0
  for (const url of ['http://10.0.0.1/', 'http://[::1]/', 'http://2130706433/', 'http://public.test:25/', 'ftp://public.test/', 'http://user:pass@public.test/']) {
    await rejection(checkUrl(url, strict))
  }
  t.same(lookups, [])
})

t.test('allowPrivate lifts the address rule', async (t) => {
  const url = await checkUrl(`http://127.0.0.1:${port}/doc?x=1`, { allowPrivate: true })
  t.ok(url instanceof URL)
  t.equal(url.href, `http://127.0.0.1:${port}/doc?x=1`)
  t.equal((await checkUrl('http://intranet.test/', { allowPrivate: true, lookup })).hostname, 'intranet.test')
  t.equal((await checkUrl('http://public.test/', strict)).hostname, 'public.test', 'a public address passes without it')
  t.equal(received, 0, 'checkUrl sends no request')
})
