// argon2 verification on a few worker threads at the lowest CPU priority: a flood of bad keys gets the CPU the request thread leaves, never the request thread's own.
//
// @node-rs/argon2's async verify runs on libuv's shared thread pool at normal
// priority, so two verifications on a two-core machine (or one core, pinned)
// take CPU straight from the event loop serving everyone else. Linux keeps
// scheduling settings per thread, so only these threads are lowered: to
// SCHED_IDLE where `chrt` can set it (a waking request thread preempts an idle-
// policy thread at once, where a nice-19 one may first run out its time slice),
// else to nice 19. Both only ever lower a thread's priority, so need no privilege.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// Plain JavaScript run with `eval`, so the same code works from the compiled
// server and from TypeScript tests without a loader in the worker.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const { verifySync } = require(workerData.argon2Path)
try { os.setPriority(19) } catch {}
try {
  const threadId = fs.readlinkSync('/proc/thread-self').split('/').pop()
  execFileSync('chrt', ['--idle', '--pid', '0', threadId], { stdio: 'ignore', timeout: 5000 })
} catch {}
parentPort.on('message', ({ hash, key }) => {
  try {
    parentPort.postMessage({ matches: verifySync(hash, key) })
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) })
  }
})
`

const argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2')

interface Job {
  resolve: (matches: boolean) => void
  reject: (error: Error) => void
}

interface Slot {
  worker: Worker
  job: Job | undefined
}

export class Argon2Workers {
  private readonly slots: Slot[] = []
  private closed = false

  /** `size` threads at most, started on first use; callers keep to `size` verifications at once (the key verifier's semaphore does). */
  constructor (readonly size: number) {}

  async verify (hash: string, key: string): Promise<boolean> {
    if (this.closed) throw new Error('argon2 workers are closed')
    const slot = this.slots.find((candidate) => candidate.job === undefined) ?? this.startSlot()
    return await new Promise<boolean>((resolve, reject) => {
      slot.job = { resolve, reject }
      slot.worker.postMessage({ hash, key })
    })
  }

  async close (): Promise<void> {
    this.closed = true
    const slots = this.slots.splice(0)
    for (const slot of slots) slot.job?.reject(new Error('argon2 workers are closed'))
    await Promise.all(slots.map(async (slot) => await slot.worker.terminate()))
  }

  private startSlot (): Slot {
    if (this.slots.length >= this.size) throw new Error(`more than ${this.size} argon2 verifications at once`)
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2Path } })
    // Never what keeps the process alive.
    worker.unref()
    const slot: Slot = { worker, job: undefined }
    const finish = (settle: (job: Job) => void): void => {
      const job = slot.job
      slot.job = undefined
      if (job !== undefined) settle(job)
    }
    worker.on('message', (reply: { matches?: boolean, error?: string }) => {
      finish((job) => { if (reply.error === undefined) job.resolve(reply.matches === true); else job.reject(new Error(reply.error)) })
    })
    const replace = (error: Error): void => {
      finish((job) => { job.reject(error) })
      const index = this.slots.indexOf(slot)
      if (index !== -1) this.slots.splice(index, 1)
    }
    worker.on('error', replace)
    worker.on('exit', (code) => { if (!this.closed) replace(new Error(`argon2 worker exited with code ${code}`)) })
    this.slots.push(slot)
    return slot
  }
}
