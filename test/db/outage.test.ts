// Database outages: requests fail fast with 503 and Retry-After, accepted documents lose no attempt and become ready once the database is back.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { buildTestApp, createOrgWithKey, type TestApp } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { waitForDocument } from '../helpers/documents.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { pgliteTemplateDir } from '../helpers/template.js'
import { openDatabase } from '../../src/db/client.js'
import { IngestWorker, workerOptionsFrom } from '../../src/ingest/worker.js'
import { processPayload } from '../../src/ingest/process-document.js'
import { loadConfig } from '../../src/config.js'
import { loggerOptions } from '../../src/logging/logger-options.js'

const MAX_LOG_LINE_BYTES = 16 * 1024
// Text that must never reach a log line; long enough that a leak is a real leak.
const SECRET_TEXT = 'Confidential merger memo: the Halvorsen acquisition closes on the ninth of March. '.repeat(400)

interface Logs { lines: string[], stream: { write: (line: string) => void } }
function captureLogs (): Logs {
  const lines: string[] = []
  return { lines, stream: { write: (line: string) => { lines.push(line) } } }
}

function checkLogs (t: Test, logs: Logs): void {
  const longest = Math.max(0, ...logs.lines.map((line) => Buffer.byteLength(line)))
  t.ok(longest <= MAX_LOG_LINE_BYTES, `no log line over 16 KB (longest ${longest} bytes of ${logs.lines.length} lines)`)
  t.notOk(logs.lines.some((line) => line.includes('Halvorsen')), 'no log line holds document text')
}

/**
 * Documents processed in full and then held until `open()`: once the test has
 * cut the database, opening the gate makes their result writes meet the outage.
 */
function gatedProcessing (): { process: typeof processPayload, open: () => void, claimed: () => number } {
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  let claimed = 0
  return {
    claimed: () => claimed,
    open: () => open(),
    process: async (payload, options) => {
      const result = await processPayload(payload, options)
      claimed++
      await gate
      return result
    }
  }
}

async function until (condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

/** Starts two workers whose processing is gated, ingests `count` documents and waits until the workers hold two of them. */
async function ingestHeldDocuments (t: Test, subject: TestApp, key: string, logs: Logs, count: number): Promise<{ ids: string[], gate: ReturnType<typeof gatedProcessing>, worker: IngestWorker }> {
  const gate = gatedProcessing()
  const config = { ...loadConfig({}), workers: 2, jobMaxAttempts: 1, jobRetryBaseMs: 50 }
  const worker = new IngestWorker(subject.database, { ...workerOptionsFrom(config, pino({ ...loggerOptions('info') }, logs.stream)), pollIntervalMs: 100, process: gate.process })
  const ids: string[] = (await call(t, subject.app, 'POST', '/v1/ingest', {
    key,
    body: { documents: Array.from({ length: count }, (_, i) => ({ text: `${SECRET_TEXT} Document ${i}.` })) }
  })).json().document_ids
  await worker.start()
  t.teardown(async () => { gate.open(); await worker.stop(1000) })
  await until(() => gate.claimed() === 2, 60_000)
  t.equal(gate.claimed(), 2, 'both workers hold a processed document')
  return { ids, gate, worker }
}

async function checkAllReady (t: Test, subject: TestApp, key: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const document = await waitForDocument(subject.app, key, id, 30_000)
    t.match(document, { status: 'ready', error_message: null }, 'ready after the outage, with one attempt allowed')
  }
}

/** PostgreSQL reached through a proxy that can be cut. */
async function proxiedApp (t: Test, logs: Logs): Promise<{ subject: TestApp, proxy: TcpProxy }> {
  const testDatabase = await createTestDatabase(t)
  const direct = new URL(testDatabase.databaseUrl as string)
  const proxy = await startTcpProxy(t, { host: direct.hostname, port: Number(direct.port === '' ? 5432 : direct.port) })
  const proxied = new URL(direct)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(proxy.port)
  const through: TestDatabase = { ...testDatabase, databaseUrl: proxied.toString(), open: async () => await openDatabase({ databaseUrl: proxied.toString(), dataDir: testDatabase.dataDir, poolSize: 5 }) }
  const subject = await buildTestApp(t, { testDatabase: through, config: { workers: 0, logLevel: 'info' }, logStream: logs.stream })
  return { subject, proxy }
}

const onPostgres = process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== ''

