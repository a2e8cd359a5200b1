// Benchmark: a legitimate client's query latency, alone and while 1,000 requests/s of bad keys with its key's prefix arrive from other (real, distinct) source addresses, against the compiled server on PostgreSQL.
//
// The attack runs in a child process (this file, with the argument `attack`), binding each
// connection to a loopback source address of its own (127.x.y.z; Linux routes
// all of 127/8 to lo), so the server sees distinct clients without trusting
// X-Forwarded-For. Two attacks: a few addresses (what the per-address failure
// throttle answers) and many (what only the argon2 bound answers).
import { performance } from 'node:perf_hooks'
import os from 'node:os'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { Pool } from 'undici'
import { cpuSeconds } from './lib/proc.js'
import { buildIfStale, checkKey, newBootstrapKey, onAbort, pinBenchmark, progress, runMain, sleep, withServer, withStorage } from './lib/server.js'

interface AttackOptions {
  baseUrl: string
  ratePerSecond: number
  addresses: string[]
  keyPrefix: string
  durationMs: number
}

interface AttackResult {
  sent: number
  skipped: number
  statuses: Record<string, number>
  errors: number
  elapsedMs: number
}

// Requests the attacker keeps in flight at most; beyond it a tick's requests are skipped (and counted), so a slow server cannot make the generator balloon.
const MAX_IN_FLIGHT = 4000
const TICK_MS = 10

async function attack (options: AttackOptions): Promise<AttackResult> {
  const pools = options.addresses.map((localAddress) => new Pool(options.baseUrl, { connections: 4, pipelining: 1, localAddress }))
  const result: AttackResult = { sent: 0, skipped: 0, statuses: {}, errors: 0, elapsedMs: 0 }
  const pending = new Set<Promise<void>>()
  const start = performance.now()
  let next = 0
  let due = 0
  const send = (pool: Pool): void => {
    const key = `${options.keyPrefix}${randomBytes(19).toString('hex').slice(0, 37)}`
    const request = pool.request({ path: '/v1/keys', method: 'GET', headers: { authorization: `Bearer ${key}` } })
      .then(async ({ statusCode, body }) => {
        const text = await body.text()
        // The three refusals are told apart by their detail.
        const kind = statusCode !== 429 ? String(statusCode) : text.includes('failed authentication') ? '429 throttled' : text.includes('in progress') ? '429 busy' : '429 other'
        result.statuses[kind] = (result.statuses[kind] ?? 0) + 1
      })
      .catch(() => { result.errors++ })
      .finally(() => { pending.delete(request) })
    pending.add(request)
    result.sent++
  }
  while (performance.now() - start < options.durationMs) {
    // Open loop: what is due by now is sent, whatever the server's pace.
    const target = Math.floor(((performance.now() - start) / 1000) * options.ratePerSecond)
    for (; due < target; due++) {
      if (pending.size >= MAX_IN_FLIGHT) { result.skipped++; continue }
      send(pools[next++ % pools.length] as Pool)
    }
    await sleep(TICK_MS)
  }
  result.elapsedMs = performance.now() - start
  await Promise.allSettled([...pending])
  await Promise.all(pools.map(async (pool) => { await pool.close() }))
  return result
}

const IS_ATTACKER = process.argv[2] === 'attack'
if (IS_ATTACKER) {
  process.once('message', (options: AttackOptions) => {
    attack(options).then((result) => { process.send?.(result, () => process.exit(0)) }, (error: unknown) => {
      process.stderr.write(`attacker: ${String(error)}\n`)
      process.exit(1)
    })
  })
}

const SECONDS = Number(process.env.BENCH_SECONDS ?? '10')
// Cases are interleaved over several rounds and their samples pooled, so the machine's own drift spreads over all of them alike.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3')
const LEGIT_RATE = 20
const ATTACK_RATE = 1000
const GOAL_RATIO = 2

interface LatencySamples {
  latencies: number[]
  failures: Record<string, number>
}

function percentile (sorted: number[], share: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] as number
}

const QUESTIONS = [
  'How many days do refunds take?',
  'Who approves remote work?',
  'When are expense reports due?',
  'What is the notice period for resignation?',
  'How much parental leave do employees get?'
]

