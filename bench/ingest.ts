// Benchmark: bulk ingest of the BEIR SciFact corpus over HTTP (docs/s, per-document time-to-ready, server peak RSS) and one small document's time-to-ready on an idle server, on PGlite and PostgreSQL.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import postgres from 'postgres'
import { Api, BATCH_SIZE, IN_FLIGHT, type DocumentObject } from './lib/api.js'
import { cpuSeconds, machineBusySeconds, memoryMiB, postgresCpuSeconds } from './lib/proc.js'
import { readInteger } from './lib/report.js'
import { buildIfStale, checkKey, MAINTENANCE_URL, newBootstrapKey, pinBenchmark, progress, readBackends, ROOT, runMain, sleep, withServer, withStorage, type Backend, type Server } from './lib/server.js'
import { seededRandom } from '../test/helpers/seeded-random.js'

const SCIFACT_SIZE = 5183
const SWEEP_INTERVAL_MS = readInteger('BENCH_SWEEP_MS', 250, 10, 60_000)
const PROCESSING_POLL_MS = 100
const RSS_SAMPLE_MS = 250
const SINGLE_DOCS = 10
const SINGLE_POLL_MS = 10
// The workers fall idle (waiting for NOTIFY or their 1 s poll) well within this.
const IDLE_PAUSE_MS = 2000
const GOAL_BULK_SECONDS = 60
const GOAL_DOCS_PER_SECOND = 85
const GOAL_SINGLE_MS = 1000

const BACKENDS = readBackends()
const WORKERS = readInteger('BENCH_WORKERS', 2, 1, 64)
const LIMIT = readInteger('BENCH_LIMIT', SCIFACT_SIZE, 1, 1_000_000)
// No new document ready for this long means the queue is stuck, not slow.
const STALL_MS = readInteger('BENCH_STALL_SECONDS', 180, 1, 86_400) * 1000
const CORPUS_PATH = process.env.BENCH_CORPUS ?? path.resolve(ROOT, '..', 'shared', 'data', 'scifact', 'corpus.jsonl')

interface CorpusDocument {
  id: string
  text: string
}

interface Corpus {
  documents: CorpusDocument[]
  description: string
}

function loadCorpus (): Corpus {
  if (!fs.existsSync(CORPUS_PATH)) {
    const documents = generateDocuments(LIMIT)
    return { documents, description: `SciFact corpus NOT FOUND at ${CORPUS_PATH}; used ${formatInt(documents.length)} generated English-like documents (${describeSizes(documents)}) instead` }
  }
  const documents: CorpusDocument[] = []
  for (const [index, line] of fs.readFileSync(CORPUS_PATH, 'utf8').split('\n').entries()) {
    if (documents.length >= LIMIT) break
    if (line.trim() === '') continue
    const parsed = JSON.parse(line) as { _id?: unknown, title?: unknown, text?: unknown }
    if (typeof parsed._id !== 'string' || typeof parsed.title !== 'string' || typeof parsed.text !== 'string') {
      throw new Error(`${CORPUS_PATH} line ${index + 1}: expected string _id, title and text`)
    }
    documents.push({ id: parsed._id, text: `${parsed.title}\n\n${parsed.text}` })
  }
  return { documents, description: `BEIR SciFact corpus, ${path.relative(process.cwd(), CORPUS_PATH)}: ${formatInt(documents.length)} documents (${describeSizes(documents)}), text = title + "\\n\\n" + text` }
}

function describeSizes (documents: CorpusDocument[]): string {
  const total = documents.reduce((sum, document) => sum + document.text.length, 0)
  return `mean ${formatInt(total / Math.max(1, documents.length))} characters, ${(total / 1e6).toFixed(1)} M in all`
}

const random = seededRandom

const WORDS = ('the of and to in a is that for it as was with be by on not he this are or his from at which but have an they ' +
  'cells patients study protein expression results increased treatment risk disease clinical gene analysis effect levels ' +
  'associated mice data response cancer factor role human activity signaling receptor trial outcome mortality infection ' +
  'evidence model growth function changes population significant compared observed reduced higher lower during after ' +
  'between within across cohort control group dose therapy brain tissue blood immune pathway mechanism molecular').split(' ')

