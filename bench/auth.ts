// Benchmark: requests/second of GET /healthz and authenticated GET /v1/keys with the verified-key cache on and off, on PGlite and PostgreSQL.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'

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

type Backend = 'pglite' | 'postgres'

interface Row {
  backend: Backend
  label: string
  result: AutocannonResult
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SERVER_ENTRY = path.join(ROOT, 'dist', 'src', 'cli.js')
const MAINTENANCE_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
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

function readBackends (): Backend[] {
  const raw = process.env.BENCH_BACKENDS
  if (raw === undefined || raw.trim() === '') return ['pglite', 'postgres']
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) {
    if (name !== 'pglite' && name !== 'postgres') throw new Error(`BENCH_BACKENDS: unknown backend "${name}" (use pglite, postgres)`)
  }
  return [...new Set(names as Backend[])]
}

function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

function hasCommand (command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function newestMtime (file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0
}

/** True when some compiled file is missing or older than its source, so the server would run old code. */
function distIsStale (): boolean {
  const configTime = Math.max(newestMtime(path.join(ROOT, 'tsconfig.json')), newestMtime(path.join(ROOT, 'tsconfig.build.json')))
  if (newestMtime(SERVER_ENTRY) < configTime) return true
  for (const folder of ['src', 'plugins']) {
    const entries = fs.readdirSync(path.join(ROOT, folder), { recursive: true, withFileTypes: true })
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue
      const source = path.join(entry.parentPath, entry.name)
      const compiled = path.join(ROOT, 'dist', path.relative(ROOT, source)).replace(/\.ts$/, '.js')
      if (newestMtime(compiled) < fs.statSync(source).mtimeMs) return true
    }
  }
  return false
}

/**
 * Keeps the load generator off the server's core: with both on one core the
 * numbers would measure their contention rather than the server.
 */
function pinSelf (cpu: number): boolean {
  try {
    // -a covers the threads already running (tsx's loader, V8's helpers); later ones inherit.
    execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('could not find a free port'))
      })
    })
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

class Server {
  private output = ''
  private exited: Promise<number | null>
  private exitCode: number | null | undefined

  private constructor (private readonly child: ChildProcess, readonly baseUrl: string) {
    const keep = (chunk: Buffer): void => {
      // Bounded: a chatty server must not grow the benchmark's memory.
      this.output = (this.output + chunk.toString('utf8')).slice(-64_000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal === null ? null : -1)
        resolve(this.exitCode)
      })
    })
  }

  static async start (env: Record<string, string>, pinCpu: number | undefined): Promise<Server> {
    const port = await freePort()
    const childEnv: NodeJS.ProcessEnv = { ...process.env }
    // Whatever the caller's shell has set must not leak into a case that sets them differently.
    for (const name of ['DATABASE_URL', 'JACK_DATA_DIR', 'JACK_AUTH_CACHE_SIZE', 'JACK_BOOTSTRAP_KEY', 'JACK_DB_POOL_SIZE']) delete childEnv[name]
    Object.assign(childEnv, { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, env)
    const [command, args] = pinCpu === undefined
      ? [process.execPath, [SERVER_ENTRY, 'serve']]
      : ['taskset', ['-c', String(pinCpu), process.execPath, SERVER_ENTRY, 'serve']]
    const child = spawn(command, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    const server = new Server(child, `http://127.0.0.1:${port}`)
    await server.waitReady()
    return server
  }

  private async waitReady (): Promise<void> {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`server exited with code ${String(this.exitCode)} before it was ready:\n${this.output}`)
      try {
        const response = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
        if (response.ok) return
      } catch {
        // Not listening yet.
      }
      await sleep(100)
    }
    await this.stop()
    throw new Error(`server was not ready within 60 s:\n${this.output}`)
  }

  /** Log lines at warn or above: a warning during a run (say, failing background writes) makes its numbers suspect. */
  warnings (): string[] {
    return this.output.split('\n').filter((line) => {
      try {
        const parsed = JSON.parse(line) as { level?: unknown }
        return typeof parsed.level === 'number' && parsed.level >= 40
      } catch {
        return false
      }
    })
  }

  async stop (): Promise<void> {
    if (this.exitCode !== undefined) return
    // taskset execs node, so this pid is the server itself and gets the signal directly.
    this.child.kill('SIGTERM')
    // close-with-grace gives the server up to 10 s; beyond that it is hung.
    const code = await Promise.race([this.exited, sleep(15_000).then(() => 'timeout' as const)])
    if (code === 'timeout') {
      this.child.kill('SIGKILL')
      await this.exited
      throw new Error(`server did not exit within 15 s of SIGTERM:\n${this.output}`)
    }
    if (code !== 0) throw new Error(`server exited with code ${String(code)} after SIGTERM:\n${this.output}`)
  }
}

