// bench/hostile-inputs: the uploads that used to take jack down (zip bombs, deep HTML, whitespace-free text, a huge PDF), each sent to a running
// server while a client polls /healthz; prints each input's time to its final status, the worst /healthz latency meanwhile, the server's peak RSS,
// and whether the server survived. Baseline: /healthz on the same server while idle, measured first.
//
//   npm run bench:hostile-inputs                  # PGlite; BENCH_BACKENDS=postgres or pglite,postgres
//   BENCH_HOSTILE_CASES=html,text npm run bench:hostile-inputs
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { PDFDocument, StandardFonts } from 'pdf-lib'
import { minimalDocx, wordDocumentXml } from '../test/helpers/zip-archive.js'
import { memoryMiB } from './lib/proc.js'
import { formatInt, formatMs, isEntryPoint, loadLine, percentile, table } from './lib/report.js'
import { buildIfStale, newBootstrapKey, progress, readBackends, runMain, sleep, withServer, withStorage, type Server } from './lib/server.js'

const MiB = 1024 * 1024
const HEALTH_EVERY_MS = 50
const FINAL_WITHIN_MS = 10 * 60_000
// The issue's goals: /healthz within 1 s throughout a zip bomb, and under 100 ms p99 for the others.
const GOAL_WORST_MS = 1000
const GOAL_P99_MS = 100

interface HostileCase {
  id: string
  label: string
  /** The upload, or the page served to URL ingest. */
  make: () => Promise<{ bytes: Buffer, filename: string, type: string }>
  via: 'file' | 'url'
}

function nestedHtml (depth: number): string {
  return `<!doctype html><html><head><title>Nested</title></head><body>${'<div>'.repeat(depth)}<p>The innermost paragraph holds the only text of this page.</p>${'</div>'.repeat(depth)}</body></html>`
}

/** A valid .docx of one paragraph whose document.xml inflates to `bytes` (~1000:1 compressed). */
function docxBomb (bytes: number): Buffer {
  return minimalDocx(wordDocumentXml(['A policy hidden in a very large document.'], bytes))
}

async function manyPagePdf (pages: number): Promise<Buffer> {
  const pdf = await PDFDocument.create()
  const font = await pdf.embedFont(StandardFonts.Helvetica)
  for (let page = 1; page <= pages; page++) pdf.addPage([300, 200]).drawText(`Page ${page} of the oversized manual.`, { x: 20, y: 100, size: 12, font })
  return Buffer.from(await pdf.save())
}

