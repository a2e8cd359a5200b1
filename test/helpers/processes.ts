// Runs the real `jack` CLI as a child process (node --import tsx src/cli.ts …); every wait has a timeout and every child dies at teardown.
import { spawn, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { packageRoot } from '../../src/package-root.js'
import type { TestDatabase } from './database.js'

/** Long enough for a slow CI machine, short enough that a stuck child fails the test instead of hanging it. */
export const PROCESS_TIMEOUT_MS = 30_000

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface JackProcess {
  child: ChildProcess
  pid: number
  /** Everything written so far (the getters read the live buffers). */
  readonly stdout: string
  readonly stderr: string
  /** Settles when the process has exited and its output streams are drained. */
  exited: Promise<Exit>
  /** Resolves with the first match of `pattern` on stdout; rejects on exit or timeout. */
  waitForStdout: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  /** Resolves with the exit; kills the process and rejects when it has not exited within `timeoutMs`. */
  waitForExit: (timeoutMs?: number) => Promise<Exit>
}

/**
 * The environment the CLI runs with: the test process's own, minus anything
 * that would point it elsewhere, plus the test database. LOG_LEVEL is info
 * because Fastify logs "Server listening at …" (the only way to learn the
 * port PORT=0 picked) at info.
 */
export function jackEnv (testDatabase: Pick<TestDatabase, 'databaseUrl' | 'dataDir'>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', JACK_DATA_DIR: testDatabase.dataDir }
  delete env.DATABASE_URL
  delete env.JACK_BOOTSTRAP_KEY
  if (testDatabase.databaseUrl !== undefined) env.DATABASE_URL = testDatabase.databaseUrl
  return { ...env, ...extra }
}

function describe (args: string[], proc: { stdout: string, stderr: string }): string {
  return `jack ${args.join(' ')}\n--- stdout ---\n${proc.stdout}\n--- stderr ---\n${proc.stderr}`
}

export function spawnJack (t: Test, args: string[], env: NodeJS.ProcessEnv): JackProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: packageRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  if (child.pid === undefined) throw new Error(`could not spawn jack ${args.join(' ')}`)
  let stdout = ''
  let stderr = ''
  const stdoutListeners = new Set<() => void>()
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const listener of stdoutListeners) listener()
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  let exit: Exit | undefined
  // 'close' (not 'exit') so stdout and stderr are complete when it settles.
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      exit = { code, signal }
      for (const listener of stdoutListeners) listener()
      resolve(exit)
    })
  })

  const proc: JackProcess = {
    child,
    pid: child.pid,
    get stdout () { return stdout },
    get stderr () { return stderr },
    exited,
    waitForStdout: async (pattern, timeoutMs = PROCESS_TIMEOUT_MS) => await new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        stdoutListeners.delete(check)
      }
      const check = (): void => {
        const match = stdout.match(pattern)
        if (match !== null) {
          done()
          resolve(match)
        } else if (exit !== undefined) {
          done()
          reject(new Error(`exited (code ${String(exit.code)}, signal ${String(exit.signal)}) before printing ${String(pattern)}: ${describe(args, proc)}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        child.kill('SIGKILL')
        reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms: ${describe(args, proc)}`))
      }, timeoutMs)
      stdoutListeners.add(check)
      check()
    }),
    waitForExit: async (timeoutMs = PROCESS_TIMEOUT_MS) => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`did not exit within ${timeoutMs} ms: ${describe(args, proc)}`))
        }, timeoutMs)
      })
      try {
        return await Promise.race([exited, timeout])
      } finally {
        clearTimeout(timer)
      }
    }
  }

  t.teardown(async () => {
    if (exit !== undefined) return
    child.kill('SIGKILL')
    // Bounded, and never throws: a teardown that throws skips the ones after it.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  })
  return proc
}

export interface RunResult extends Exit {
  stdout: string
  stderr: string
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number
}

/** Runs a command to completion. */
export async function runJack (t: Test, args: string[], env: NodeJS.ProcessEnv, timeoutMs = PROCESS_TIMEOUT_MS): Promise<RunResult> {
  const started = performance.now()
  const proc = spawnJack(t, args, env)
  const exit = await proc.waitForExit(timeoutMs)
  return { ...exit, stdout: proc.stdout, stderr: proc.stderr, ms: performance.now() - started }
}

export interface RunningServer {
  proc: JackProcess
  port: number
  baseUrl: string
  /** SIGTERM, then the exit (rejects if it takes longer than `timeoutMs`). */
  stop: (timeoutMs?: number) => Promise<Exit>
}

const LISTENING = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/

/** Starts `jack serve` and waits until it listens. */
export async function startServe (t: Test, env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const proc = spawnJack(t, ['serve'], env)
  const match = await proc.waitForStdout(LISTENING)
  const port = Number(match[1])
  return {
    proc,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    stop: async (timeoutMs = 10_000) => {
      proc.child.kill('SIGTERM')
      return await proc.waitForExit(timeoutMs)
    }
  }
}

export interface HttpResponse {
  status: number
  body: string
  json: <T = any>() => T
}

/** A real HTTP request to a running server, with a key if given. */
export async function httpGet (server: RunningServer, path: string, key?: string): Promise<HttpResponse> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(10_000)
  })
  const body = await response.text()
  return { status: response.status, body, json: <T>() => JSON.parse(body) as T }
}