/** ~1.5 KB of English-like prose per document: a title line and sentences of common and scientific words. */
function generateDocuments (count: number): CorpusDocument[] {
  const next = random(42)
  const word = (): string => WORDS[Math.floor(next() * next() * WORDS.length)] ?? 'the'
  const sentence = (): string => {
    const words = Array.from({ length: 6 + Math.floor(next() * 20) }, word)
    const first = words[0] ?? 'the'
    words[0] = first.charAt(0).toUpperCase() + first.slice(1)
    return `${words.join(' ')}.`
  }
  return Array.from({ length: count }, (_, index) => {
    let text = sentence().slice(0, -1)
    text += '\n\n'
    const target = 1200 + Math.floor(next() * 600)
    while (text.length < target) text += `${sentence()} `
    return { id: `generated-${index}`, text: text.trim() }
  })
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** Every document of the org, each with the time its page arrived: it had that status by then. */
async function listAllTimed (api: Api): Promise<Array<{ document: DocumentObject, at: number }>> {
  const found: Array<{ document: DocumentObject, at: number }> = []
  for await (const page of api.pages()) {
    const at = performance.now()
    for (const document of page) found.push({ document, at })
  }
  return found
}

/** Cluster-wide PostgreSQL counters: requested and timed checkpoints (each makes the next write of every page log a full page image) and WAL written. */
interface PostgresCounters {
  checkpoints: number
  walBytes: number
}

type Sql = ReturnType<typeof postgres>

async function postgresCounters (sql: Sql): Promise<PostgresCounters> {
  const [row] = await sql<Array<{ checkpoints: number, wal_bytes: number }>>`
    select (checkpoints_timed + checkpoints_req)::int as checkpoints, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 as wal_bytes
    from pg_stat_bgwriter`
  return { checkpoints: row?.checkpoints ?? 0, walBytes: row?.wal_bytes ?? 0 }
}

/** Settings that change how much a commit or a long run costs, printed with the results. */
async function postgresSettings (sql: Sql): Promise<string> {
  const rows = await sql<Array<{ name: string, setting: string }>>`
    select name, current_setting(name) as setting from pg_settings
    where name in ('server_version', 'fsync', 'synchronous_commit', 'autovacuum', 'shared_buffers', 'max_wal_size', 'gin_pending_list_limit')
    order by name`
  return rows.map(({ name, setting }) => `${name}=${setting}`).join(', ')
}

// ---------------------------------------------------------------------------------------------
// The measurements

interface BulkResult {
  accepted: number
  ready: number
  failed: number
  failures: string[]
  stuck: number
  stuckDetail: string[]
  wallSeconds: number | undefined
  submitSeconds: number
  timesToReady: number[]
  chunks: number
  sweeps: number
  sweepMs: number[]
  serverCpuSeconds: number | undefined
  postgresCpuSeconds: number | undefined
  benchCpuSeconds: number
  /** Busy CPU seconds of everything else on the machine: other work that competed with the run. */
  otherCpuSeconds: number | undefined
  /** PostgreSQL only, cluster-wide (other databases' work included). */
  checkpoints: number | undefined
  walMiB: number | undefined
}

interface Row {
  backend: Backend
  bulk: BulkResult
  single: number[]
  singleFailures: string[]
  peakRssMiB: number | undefined
  sampledRssMiB: number | undefined
  /** One sweep of all pages on the idle server after the bulk run: the listing's own cost, without contention. */
  idleSweepMs: number | undefined
  /** After start-up, before any document: what the bulk run added is the peak minus this. */
  startRssMiB: number | undefined
  warnings: string[]
  warningTotal: number
}

/** Sends every document in batches, IN_FLIGHT at a time; calls `accepted` with each batch's IDs at its 202. */
async function submitAll (api: Api, documents: CorpusDocument[], accepted: (ids: string[], at: number) => void): Promise<void> {
  const batches: CorpusDocument[][] = []
  for (let start = 0; start < documents.length; start += BATCH_SIZE) batches.push(documents.slice(start, start + BATCH_SIZE))
  let next = 0
  const sender = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++] ?? []
      // chunk_size and chunk_overlap are left out: the defaults (512/64) are what is measured.
      const { body } = await api.request<{ document_ids: string[] }>('POST', '/v1/ingest', 202, {
        documents: batch.map((document) => ({ text: document.text, metadata: { doc_id: document.id }, filename: document.id }))
      })
      const at = performance.now()
      if (body.document_ids.length !== batch.length) throw new Error(`POST /v1/ingest returned ${body.document_ids.length} IDs for ${batch.length} documents`)
      accepted(body.document_ids, at)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, sender))
}