t.test('PostgreSQL down: 503 with Retry-After within 2 s; back up: 200 without a restart', { skip: onPostgres ? false : 'PGlite is in-process: it cannot be unreachable (see the disk-full test)' }, async (t) => {
  const logs = captureLogs()
  const { subject, proxy } = await proxiedApp(t, logs)
  const org = await createOrgWithKey(subject.database)
  t.equal((await call(t, subject.app, 'GET', '/v1/documents', { key: org.key })).status, 200, 'the key is verified and cached')

  await proxy.cut()
  for (const [method, url, body] of [
    ['GET', '/v1/documents', undefined],
    ['POST', '/v1/ingest', { documents: [{ text: SECRET_TEXT }] }],
    ['POST', '/v1/query', { question: 'When does the acquisition close?' }],
    ['GET', '/v1/keys', undefined]
  ] as const) {
    const started = Date.now()
    const response = await call(t, subject.app, method, url, { key: org.key, ...(body === undefined ? {} : { body }) })
    const elapsed = Date.now() - started
    t.equal(response.status, 503, `${method} ${url}: 503`)
    t.same(response.json(), { detail: 'The database is unavailable; retry shortly' })
    t.equal(response.headers['retry-after'], '5')
    t.ok(elapsed < 2000, `${method} ${url} answered in ${elapsed} ms`)
  }
  const unknownKey = `jack_${'ab'.repeat(24)}`
  t.equal((await call(t, subject.app, 'GET', '/v1/documents', { key: unknownKey })).status, 503, 'an uncached key cannot be checked: 503, not 401 or 500')
  t.equal((await subject.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503)

  await proxy.restore()
  await until(() => false, 300)
  const deadline = Date.now() + 10_000
  let status = 0
  while (status !== 200 && Date.now() < deadline) {
    status = (await call(t, subject.app, 'GET', '/v1/documents', { key: org.key })).status
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.equal(status, 200, 'serves again once the database is back')
  t.equal((await subject.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  checkLogs(t, logs)
})

t.test('PostgreSQL down while documents are processed: they stay processing and become ready after, no attempt spent', { skip: onPostgres ? false : 'PGlite is in-process: it cannot be unreachable (see the disk-full test)' }, async (t) => {
  const logs = captureLogs()
  const { subject, proxy } = await proxiedApp(t, logs)
  const org = await createOrgWithKey(subject.database)
  const { ids, gate } = await ingestHeldDocuments(t, subject, org.key, logs, 6)
  await proxy.cut()
  gate.open()
  // Long enough for the held documents' writes to fail and retry, and for claims to fail.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await proxy.restore()
  await checkAllReady(t, subject, org.key, ids)
  checkLogs(t, logs)
  t.ok(logs.lines.some((line) => line.includes('the database is unavailable; ingest waits')), 'the outage is logged')
})

/** A PGlite data directory on a tmpfs of its own, which the test can fill; undefined if the mount fails. */
function smallDisk (t: Test): string | undefined {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-small-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', mount], { stdio: 'ignore' })
  } catch {
    fs.rmSync(mount, { recursive: true, force: true })
    return undefined
  }
  t.teardown(() => {
    try { execFileSync('umount', ['-l', mount], { stdio: 'ignore' }) } catch {}
    fs.rmSync(mount, { recursive: true, force: true })
  })
  return mount
}

/** Fills the file system with one file until it is full; removing the file frees it. */
function fillDisk (directory: string): string {
  const filler = path.join(directory, 'filler')
  const descriptor = fs.openSync(filler, 'w')
  const block = Buffer.alloc(1024 * 1024, 1)
  try {
    for (;;) fs.writeSync(descriptor, block)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error
    // The last partial megabyte too.
    try { for (;;) fs.writeSync(descriptor, block, 0, 4096) } catch {}
  } finally {
    fs.closeSync(descriptor)
  }
  return filler
}

/** Whether this process may mount a tmpfs (root, outside a restricted container). */
function canMountTmpfs (): boolean {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    fs.rmSync(probe, { recursive: true, force: true })
  }
}

const diskFullSkip = onPostgres ? 'the disk-full case is PGlite\'s; PostgreSQL\'s outage is tested above' : canMountTmpfs() ? false : 'mounting a tmpfs needs root'

t.test('PGlite disk full while documents are processed: they stay processing and become ready once space is freed', { skip: diskFullSkip }, async (t) => {
  const disk = smallDisk(t)
  if (disk === undefined) throw new Error('could not mount the small disk')
  fs.cpSync(path.join(pgliteTemplateDir, 'pg'), path.join(disk, 'pg'), { recursive: true })
  const logs = captureLogs()
  const testDatabase: TestDatabase = { kind: 'pglite', databaseUrl: undefined, dataDir: disk, open: async () => await openDatabase({ dataDir: disk }) }
  const subject = await buildTestApp(t, { testDatabase, config: { workers: 0, logLevel: 'info' }, logStream: logs.stream })
  const org = await createOrgWithKey(subject.database)
  const { ids, gate } = await ingestHeldDocuments(t, subject, org.key, logs, 6)
  const filler = fillDisk(disk)
  const refused = await call(t, subject.app, 'POST', '/v1/ingest', { key: org.key, body: { documents: [{ text: SECRET_TEXT.repeat(20) }] } })
  t.equal(refused.status, 503, 'an ingest the full disk cannot store is a 503, not a 500')
  t.equal(refused.headers['retry-after'], '5')
  gate.open()
  await new Promise((resolve) => setTimeout(resolve, 2500))
  fs.rmSync(filler)
  await checkAllReady(t, subject, org.key, ids)
  checkLogs(t, logs)
})