const CASES: HostileCase[] = [
  { id: 'docx-100m', label: 'DOCX inflating to 100 MB', via: 'file', make: async () => ({ bytes: docxBomb(100 * MiB), filename: 'bomb.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }) },
  { id: 'docx-2g', label: 'DOCX inflating to 2 GiB', via: 'file', make: async () => ({ bytes: docxBomb(2047 * MiB), filename: 'bigger-bomb.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }) },
  { id: 'html', label: 'HTML page, 2,000 nested divs (URL)', via: 'url', make: async () => ({ bytes: Buffer.from(nestedHtml(2000)), filename: 'nested.html', type: 'text/html; charset=utf-8' }) },
  { id: 'html-20k', label: 'HTML page, 20,000 nested divs (URL)', via: 'url', make: async () => ({ bytes: Buffer.from(nestedHtml(20_000)), filename: 'deeper.html', type: 'text/html; charset=utf-8' }) },
  { id: 'text', label: '99 MB text file without whitespace', via: 'file', make: async () => ({ bytes: Buffer.alloc(99 * MiB, 'x'), filename: 'one-word.txt', type: 'text/plain' }) },
  { id: 'pdf', label: 'PDF, 10,000 pages', via: 'file', make: async () => ({ bytes: await manyPagePdf(10_000), filename: 'manual.pdf', type: 'application/pdf' }) }
]

interface Outcome {
  label: string
  inputBytes: number
  status: string
  errorMessage: string | null
  seconds: number
  healthP99: number
  healthWorst: number
  healthFailures: number
  peakRssMiB: number
  alive: boolean
}

/** Polls /healthz back to back (one at a time, as a load balancer would) until stopped; records each latency. */
function watchHealth (server: Server): { stop: () => Promise<{ latencies: number[], failures: number, peakRssMiB: number }> } {
  const latencies: number[] = []
  let failures = 0
  let peakRssMiB = 0
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      const started = performance.now()
      try {
        const response = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(30_000) })
        await response.text()
        if (!response.ok) failures++
      } catch {
        failures++
      }
      latencies.push(performance.now() - started)
      if (server.pid !== undefined) peakRssMiB = Math.max(peakRssMiB, memoryMiB(server.pid, 'VmRSS') ?? 0)
      await sleep(HEALTH_EVERY_MS)
    }
  })()
  return { stop: async () => { state.running = false; await loop; return { latencies, failures, peakRssMiB } } }
}

type Input = Awaited<ReturnType<HostileCase['make']>>

async function submit (server: Server, key: string, hostile: HostileCase, input: Input, pageUrl: (bytes: Buffer, type: string) => string): Promise<{ id: string, inputBytes: number }> {
  let response: Response
  if (hostile.via === 'url') {
    response = await fetch(`${server.baseUrl}/v1/ingest/url`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: pageUrl(input.bytes, input.type) })
    })
  } else {
    const form = new FormData()
    form.append('file', new Blob([input.bytes], { type: input.type }), input.filename)
    response = await fetch(`${server.baseUrl}/v1/ingest/file`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form })
  }
  const text = await response.text()
  if (response.status !== 202) throw new Error(`${hostile.label}: ingest answered ${response.status}: ${text.slice(0, 500)}`)
  return { id: (JSON.parse(text) as { document_ids: string[] }).document_ids[0] as string, inputBytes: input.bytes.length }
}

