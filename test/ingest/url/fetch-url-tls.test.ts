import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { packageRoot } from '../../../src/package-root.js'

// HTTPS through the pinned connection: the socket goes to the checked
// address while SNI and the certificate check use the URL's host name. A
// child process trusts a throw-away certificate (NODE_EXTRA_CA_CERTS is only
// read at start-up); its servers listen on 127.0.0.1 only.

interface Outcome {
  ok: boolean
  text?: string
  name?: string
  message?: string
}

interface ChildReport {
  results: Record<'good' | 'wrongName' | 'downgrade' | 'upgrade', Outcome>
  seen: Array<{ host: string, servername: string | false, path: string }>
  lookups: string[]
  plainRequests: string[]
  tlsPort: number
}

const CHILD = `
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
const { fetchUrl } = await import(process.env.FETCH_URL_MODULE)
const seen = []
const plainRequests = []
let plainPort = 0
const tls = https.createServer({ key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT) }, (request, response) => {
  seen.push({ host: request.headers.host, servername: request.socket.servername, path: request.url })
  if (request.url === '/down') response.writeHead(302, { location: 'http://secure.test:' + plainPort + '/doc' }).end()
  else response.writeHead(200, { 'content-type': 'text/plain' }).end('over tls')
})
await new Promise((resolve) => tls.listen(0, '127.0.0.1', resolve))
const tlsPort = tls.address().port
const plain = http.createServer((request, response) => {
  plainRequests.push(request.url)
  response.writeHead(302, { location: 'https://secure.test:' + tlsPort + '/doc' }).end()
})
await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve))
plainPort = plain.address().port
const lookups = []
const lookup = async (hostname) => { lookups.push(hostname); return [{ address: '127.0.0.1', family: 4 }] }
const outcome = async (url) => {
  try {
    const page = await fetchUrl(url, { allowPrivate: true, lookup, timeoutMs: 10000 })
    return { ok: true, text: Buffer.from(page.bytes).toString() }
  } catch (error) {
    return { ok: false, name: error.name, message: error.message }
  }
}
const results = {
  good: await outcome('https://secure.test:' + tlsPort + '/doc'),
  wrongName: await outcome('https://other.test:' + tlsPort + '/doc'),
  downgrade: await outcome('https://secure.test:' + tlsPort + '/down'),
  upgrade: await outcome('http://secure.test:' + plainPort + '/up')
}
tls.close()
plain.close()
process.stdout.write(JSON.stringify({ results, seen, lookups, plainRequests, tlsPort }))
`

const hasOpenssl = spawnSync('openssl', ['version']).status === 0

t.test('https connects to the checked address with the host name for SNI and the certificate', { skip: hasOpenssl ? false : 'openssl is not installed' }, async (t) => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-tls-'))
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }))
  const key = path.join(directory, 'key.pem')
  const cert = path.join(directory, 'cert.pem')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=secure.test', '-addext', 'subjectAltName=DNS:secure.test'], { encoding: 'utf8' })
  if (made.status !== 0) {
    t.fail(`openssl could not make a certificate: ${made.stderr}`)
    return
  }
  const script = path.join(directory, 'child.mjs')
  fs.writeFileSync(script, CHILD)

  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: packageRoot,
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: cert,
      TLS_KEY: key,
      TLS_CERT: cert,
      FETCH_URL_MODULE: pathToFileURL(path.join(packageRoot, 'src/ingest/url/fetch-url.ts')).href
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  if (!t.equal(code, 0, stderr)) return
  const report = JSON.parse(stdout) as ChildReport

  t.same(report.results.good, { ok: true, text: 'over tls' }, 'the certificate for secure.test was verified against secure.test')
  t.same(report.seen[0], { host: `secure.test:${report.tlsPort}`, servername: 'secure.test', path: '/doc' }, 'SNI and Host carry the name')
  t.same(report.results.wrongName, {
    ok: false,
    name: 'UrlFetchError',
    message: `TLS connection to other.test:${report.tlsPort} failed (ERR_TLS_CERT_ALTNAME_INVALID)`
  }, 'a certificate for another name is refused, though the address is the same')
  t.same(report.results.downgrade, { ok: false, name: 'UrlFetchError', message: 'Redirect from https to http was refused' })
  t.same(report.plainRequests, ['/up'], 'the downgrade target was never requested')
  t.same(report.results.upgrade, { ok: true, text: 'over tls' }, 'http → https is followed')
  t.same(report.lookups, ['secure.test', 'other.test', 'secure.test', 'secure.test', 'secure.test'], 'one lookup per hop')
})