const DOCUMENTS = [
  'Refunds are issued within 30 days of purchase. Items must be unused and in their original packaging.',
  'Employees may work remotely up to 3 days per week with manager approval. Remote work requests are approved by the line manager.',
  'Expense reports are due by the fifth working day of the following month. Late reports are paid in the next cycle.',
  'The notice period for resignation is four weeks for staff and eight weeks for managers.',
  'Employees get sixteen weeks of paid parental leave, which can be taken in up to three blocks.'
]

/**
 * The legitimate client: POST /v1/query at a steady LEGIT_RATE (open loop, so a
 * slow response does not hide the next one's wait), latency measured from the
 * moment each request was due.
 */
async function measureLegitimate (baseUrl: string, key: string, durationMs: number): Promise<LatencySamples> {
  const pool = new Pool(baseUrl, { connections: 8, pipelining: 1 })
  const latencies: number[] = []
  const failures: Record<string, number> = {}
  const requests: Array<Promise<void>> = []
  const start = performance.now()
  const total = Math.floor((durationMs / 1000) * LEGIT_RATE)
  for (let i = 0; i < total; i++) {
    const dueAt = start + (i * 1000) / LEGIT_RATE
    const wait = dueAt - performance.now()
    if (wait > 0) await sleep(wait)
    requests.push(pool.request({
      path: '/v1/query',
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ question: QUESTIONS[i % QUESTIONS.length] })
    }).then(async ({ statusCode, body }) => {
      await body.text()
      if (statusCode === 200) latencies.push(performance.now() - dueAt)
      else failures[String(statusCode)] = (failures[String(statusCode)] ?? 0) + 1
    }).catch(() => { failures.error = (failures.error ?? 0) + 1 }))
  }
  await Promise.all(requests)
  await pool.close()
  return { latencies, failures }
}

