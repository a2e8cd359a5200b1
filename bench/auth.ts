// Benchmark: requests/second of GET /healthz and authenticated GET /v1/keys with the verified-key cache on and off, on PGlite and PostgreSQL.
import { createRequire } from 'node:module'
import os from 'node:os'
import { buildIfStale, checkKey, newBootstrapKey, pinBenchmark, progress, readBackends, runMain, sleep, withServer, withStorage, type Backend } from './lib/server.js'

// autocannon ships no type declarations; this is the part of its API used here.
interface AutocannonOptions {
  url: string
  connections: number
  duration: number
  headers?: Record<string, string>
  warmup?: { connections: number, duration: number }
}
interface AutocannonResult {
  requests: { average: number, total: number }
  latency: { p50: number, p99: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodeStats: Record<string, { count: number }>
}
type Autocannon = (options: AutocannonOptions) => PromiseLike<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

interface Row {
  backend: Backend
  label: string
  result: AutocannonResult
}

const CONNECTIONS = 10
const SECONDS = readSeconds()
const WARMUP_SECONDS = Math.min(3, Math.max(1, Math.round(SECONDS / 3)))
const BACKENDS = readBackends()

function readSeconds (): number {
  const raw = process.env.BENCH_SECONDS
  if (raw === undefined || raw === '') return 10
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_SECONDS must be a whole number ≥ 1, got "${raw}"`)
  return value
}

async function measure (url: string, headers?: Record<string, string>): Promise<AutocannonResult> {
  return await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(headers === undefined ? {} : { headers }),
    // The first seconds include JIT warm-up and, for the cached case, the one argon2 run that fills the cache.
    warmup: { connections: CONNECTIONS, duration: WARMUP_SECONDS }
  })
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined): Promise<Row[]> {
  const rows: Row[] = []
  await withStorage(backend, async (storage) => {
    const cases: Array<{ cacheSize?: string, runs: Array<{ label: string, path: string, auth: boolean }> }> = [
      {
        runs: [
          { label: 'GET /healthz', path: '/healthz', auth: false },
          { label: 'GET /v1/keys (cached)', path: '/v1/keys', auth: true }
        ]
      },
      // A separate server because the cache size is read once, at start-up; the data (and key) carry over.
      { cacheSize: '0', runs: [{ label: 'GET /v1/keys (no cache)', path: '/v1/keys', auth: true }] }
    ]
    for (const { cacheSize, runs } of cases) {
      progress(`${backend}: starting server${cacheSize === undefined ? '' : ` with JACK_AUTH_CACHE_SIZE=${cacheSize}`}`)
      const env: Record<string, string> = { ...storage.env, JACK_BOOTSTRAP_KEY: key }
      if (cacheSize !== undefined) env.JACK_AUTH_CACHE_SIZE = cacheSize
      await withServer(backend, env, serverCpu, async (server) => {
        await checkKey(server.baseUrl, key)
        for (const run of runs) {
          progress(`${backend}: ${run.label} — ${WARMUP_SECONDS} s warm-up, ${SECONDS} s measured`)
          const result = await measure(`${server.baseUrl}${run.path}`, run.auth ? { authorization: `Bearer ${key}` } : undefined)
          rows.push({ backend, label: run.label, result })
        }
        // autocannon drops its sockets mid-request when time is up, but the server still finishes those
        // requests; stopping it at once would fail them against a closing pool and log spurious errors.
        await sleep(1000)
      })
    }
  })
  return rows
}

function format (value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

// autocannon records latency in whole milliseconds, so 0 means under one.
function formatMs (value: number): string {
  return value === 0 ? '<1' : format(value, 0)
}

function statusSummary (result: AutocannonResult): string {
  const codes = Object.entries(result.statusCodeStats).filter(([code]) => !code.startsWith('2')).map(([code, { count }]) => `${code}×${count}`)
  return codes.length === 0 ? '' : ` (${codes.join(', ')})`
}

function printTable (rows: Row[], pinning: string): boolean {
  const lines: string[] = []
  const header = `${'backend'.padEnd(10)}${'case'.padEnd(26)}${'req/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'non-2xx'.padStart(9)}${'errors'.padStart(8)}`
  lines.push(header, '-'.repeat(header.length))
  let clean = true
  for (const backend of BACKENDS) {
    const own = rows.filter((row) => row.backend === backend)
    for (const { label, result } of own) {
      const failed = result.non2xx + result.errors + result.timeouts
      if (failed > 0) clean = false
      lines.push(
        `${backend.padEnd(10)}${label.padEnd(26)}${format(result.requests.average, 1).padStart(10)}` +
        `${formatMs(result.latency.p50).padStart(9)}${formatMs(result.latency.p99).padStart(9)}` +
        `${String(result.non2xx).padStart(9)}${String(result.errors + result.timeouts).padStart(8)}` +
        (failed > 0 ? `  <-- FAILED REQUESTS${statusSummary(result)}` : '')
      )
    }
    const cached = own.find((row) => row.label.endsWith('(cached)'))?.result.requests.average
    const uncached = own.find((row) => row.label.endsWith('(no cache)'))?.result.requests.average
    if (cached !== undefined && uncached !== undefined && uncached > 0) {
      const ratio = cached / uncached
      lines.push(`${backend.padEnd(10)}${'cached / uncached'.padEnd(26)}${`${format(ratio, 1)}×`.padStart(10)}   goal ≥ 30×: ${ratio >= 30 ? 'met' : 'NOT MET'}`)
    }
  }
  lines.push('')
  lines.push(`${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured per case; req/s is the mean of per-second samples; errors = socket errors + timeouts.`)
  lines.push(pinning)
  // Other work on the machine skews every number; the 1-minute load average at the end shows whether there was any.
  lines.push(`Load average at the end (1/5/15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')} on ${os.cpus().length} CPUs.`)
  lines.push(clean ? 'All runs: zero non-2xx responses, zero errors.' : 'WARNING: some runs had non-2xx responses or errors; their numbers are not valid.')
  process.stdout.write(`${lines.join('\n')}\n`)
  return clean
}

async function main (): Promise<number> {
  buildIfStale()

  const serverCpu = pinBenchmark()
  const pinning = serverCpu === undefined
    ? 'NOT pinned (no taskset or fewer than 2 CPUs): server and load generator share CPUs, so req/s is understated.'
    : 'Pinned: server on CPU 0, load generator on CPU 1 (PostgreSQL itself unpinned).'
  progress(pinning)

  const key = newBootstrapKey()
  const rows: Row[] = []
  for (const backend of BACKENDS) rows.push(...await runBackend(backend, key, serverCpu))
  return printTable(rows, pinning) ? 0 : 1
}

await runMain(main)