async function runBulk (api: Api, server: Server, documents: CorpusDocument[], backend: Backend, database: { name: string, sql: Sql } | undefined): Promise<BulkResult> {
  const acceptedAt = new Map<string, number>()
  const firstReady = new Map<string, number>()
  const chunkCounts = new Map<string, number>()
  const failedDocs = new Map<string, string | null>()
  const sweepMs: number[] = []
  const pid = server.pid

  const cpuBefore = pid === undefined ? undefined : cpuSeconds(pid)
  const postgresBefore = database === undefined ? undefined : postgresCpuSeconds(database.name)
  const countersBefore = database === undefined ? undefined : await postgresCounters(database.sql)
  const machineBefore = machineBusySeconds()
  const benchBefore = process.cpuUsage()
  const started = performance.now()

  let submitted = false
  let settledAt: number | undefined
  let lastProgressAt = started
  // Shared with the sweeper, which runs concurrently (an object, so the loops see each other's changes).
  const control = { stop: false, sweepFailed: false }

  // Sweeps: every document's status, so each one's first ready sighting is known to within a sweep.
  const sweeper = (async () => {
    while (!control.stop) {
      const sweepStart = performance.now()
      for (const { document, at } of await listAllTimed(api)) {
        if (document.status === 'ready' && !firstReady.has(document.id)) {
          firstReady.set(document.id, at)
          chunkCounts.set(document.id, document.chunk_count)
          lastProgressAt = at
        } else if (document.status === 'failed' && !failedDocs.has(document.id)) {
          failedDocs.set(document.id, document.error_message)
          lastProgressAt = at
        }
      }
      sweepMs.push(performance.now() - sweepStart)
      if (submitted && firstReady.size + failedDocs.size >= acceptedAt.size) return
      await sleep(Math.max(0, SWEEP_INTERVAL_MS - (performance.now() - sweepStart)))
    }
  })()
  // A failed sweep (say, the server died) ends the wait below; awaiting the sweeper then rethrows its error.
  sweeper.catch(() => { control.sweepFailed = true })

  const report = setInterval(() => {
    progress(`${backend}: ${formatInt(acceptedAt.size)} accepted, ${formatInt(firstReady.size)} seen ready, ${failedDocs.size} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`)
  }, 10_000)
  try {
    await submitAll(api, documents, (ids, at) => { for (const id of ids) acceptedAt.set(id, at) })
    const submitSeconds = (performance.now() - started) / 1000
    submitted = true
    progress(`${backend}: all ${formatInt(acceptedAt.size)} accepted in ${submitSeconds.toFixed(1)} s; waiting for processing to finish`)

    // The end of the bulk run: the first moment no document is processing.
    let stuck = 0
    const stuckDetail: string[] = []
    while (!control.sweepFailed) {
      const { body } = await api.request<DocumentObject[]>('GET', '/v1/documents?status=processing&limit=1', 200)
      if (body.length === 0) {
        settledAt = performance.now()
        break
      }
      if (performance.now() - lastProgressAt > STALL_MS) {
        const processing = await api.listAll('processing')
        stuck = processing.length
        for (const document of processing.slice(0, 10)) stuckDetail.push(JSON.stringify(document))
        progress(`${backend}: STUCK — ${stuck} documents still processing and none finished for ${STALL_MS / 1000} s`)
        break
      }
      await sleep(PROCESSING_POLL_MS)
    }
    const cpuAfter = pid === undefined ? undefined : cpuSeconds(pid)
    const postgresAfter = database === undefined ? undefined : postgresCpuSeconds(database.name)
    const countersAfter = database === undefined ? undefined : await postgresCounters(database.sql)
    const machineAfter = machineBusySeconds()
    const bench = process.cpuUsage(benchBefore)
    // Once nothing is processing, one more sweep sees every document's final state and the sweeper ends by itself.
    if (settledAt === undefined) control.stop = true
    await sweeper

    const failed = await api.listAll('failed')
    const failures = failed.slice(0, 10).map((document) => `${document.id}: ${document.error_message ?? '(no message)'}`)
    const serverCpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
    const postgresCpu = postgresBefore === undefined || postgresAfter === undefined ? undefined : postgresAfter - postgresBefore
    const benchCpu = (bench.user + bench.system) / 1e6
    const otherCpu = machineBefore === undefined || machineAfter === undefined || serverCpu === undefined
      ? undefined
      : Math.max(0, machineAfter - machineBefore - serverCpu - (postgresCpu ?? 0) - benchCpu)
    const timesToReady: number[] = []
    for (const [id, readyAt] of firstReady) {
      const at = acceptedAt.get(id)
      // A document seen ready before its 202 reached us counts as 0, not negative.
      if (at !== undefined) timesToReady.push(Math.max(0, readyAt - at))
    }
    return {
      accepted: acceptedAt.size,
      ready: firstReady.size,
      failed: failed.length,
      failures,
      stuck,
      stuckDetail,
      wallSeconds: settledAt === undefined ? undefined : (settledAt - started) / 1000,
      submitSeconds,
      timesToReady,
      chunks: [...chunkCounts.values()].reduce((sum, count) => sum + count, 0),
      sweeps: sweepMs.length,
      sweepMs,
      serverCpuSeconds: serverCpu,
      postgresCpuSeconds: postgresCpu,
      benchCpuSeconds: benchCpu,
      otherCpuSeconds: otherCpu,
      checkpoints: countersBefore === undefined || countersAfter === undefined ? undefined : countersAfter.checkpoints - countersBefore.checkpoints,
      walMiB: countersBefore === undefined || countersAfter === undefined ? undefined : (countersAfter.walBytes - countersBefore.walBytes) / 2 ** 20
    }
  } finally {
    control.stop = true
    clearInterval(report)
  }
}