/** Runs the attack in a child process: its own event loop and CPU time, so the legitimate client's timings are not the attacker's. */
async function runAttack (options: AttackOptions): Promise<AttackResult> {
  // It inherits this process's CPU pinning.
  const child = fork(fileURLToPath(import.meta.url), ['attack'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const forget = onAbort(async () => { child.kill('SIGKILL') })
  try {
    return await new Promise((resolve, reject) => {
      child.once('message', (result) => { resolve(result as AttackResult) })
      child.once('error', reject)
      child.once('exit', (code) => { if (code !== 0) reject(new Error(`the attacker exited with ${String(code)}`)) })
      child.send(options)
    })
  } finally {
    forget()
  }
}

function addresses (subnet: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.${subnet}.${Math.floor(i / 250)}.${(i % 250) + 2}`)
}

interface Row {
  label: string
  latencies: number[]
  failures: Record<string, number>
  attack: AttackResult | undefined
  /** The server process's CPU seconds (user + system) over the measured spans. */
  serverCpuSeconds: number
  seconds: number
}

function addTo (rows: Map<string, Row>, label: string, samples: LatencySamples, cpu: number, seconds: number, attack?: AttackResult): void {
  const row = rows.get(label) ?? { label, latencies: [], failures: {}, attack: undefined, serverCpuSeconds: 0, seconds: 0 }
  row.latencies.push(...samples.latencies)
  for (const [status, count] of Object.entries(samples.failures)) row.failures[status] = (row.failures[status] ?? 0) + count
  row.serverCpuSeconds += cpu
  row.seconds += seconds
  if (attack !== undefined) {
    const total = row.attack ?? { sent: 0, skipped: 0, statuses: {}, errors: 0, elapsedMs: 0 }
    total.sent += attack.sent
    total.skipped += attack.skipped
    total.errors += attack.errors
    total.elapsedMs += attack.elapsedMs
    for (const [status, count] of Object.entries(attack.statuses)) total.statuses[status] = (total.statuses[status] ?? 0) + count
    row.attack = total
  }
  rows.set(label, row)
}

/** User + system CPU seconds the server has used so far (0 when it cannot be read). */
function serverCpuSeconds (pid: number | undefined): number {
  return pid === undefined ? 0 : cpuSeconds(pid) ?? 0
}

/** Runs `work`, returning its result with the server's CPU seconds and the wall seconds it took. */
async function withCpu<T> (pid: number | undefined, work: () => Promise<T>): Promise<{ result: T, cpu: number, seconds: number }> {
  const cpuBefore = serverCpuSeconds(pid)
  const start = performance.now()
  const result = await work()
  return { result, cpu: serverCpuSeconds(pid) - cpuBefore, seconds: (performance.now() - start) / 1000 }
}

async function ingestDocuments (baseUrl: string, key: string): Promise<void> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const documents = Array.from({ length: 50 }, (_, i) => ({ text: `${DOCUMENTS[i % DOCUMENTS.length] ?? ''} (Policy ${i + 1}.)`, metadata: { department: i % 2 === 0 ? 'HR' : 'finance' } }))
  const response = await fetch(`${baseUrl}/v1/ingest`, { method: 'POST', headers, body: JSON.stringify({ documents }) })
  if (response.status !== 202) throw new Error(`POST /v1/ingest answered ${response.status}: ${await response.text()}`)
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const listing = await (await fetch(`${baseUrl}/v1/documents?status=ready&limit=1000`, { headers })).json() as unknown[]
    if (listing.length === documents.length) return
    await sleep(200)
  }
  throw new Error('the documents were not ready within 60 s')
}

function formatMs (value: number): string {
  return Number.isNaN(value) ? '—' : value.toFixed(1)
}

function describeAttack (attack: AttackResult | undefined): string {
  if (attack === undefined) return ''
  const statuses = Object.entries(attack.statuses).sort(([a], [b]) => a.localeCompare(b)).map(([status, count]) => `${status}×${count}`).join(', ')
  return `${(attack.sent / (attack.elapsedMs / 1000)).toFixed(0)} req/s sent (${statuses}${attack.errors > 0 ? `, errors×${attack.errors}` : ''}${attack.skipped > 0 ? `, skipped×${attack.skipped}` : ''})`
}

async function main (): Promise<number> {
  buildIfStale()
  // BENCH_PIN=0 leaves placement to the scheduler (when other work on the machine is pinned to CPU 0 too).
  const serverCpu = process.env.BENCH_PIN === '0' ? undefined : pinBenchmark()
  const pinning = serverCpu === undefined
    ? 'NOT pinned (BENCH_PIN=0, no taskset, or fewer than 2 CPUs): server, attacker and client share CPUs.'
    : 'Pinned: server on CPU 0, attacker process and legitimate client on CPU 1 (PostgreSQL itself unpinned).'
  progress(pinning)
  const key = newBootstrapKey()
  const durationMs = SECONDS * 1000
  const rows = new Map<string, Row>()
  let warningTotal = 0
  await withStorage('postgres', async (storage) => {
    // The rate limit on (so its statement is part of every legitimate request) but high enough never to refuse the client.
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key, RATE_LIMIT_PER_MINUTE: '1000000' }
    const run = await withServer('postgres', env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      progress('ingesting 50 small documents')
      await ingestDocuments(server.baseUrl, key)
      progress('warming up (3 s)')
      await measureLegitimate(server.baseUrl, key, 3000)

      for (let round = 0; round < ROUNDS; round++) {
        progress(`round ${round + 1} of ${ROUNDS}: unloaded, the legitimate client alone at ${LEGIT_RATE} queries/s for ${SECONDS} s`)
        const unloaded = await withCpu(server.pid, async () => await measureLegitimate(server.baseUrl, key, durationMs))
        addTo(rows, 'unloaded', unloaded.result, unloaded.cpu, unloaded.seconds)
        // Fresh source addresses each round, so each round starts the attack from scratch (its first failures do run argon2).
        const scenarios = [
          { label: `${ATTACK_RATE}/s bad keys, 10 addresses`, addresses: addresses(10 + round, 10) },
          { label: `${ATTACK_RATE}/s bad keys, 1,000 addresses`, addresses: addresses(20 + round, 1000) }
        ]
        for (const scenario of scenarios) {
          progress(`round ${round + 1} of ${ROUNDS}: ${scenario.label}, legitimate client measured for ${SECONDS} s`)
          const attacking = runAttack({ baseUrl: server.baseUrl, ratePerSecond: ATTACK_RATE, addresses: scenario.addresses, keyPrefix: key.slice(0, 16), durationMs: durationMs + 2000 })
          await sleep(1000) // the attack reaches full rate first
          const loaded = await withCpu(server.pid, async () => await measureLegitimate(server.baseUrl, key, durationMs))
          addTo(rows, scenario.label, loaded.result, loaded.cpu, loaded.seconds, await attacking)
          await sleep(2000)
        }
      }
      await sleep(1000)
    })
    warningTotal = run.warningTotal
  })

  const p99Of = (row: Row | undefined): number => percentile([...(row?.latencies ?? [])].sort((a, b) => a - b), 0.99)
  const quiet = rows.get('unloaded')
  const baseline = p99Of(quiet)
  const lines: string[] = []
  const header = `${'case'.padEnd(34)}${'queries'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}${'p99 ÷ unloaded'.padStart(16)}${'server CPU'.padStart(12)}  attack`
  lines.push(header, '-'.repeat(header.length + 40))
  let goalMet = true
  for (const row of rows.values()) {
    const sorted = [...row.latencies].sort((a, b) => a - b)
    const ratio = percentile(sorted, 0.99) / baseline
    const failed = Object.entries(row.failures).map(([status, count]) => `${status}×${count}`).join(', ')
    if (row.attack !== undefined && ratio > GOAL_RATIO) goalMet = false
    if (failed !== '') goalMet = false
    lines.push(`${row.label.padEnd(34)}${String(sorted.length).padStart(8)}${formatMs(percentile(sorted, 0.5)).padStart(9)}${formatMs(percentile(sorted, 0.99)).padStart(9)}${formatMs(sorted.at(-1) ?? Number.NaN).padStart(9)}` +
      `${`${ratio.toFixed(2)}×`.padStart(16)}${`${((100 * row.serverCpuSeconds) / row.seconds).toFixed(0)} %`.padStart(12)}  ${describeAttack(row.attack)}${failed === '' ? '' : `  <-- LEGITIMATE REQUESTS FAILED: ${failed}`}`)
  }
  for (const row of rows.values()) {
    if (row.attack === undefined || quiet === undefined) continue
    const attackPerSecond = row.attack.sent / (row.attack.elapsedMs / 1000)
    const extraCpu = row.serverCpuSeconds / row.seconds - quiet.serverCpuSeconds / quiet.seconds
    lines.push(`${row.label}: the attack cost the server ${((extraCpu * 1e6) / attackPerSecond).toFixed(0)} µs of CPU per request (${(100 * extraCpu).toFixed(0)} % of a core), argon2 included.`)
  }
  lines.push('')
  lines.push('server CPU: user + system time of the server process over the measured span, as a share of one core.')
  lines.push(`${ROUNDS} rounds of ${SECONDS} s per case, interleaved (unloaded, then each attack), samples pooled per case.`)
  lines.push(`Legitimate client: POST /v1/query (extractive, 50 documents) at ${LEGIT_RATE}/s open loop, latency from when each was due; its key is cached after the first request.`)
  lines.push(`Attack: GET /v1/keys with keys of the legitimate key's prefix and random secrets (each needs a lookup and argon2 unless refused first), ${ATTACK_RATE}/s open loop from a child process, 4 connections per source address.`)
  lines.push('Server defaults: JACK_AUTH_FAILURES_PER_MINUTE=20, JACK_ARGON2_CONCURRENCY=2, JACK_ARGON2_QUEUE=32; RATE_LIMIT_PER_MINUTE=1000000 (counted in PostgreSQL, never refusing).')
  lines.push(`Goal: p99 under attack ≤ ${GOAL_RATIO}× the unloaded p99, with no legitimate request refused: ${goalMet ? 'met' : 'NOT MET'}.`)
  lines.push(pinning)
  lines.push(`Load average at the end (1/5/15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')} on ${os.cpus().length} CPUs.`)
  if (warningTotal > 0) lines.push(`The server logged ${warningTotal} warnings (printed above).`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return goalMet ? 0 : 1
}

if (!IS_ATTACKER) await runMain(main)
