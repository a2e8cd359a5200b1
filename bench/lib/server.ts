// Shared benchmark plumbing: build dist if stale, CPU pinning, fresh PGlite/PostgreSQL storage, the spawned server, and clean-up on exit or signal.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import postgres from 'postgres'

export type Backend = 'pglite' | 'postgres'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const SERVER_ENTRY = path.join(ROOT, 'dist', 'src', 'cli.js')
export const MAINTENANCE_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export function readBackends (): Backend[] {
  const raw = process.env.BENCH_BACKENDS
  if (raw === undefined || raw.trim() === '') return ['pglite', 'postgres']
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) {
    if (name !== 'pglite' && name !== 'postgres') throw new Error(`BENCH_BACKENDS: unknown backend "${name}" (use pglite, postgres)`)
  }
  return [...new Set(names as Backend[])]
}

export function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function hasCommand (command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Benchmarks run the compiled server (as deployed): scripts/build-if-stale.mjs rebuilds it when a source is newer, as `npm start` does. */
export function buildIfStale (): void {
  // Its chatter goes to stderr so stdout stays just the table.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-if-stale.mjs')], { cwd: ROOT, stdio: ['ignore', 2, 2] })
}

/**
 * Pins this process to CPU 1 and returns the CPU the server should take (0),
 * or undefined when pinning is impossible (no taskset, fewer than 2 CPUs).
 * Keeps the load generator off the server's core: with both on one core the
 * numbers would measure their contention rather than the server.
 */
export function pinBenchmark (): number | undefined {
  if (os.availableParallelism() < 2 || !hasCommand('taskset')) return undefined
  try {
    // -a covers the threads already running (tsx's loader, V8's helpers); later ones inherit.
    execFileSync('taskset', ['-a', '-c', '-p', '1', String(process.pid)], { stdio: 'ignore' })
    return 0
  } catch {
    return undefined
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

/** Fails early and clearly when the key does not authenticate, instead of benchmarking 401s. */
export async function checkKey (baseUrl: string, key: string): Promise<void> {
  const response = await fetch(`${baseUrl}/v1/keys`, { headers: { authorization: `Bearer ${key}` } })
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET /v1/keys with the bootstrap key answered ${response.status}: ${body}`)
}

/** Any valid key works as JACK_BOOTSTRAP_KEY; a fresh one per run keeps benchmark keys out of everything else. */
export function newBootstrapKey (): string {
  return `jack_${randomBytes(24).toString('hex')}`
}

/** The environment for a jack process: this one's, without jack's own settings (whatever the caller's shell has set must not leak into a case that sets them differently), plus `env`. */
function jackEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(childEnv)) {
    if (['DATABASE_URL', 'REDIS_URL', 'RATE_LIMIT_PER_MINUTE'].includes(name) || name.startsWith('JACK_')) delete childEnv[name]
  }
  return Object.assign(childEnv, env)
}

const execFileAsync = promisify(execFile)

/** `jack orgs create <name>` with the compiled CLI, as an operator would, on the storage `env` names; returns the new organisation and its first key. */
export async function createOrg (env: Record<string, string>, name: string): Promise<{ orgId: string, key: string }> {
  const { stdout } = await execFileAsync(process.execPath, [SERVER_ENTRY, 'orgs', 'create', name], { cwd: ROOT, env: jackEnv({ LOG_LEVEL: 'warn', ...env }) })
  const parsed = JSON.parse(stdout) as { org_id?: unknown, key?: unknown }
  if (typeof parsed.org_id !== 'string' || typeof parsed.key !== 'string') throw new Error(`jack orgs create printed an unexpected result: ${stdout}`)
  return { orgId: parsed.org_id, key: parsed.key }
}

// Warn and above; a warning during a run (say, failing background writes) makes its numbers suspect.
const WARN_LEVEL = 40
// Enough to show what went wrong without a chatty server growing the benchmark's memory.
const KEPT_WARNINGS = 200
const KEPT_OUTPUT_CHARS = 64_000

export class Server {
  private output = ''
  private partialLine = ''
  private readonly warningLines: string[] = []
  private warningCount = 0
  private readonly exited: Promise<number | null>
  private exitCode: number | null | undefined

  private constructor (private readonly child: ChildProcess, readonly baseUrl: string) {
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8')
      this.output = (this.output + text).slice(-KEPT_OUTPUT_CHARS)
      // Warnings are picked out as they arrive, so early ones survive even when the output tail moves on.
      const lines = (this.partialLine + text).split('\n')
      this.partialLine = lines.pop() ?? ''
      for (const line of lines) this.noteLine(line)
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

  /** Starts `node dist/src/cli.js serve` on a free port, optionally pinned to one CPU, and waits for /readyz. */
  static async start (env: Record<string, string>, pinCpu: number | undefined): Promise<Server> {
    const port = await freePort()
    // Benchmarks drive one organisation far past 60 requests a minute, so the
    // rate limit is off unless a case sets RATE_LIMIT_PER_MINUTE itself.
    const childEnv = jackEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0', ...env })
    const [command, args] = pinCpu === undefined
      ? [process.execPath, [SERVER_ENTRY, 'serve']]
      : ['taskset', ['-c', String(pinCpu), process.execPath, SERVER_ENTRY, 'serve']]
    const child = spawn(command, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    const server = new Server(child, `http://127.0.0.1:${port}`)
    await server.waitReady()
    return server
  }

  /** The server's own process: taskset execs node, so this is node, not a wrapper (for /proc sampling). */
  get pid (): number | undefined {
    return this.child.pid
  }

  /** Undefined while running; otherwise the exit code (-1 for a signal). */
  get exitStatus (): number | null | undefined {
    return this.exitCode
  }

  /** The last part of what the server printed, for error messages. */
  get outputTail (): string {
    return this.output
  }

  private noteLine (line: string): void {
    try {
      const parsed = JSON.parse(line) as { level?: unknown }
      if (typeof parsed.level !== 'number' || parsed.level < WARN_LEVEL) return
    } catch {
      return
    }
    this.warningCount++
    if (this.warningLines.length < KEPT_WARNINGS) this.warningLines.push(line)
  }

  /** Log lines at warn or above (the first KEPT_WARNINGS of them). */
  warnings (): string[] {
    return [...this.warningLines]
  }

  /** All log lines at warn or above, including those not kept. */
  get warningTotal (): number {
    return this.warningCount
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
    // The last line may lack its newline.
    if (this.partialLine !== '') this.noteLine(this.partialLine)
    this.partialLine = ''
    if (code !== 0) throw new Error(`server exited with code ${String(code)} after SIGTERM:\n${this.output}`)
  }
}

/** The database or data directory one backend runs on, created empty so the server bootstraps our key. */
export interface Storage {
  env: Record<string, string>
  /** The PostgreSQL database's name; undefined for PGlite. */
  databaseName: string | undefined
  dispose: () => Promise<void>
}

export async function createStorage (backend: Backend): Promise<Storage> {
  if (backend === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-bench-'))
    return {
      env: { JACK_DATA_DIR: dataDir },
      databaseName: undefined,
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
    databaseName: name,
    dispose: async () => {
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await admin.end({ timeout: 5 })
      }
    }
  }
}

const cleanups = new Set<() => Promise<void>>()

/** Registers a clean-up to run if the benchmark is interrupted or fails; call the returned function once it has run normally. */
export function onAbort (cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup)
  return () => { cleanups.delete(cleanup) }
}

/** Runs every registered clean-up, newest first. */
export async function cleanUp (): Promise<void> {
  // Servers first: PostgreSQL drops a database in use only by force, and PGlite's directory is locked while a server runs.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      await cleanup()
    } catch (error) {
      progress(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`)
    }
    cleanups.delete(cleanup)
  }
}

/** On Ctrl-C or SIGTERM, stop the servers and remove the benchmark's data before exiting. */
export function cleanUpOnSignals (): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping servers and removing benchmark data`)
      cleanUp().finally(() => process.exit(130)).catch(() => {})
    })
  }
}