/** Time from each small document's 202 to the first GET that shows it ready, one document at a time on an idle server. */
async function runSingles (api: Api, backend: Backend): Promise<{ times: number[], failures: string[] }> {
  const times: number[] = []
  const failures: string[] = []
  for (let index = 0; index < SINGLE_DOCS; index++) {
    const text = `Note ${index + 1}: customers may return unused items within 30 days of delivery for a full refund.`
    const { body } = await api.request<{ document_ids: string[] }>('POST', '/v1/ingest', 202, {
      documents: [{ text, metadata: { doc_id: `single-${index + 1}` }, filename: `single-${index + 1}.txt` }]
    })
    const acceptedAt = performance.now()
    const id = body.document_ids[0] ?? ''
    for (;;) {
      const { body: document } = await api.request<DocumentObject>('GET', `/v1/documents/${id}`, 200)
      const now = performance.now()
      if (document.status === 'ready') {
        times.push(now - acceptedAt)
        break
      }
      if (document.status === 'failed' || now - acceptedAt > 60_000) {
        failures.push(`${id}: ${document.status === 'failed' ? document.error_message ?? '(no message)' : 'still processing after 60 s'}`)
        break
      }
      await sleep(SINGLE_POLL_MS)
    }
    progress(`${backend}: single document ${index + 1}/${SINGLE_DOCS}: ${times.length === index + 1 ? `${formatInt(times[index] ?? 0)} ms` : 'FAILED'}`)
    // Each document starts on a server that has finished the previous one's work.
    await sleep(200)
  }
  return { times, failures }
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined, documents: CorpusDocument[], sql: Sql | undefined): Promise<Row> {
  return await withStorage(backend, async (storage) => {
    const database = storage.databaseName === undefined || sql === undefined ? undefined : { name: storage.databaseName, sql }
    progress(`${backend}: starting server with JACK_WORKERS=${WORKERS}`)
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_WORKERS: String(WORKERS) }
    const { result, warnings, warningTotal } = await withServer(backend, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      const api = new Api(server, key)
      const pid = server.pid
      const startRssMiB = pid === undefined ? undefined : memoryMiB(pid, 'VmRSS')
      // VmHWM gives the peak; the periodic VmRSS samples cross-check it and show the peak was during the run.
      let sampledRssMiB: number | undefined
      const sampler = setInterval(() => {
        const rss = pid === undefined ? undefined : memoryMiB(pid, 'VmRSS')
        if (rss !== undefined) sampledRssMiB = Math.max(sampledRssMiB ?? 0, rss)
      }, RSS_SAMPLE_MS)
      try {
        progress(`${backend}: ingesting ${formatInt(documents.length)} documents`)
        const bulk = await runBulk(api, server, documents, backend, database)
        let single: { times: number[], failures: string[] } = { times: [], failures: [] }
        let idleSweepMs: number | undefined
        if (bulk.wallSeconds !== undefined) {
          await sleep(IDLE_PAUSE_MS)
          const sweepStart = performance.now()
          await listAllTimed(api)
          idleSweepMs = performance.now() - sweepStart
          await sleep(IDLE_PAUSE_MS)
          single = await runSingles(api, backend)
        }
        const peakRssMiB = pid === undefined ? undefined : memoryMiB(pid, 'VmHWM')
        return { bulk, single: single.times, singleFailures: single.failures, peakRssMiB, sampledRssMiB, startRssMiB, idleSweepMs }
      } finally {
        clearInterval(sampler)
      }
    })
    return { backend, ...result, warnings, warningTotal }
  })
}