async function finalStatus (server: Server, key: string, id: string): Promise<{ status: string, errorMessage: string | null }> {
  const deadline = Date.now() + FINAL_WITHIN_MS
  for (;;) {
    try {
      const response = await fetch(`${server.baseUrl}/v1/documents/${id}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(30_000) })
      const document = await response.json() as { status: string, error_message: string | null }
      if (document.status !== 'processing') return { status: document.status, errorMessage: document.error_message }
    } catch {
      if (server.exitStatus !== undefined) return { status: `server exited (${String(server.exitStatus)})`, errorMessage: null }
    }
    if (Date.now() > deadline) return { status: 'still processing', errorMessage: null }
    await sleep(200)
  }
}

/** A page server on loopback for URL ingest: each hostile page at its own path. */
async function pageServer (): Promise<{ url: (bytes: Buffer, type: string) => string, close: () => void }> {
  const pages = new Map<string, { bytes: Buffer, type: string }>()
  const server = http.createServer((request, response) => {
    const page = pages.get(request.url ?? '')
    if (page === undefined) return response.writeHead(404).end()
    response.writeHead(200, { 'content-type': page.type, 'content-length': page.bytes.length }).end(page.bytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: (bytes, type) => {
      const path = `/page-${pages.size}.html`
      pages.set(path, { bytes, type })
      return `http://127.0.0.1:${port}${path}`
    },
    close: () => { server.closeAllConnections(); server.close() }
  }
}

function selectedCases (): HostileCase[] {
  const raw = process.env.BENCH_HOSTILE_CASES
  if (raw === undefined || raw.trim() === '') return CASES
  const ids = raw.split(',').map((id) => id.trim())
  for (const id of ids) if (!CASES.some((hostile) => hostile.id === id)) throw new Error(`BENCH_HOSTILE_CASES: unknown case "${id}" (${CASES.map((hostile) => hostile.id).join(', ')})`)
  return CASES.filter((hostile) => ids.includes(hostile.id))
}

async function main (): Promise<number> {
  buildIfStale()
  const pages = await pageServer()
  let failedGoals = 0
  const lines: string[] = ['# bench/hostile-inputs', '']
  try {
    for (const backend of readBackends()) {
      await withStorage(backend, async (storage) => {
        const key = newBootstrapKey()
        const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, JACK_URL_ALLOW_PRIVATE: 'true', JACK_WORKERS: '2' }
        const { result } = await withServer(backend, env, undefined, async (server) => {
          const idle = watchHealth(server)
          await sleep(5000)
          const baseline = await idle.stop()
          const outcomes: Outcome[] = []
          for (const hostile of selectedCases()) {
            progress(`${backend}: ${hostile.label}`)
            // Built before the watch starts: making a 2 GiB bomb or a 10,000-page PDF busies this process, not the server.
            const input = await hostile.make()
            const watch = watchHealth(server)
            const started = performance.now()
            const { id, inputBytes } = await submit(server, key, hostile, input, pages.url)
            const final = await finalStatus(server, key, id)
            const seconds = (performance.now() - started) / 1000
            const health = await watch.stop()
            outcomes.push({
              label: hostile.label,
              inputBytes,
              status: final.status,
              errorMessage: final.errorMessage,
              seconds,
              healthP99: percentile(health.latencies, 99),
              healthWorst: Math.max(...health.latencies),
              healthFailures: health.failures,
              peakRssMiB: health.peakRssMiB,
              alive: server.exitStatus === undefined
            })
          }
          return { baseline, outcomes }
        })
        const idleP99 = percentile(result.baseline.latencies, 99)
        lines.push(`## ${backend}`, '', `Idle /healthz (baseline, same server): p99 ${formatMs(idleP99)} ms, worst ${formatMs(Math.max(...result.baseline.latencies))} ms over ${result.baseline.latencies.length} probes; RSS ${formatInt(result.baseline.peakRssMiB)} MiB.`, '')
        lines.push(...table(['input', 'size', 'final status (error_message)', 'time to final', '/healthz p99 (× idle)', '/healthz worst', 'failed probes', 'peak RSS', 'server survived'],
          result.outcomes.map((outcome) => [
            outcome.label,
            `${(outcome.inputBytes / MiB).toFixed(2)} MiB`,
            `${outcome.status}${outcome.errorMessage === null ? '' : ` (${outcome.errorMessage})`}`,
            `${outcome.seconds.toFixed(1)} s`,
            `${formatMs(outcome.healthP99)} ms (${(outcome.healthP99 / idleP99).toFixed(1)}×)`,
            `${formatMs(outcome.healthWorst)} ms`,
            String(outcome.healthFailures),
            `${formatInt(outcome.peakRssMiB)} MiB`,
            outcome.alive ? 'yes' : 'NO'
          ])))
        for (const outcome of result.outcomes) {
          const goalMs = outcome.label.startsWith('DOCX') ? GOAL_WORST_MS : GOAL_P99_MS
          const measured = outcome.label.startsWith('DOCX') ? outcome.healthWorst : outcome.healthP99
          if (!outcome.alive || outcome.status === 'still processing' || outcome.healthFailures > 0 || measured > goalMs) failedGoals++
        }
        lines.push('')
      })
    }
  } finally {
    pages.close()
  }
  lines.push(`Goals: every input reaches a final status with the server alive and no failed probe; /healthz worst ≤ ${GOAL_WORST_MS} ms during zip bombs, p99 ≤ ${GOAL_P99_MS} ms during the rest. ${failedGoals === 0 ? 'All met.' : `${failedGoals} case(s) missed.`}`)
  lines.push(loadLine())
  process.stdout.write(`${lines.join('\n')}\n`)
  return failedGoals === 0 ? 0 : 1
}

if (isEntryPoint(import.meta.url)) await runMain(main)