/** Runs `work` on fresh storage for `backend`, removing it afterwards (also on failure or interruption). */
export async function withStorage<T> (backend: Backend, work: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await createStorage(backend)
  const forget = onAbort(storage.dispose)
  try {
    return await work(storage)
  } finally {
    forget()
    await storage.dispose()
  }
}

/**
 * Runs `work` against a started server and stops it afterwards (also on failure
 * or interruption); then prints its warn+ log lines under `label` and returns
 * them with the result, so the caller can count them against the run.
 */
export async function withServer<T> (label: string, env: Record<string, string>, pinCpu: number | undefined, work: (server: Server) => Promise<T>): Promise<{ result: T, warnings: string[], warningTotal: number }> {
  const server = await Server.start(env, pinCpu)
  const stop = async (): Promise<void> => { await server.stop() }
  const forget = onAbort(stop)
  let result: T
  try {
    result = await work(server)
  } finally {
    forget()
    await server.stop()
  }
  const warnings = server.warnings()
  for (const line of warnings) progress(`${label}: server warning: ${line}`)
  if (server.warningTotal > warnings.length) progress(`${label}: … and ${server.warningTotal - warnings.length} more server warnings`)
  return { result, warnings, warningTotal: server.warningTotal }
}

/** The command line's exit code: `main`'s, or 1 after cleaning up when it throws. */
export async function runMain (main: () => Promise<number>): Promise<void> {
  cleanUpOnSignals()
  try {
    process.exitCode = await main()
  } catch (error) {
    progress(error instanceof Error ? error.stack ?? error.message : String(error))
    await cleanUp()
    process.exitCode = 1
  }
}