// ---------------------------------------------------------------------------------------------
// Report

function percentile (values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  // Nearest rank: a value that was actually observed.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

function formatInt (value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

function formatFixed (value: number | undefined, digits: number): string {
  return value === undefined ? '—' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function optionalInt (value: number | undefined): string {
  return value === undefined ? '—' : formatInt(value)
}

function printReport (rows: Row[], corpus: Corpus, pinning: string, postgresSettings: string | undefined): boolean {
  const lines: string[] = []
  const columns: Array<[string, number]> = [['backend', 10], ['docs', 7], ['wall s', 9], ['docs/s', 9], ['ttr p50 ms', 13], ['ttr p95 ms', 13], ['peak RSS MB', 14], ['failed', 9], ['single-doc p50/max ms', 24]]
  const row = (cells: string[]): string => cells.map((cell, index) => {
    const [, width] = columns[index] ?? ['', 10]
    return index === 0 ? cell.padEnd(width) : cell.padStart(width)
  }).join('')
  const header = row(columns.map(([name]) => name))
  lines.push(header, '-'.repeat(header.length))
  let valid = true
  for (const { backend, bulk, single, singleFailures, peakRssMiB } of rows) {
    const docsPerSecond = bulk.wallSeconds === undefined ? undefined : bulk.accepted / bulk.wallSeconds
    const singleCell = single.length === 0 ? '—' : `${formatInt(percentile(single, 50) ?? 0)} / ${formatInt(Math.max(...single))}`
    lines.push(row([
      backend,
      formatInt(bulk.accepted),
      bulk.wallSeconds === undefined ? 'STUCK' : formatFixed(bulk.wallSeconds, 1),
      formatFixed(docsPerSecond, 1),
      optionalInt(percentile(bulk.timesToReady, 50)),
      optionalInt(percentile(bulk.timesToReady, 95)),
      formatFixed(peakRssMiB, 0),
      String(bulk.failed + singleFailures.length),
      singleCell
    ]))
  }

  lines.push('')
  for (const { backend, bulk, single } of rows) {
    const docsPerSecond = bulk.wallSeconds === undefined ? 0 : bulk.accepted / bulk.wallSeconds
    if (backend === 'postgres') {
      const full = bulk.accepted >= SCIFACT_SIZE
      const met = bulk.wallSeconds !== undefined && bulk.failed === 0 && docsPerSecond >= GOAL_DOCS_PER_SECOND && (!full || bulk.wallSeconds <= GOAL_BULK_SECONDS)
      lines.push(`Goal (postgres): all ${formatInt(SCIFACT_SIZE)} documents ready within ${GOAL_BULK_SECONDS} s (≥ ${GOAL_DOCS_PER_SECOND} docs/s): ${met ? 'met' : 'NOT MET'}` +
        ` — ${formatInt(bulk.accepted)} in ${formatFixed(bulk.wallSeconds, 1)} s, ${formatFixed(docsPerSecond, 1)} docs/s` +
        (full ? '' : ` (partial run of ${formatInt(bulk.accepted)} documents: judged on docs/s only)`))
    } else {
      lines.push(`Bulk (pglite, no goal of its own; the ${GOAL_DOCS_PER_SECOND} docs/s goal is PostgreSQL's): ${formatFixed(docsPerSecond, 1)} docs/s` +
        (docsPerSecond >= GOAL_DOCS_PER_SECOND ? ' — would meet it' : ' — would NOT meet it'))
    }
    const max = single.length === SINGLE_DOCS ? Math.max(...single) : undefined
    lines.push(`Goal (${backend}): single small document ready within ${GOAL_SINGLE_MS} ms of its 202: ${max !== undefined && max <= GOAL_SINGLE_MS ? 'met' : 'NOT MET'} — max of ${single.length} ${optionalInt(max)} ms`)
  }

  lines.push('')
  lines.push('Where the bulk run\'s time went (first request → nothing processing; CPU seconds from /proc, user + system):')
  const details: Array<[string, number]> = [['backend', 10], ['202s in s', 11], ['chunks', 8], ['server CPU s', 14], ['(cores)', 9], ['postgres CPU s', 16], ['bench CPU s', 13], ['other CPU s', 13], ['sweeps', 8], ['sweep ms mean/max/idle', 24], ['RSS start/max MB', 18]]
  const detailRow = (cells: string[]): string => cells.map((cell, index) => {
    const [, width] = details[index] ?? ['', 10]
    return index === 0 ? cell.padEnd(width) : cell.padStart(width)
  }).join('')
  const detailHeader = detailRow(details.map(([name]) => name))
  lines.push(detailHeader, '-'.repeat(detailHeader.length))
  for (const { backend, bulk, sampledRssMiB, startRssMiB, idleSweepMs } of rows) {
    const meanSweep = bulk.sweepMs.reduce((sum, ms) => sum + ms, 0) / Math.max(1, bulk.sweepMs.length)
    const cores = bulk.serverCpuSeconds === undefined || bulk.wallSeconds === undefined ? undefined : bulk.serverCpuSeconds / bulk.wallSeconds
    lines.push(detailRow([
      backend,
      formatFixed(bulk.submitSeconds, 1),
      formatInt(bulk.chunks),
      formatFixed(bulk.serverCpuSeconds, 1),
      formatFixed(cores, 2),
      backend === 'postgres' ? formatFixed(bulk.postgresCpuSeconds, 1) : 'in-process',
      formatFixed(bulk.benchCpuSeconds, 1),
      formatFixed(bulk.otherCpuSeconds, 1),
      String(bulk.sweeps),
      `${formatInt(meanSweep)} / ${formatInt(Math.max(0, ...bulk.sweepMs))} / ${optionalInt(idleSweepMs)}`,
      `${formatFixed(startRssMiB, 0)} / ${formatFixed(sampledRssMiB, 0)}`
    ]))
  }
  for (const { backend, bulk } of rows) {
    if (bulk.checkpoints === undefined || bulk.walMiB === undefined) continue
    lines.push(`${backend}: ${bulk.checkpoints} checkpoints and ${formatFixed(bulk.walMiB, 0)} MiB of WAL during the bulk run (cluster-wide, so other databases' work counts too; after a checkpoint the first change to each page logs the whole page).`)
  }

  lines.push('')
  lines.push(`Corpus: ${corpus.description}.`)
  lines.push(`Bulk: POST /v1/ingest, ${BATCH_SIZE} documents per request, ${IN_FLIGHT} requests in flight, default chunk_size 512 / chunk_overlap 64; server JACK_WORKERS=${WORKERS}, LOG_LEVEL=warn.`)
  lines.push(`wall s = first request → first GET /v1/documents?status=processing&limit=1 answering [] (polled every ${PROCESSING_POLL_MS} ms after the last 202); docs/s = docs ÷ wall s.`)
  lines.push(`ttr = time-to-ready per document: first sweep page showing it ready − its batch's 202. A sweep reads all of GET /v1/documents?limit=1000 (following Link rel="next") and starts every ${SWEEP_INTERVAL_MS} ms, so ttr's resolution is ${SWEEP_INTERVAL_MS} ms plus a sweep's duration (mean/max above); the sweeps themselves load the server.`)
  lines.push(`peak RSS MB = VmHWM (MiB) of the server process at the end (start-up, bulk and single-document phases); "RSS start/max" = VmRSS once ready, and the largest VmRSS sampled every ${RSS_SAMPLE_MS} ms.`)
  lines.push('postgres CPU = the benchmark database\'s backends plus PostgreSQL\'s shared background processes; other CPU = the machine\'s busy time minus server, postgres and bench: other work competing with the run (2 CPUs give 2 CPU seconds per second).')
  lines.push(`sweep idle = one sweep of all pages ${IDLE_PAUSE_MS / 1000} s after the bulk run ended, with nothing else running: the listing's own cost.`)
  lines.push(`single-doc = ${SINGLE_DOCS} documents of ~100 characters sent one at a time, after the idle sweep and another ${IDLE_PAUSE_MS / 1000} s pause; GET /v1/documents/{id} every ${SINGLE_POLL_MS} ms from the 202 until ready.`)
  if (postgresSettings !== undefined) lines.push(`PostgreSQL (${MAINTENANCE_URL.replace(/\/\/[^@/]*@/, '//')}): ${postgresSettings}.`)
  lines.push(pinning)
  // Other work on the machine skews every number; the 1-minute load average at the end shows whether there was any.
  lines.push(`Load average at the end (1/5/15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')} on ${os.cpus().length} CPUs.`)

  for (const { backend, bulk, singleFailures, warnings, warningTotal } of rows) {
    if (bulk.failed > 0 || singleFailures.length > 0) {
      valid = false
      lines.push(`WARNING (${backend}): ${bulk.failed + singleFailures.length} documents failed:`, ...[...bulk.failures, ...singleFailures].map((line) => `  ${line}`))
    }
    if (bulk.wallSeconds === undefined || bulk.stuck > 0) {
      valid = false
      lines.push(`WARNING (${backend}): ${bulk.stuck} documents stuck in processing (no progress for ${STALL_MS / 1000} s):`, ...bulk.stuckDetail.map((line) => `  ${line}`))
    }
    if (bulk.ready + bulk.failed < bulk.accepted) {
      valid = false
      lines.push(`WARNING (${backend}): ${bulk.accepted - bulk.ready - bulk.failed} accepted documents were never seen ready or failed`)
    }
    if (warningTotal > 0) {
      valid = false
      lines.push(`WARNING (${backend}): the server logged ${warningTotal} lines at warn or above:`, ...warnings.slice(0, 20).map((line) => `  ${line}`))
    }
  }
  if (valid) lines.push('All runs: every document ready, none failed, no server log lines at warn or above.')
  process.stdout.write(`${lines.join('\n')}\n`)
  return valid
}

async function main (): Promise<number> {
  buildIfStale()
  const corpus = loadCorpus()
  progress(corpus.description)

  const serverCpu = pinBenchmark()
  const pinning = serverCpu === undefined
    ? 'NOT pinned (no taskset or fewer than 2 CPUs): server, benchmark client and PostgreSQL share CPUs.'
    : 'Pinned: server on CPU 0, benchmark client on CPU 1 (PostgreSQL itself unpinned).'
  progress(pinning)

  const key = newBootstrapKey()
  // Reads PostgreSQL's own counters and settings; the server under test has its own connections.
  const sql = BACKENDS.includes('postgres') ? postgres(MAINTENANCE_URL, { max: 1, onnotice: () => {} }) : undefined
  try {
    const settings = sql === undefined ? undefined : await postgresSettings(sql)
    const rows: Row[] = []
    for (const backend of BACKENDS) rows.push(await runBackend(backend, key, serverCpu, corpus.documents, sql))
    return printReport(rows, corpus, pinning, settings) ? 0 : 1
  } finally {
    await sql?.end({ timeout: 5 })
  }
}

await runMain(main)