/** The database or data directory one backend runs on, created empty so the server bootstraps our key. */
interface Storage {
  env: Record<string, string>
  dispose: () => Promise<void>
}

async function createStorage (backend: Backend): Promise<Storage> {
  if (backend === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-bench-'))
    return {
      env: { JACK_DATA_DIR: dataDir },
      dispose: async () => { fs.rmSync(dataDir, { recursive: true, force: true }) }
    }
  }
  const name = `jack_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(MAINTENANCE_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`)
  } catch (error) {
    await admin.end({ timeout: 5 })
    throw error
  }
  const url = new URL(MAINTENANCE_URL)
  url.pathname = `/${name}`
  return {
    env: { DATABASE_URL: url.toString() },
    dispose: async () => {
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await admin.end({ timeout: 5 })
      }
    }
  }
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

/** Fails early and clearly when the key does not authenticate, instead of benchmarking 401s. */
async function checkKey (server: Server, key: string): Promise<void> {
  const response = await fetch(`${server.baseUrl}/v1/keys`, { headers: { authorization: `Bearer ${key}` } })
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET /v1/keys with the bootstrap key answered ${response.status}: ${body}`)
}

const cleanups = new Set<() => Promise<void>>()

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined): Promise<Row[]> {
  const rows: Row[] = []
  const storage = await createStorage(backend)
  cleanups.add(storage.dispose)
  try {
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
      const server = await Server.start(env, serverCpu)
      const stop = async (): Promise<void> => { await server.stop() }
      cleanups.add(stop)
      try {
        await checkKey(server, key)
        for (const run of runs) {
          progress(`${backend}: ${run.label} — ${WARMUP_SECONDS} s warm-up, ${SECONDS} s measured`)
          const result = await measure(`${server.baseUrl}${run.path}`, run.auth ? { authorization: `Bearer ${key}` } : undefined)
          rows.push({ backend, label: run.label, result })
        }
        // autocannon drops its sockets mid-request when time is up, but the server still finishes those
        // requests; stopping it at once would fail them against a closing pool and log spurious errors.
        await sleep(1000)
      } finally {
        cleanups.delete(stop)
        await server.stop()
      }
      for (const line of server.warnings()) progress(`${backend}: server warning: ${line}`)
    }
  } finally {
    cleanups.delete(storage.dispose)
    await storage.dispose()
  }
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
  if (distIsStale()) {
    progress('dist/ is missing or older than src/; running npm run build')
    // The build's chatter goes to stderr so stdout stays just the table.
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
  }

  let serverCpu: number | undefined
  let pinning: string
  if (os.availableParallelism() >= 2 && hasCommand('taskset') && pinSelf(1)) {
    serverCpu = 0
    pinning = 'Pinned: server on CPU 0, load generator on CPU 1 (PostgreSQL itself unpinned).'
  } else {
    pinning = 'NOT pinned (no taskset or fewer than 2 CPUs): server and load generator share CPUs, so req/s is understated.'
  }
  progress(pinning)

  // Any valid key works as JACK_BOOTSTRAP_KEY; a fresh one per run keeps benchmark keys out of everything else.
  const key = `jack_${randomBytes(24).toString('hex')}`
  const rows: Row[] = []
  for (const backend of BACKENDS) rows.push(...await runBackend(backend, key, serverCpu))
  return printTable(rows, pinning) ? 0 : 1
}

async function cleanUp (): Promise<void> {
  // Servers first: PostgreSQL drops a database in use only by force, and PGlite's directory is locked while a server runs.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      await cleanup()
    } catch (error) {
      progress(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping servers and removing benchmark data`)
    cleanUp().finally(() => process.exit(130)).catch(() => {})
  })
}

try {
  process.exitCode = await main()
} catch (error) {
  progress(error instanceof Error ? error.stack ?? error.message : String(error))
  await cleanUp()
  process.exitCode = 1
}
