// Runs extraction and chunking on worker threads with a heap limit, so a hostile document can neither freeze the event loop nor crash the process.
//
// Why threads and not child processes: a thread starts in ~150 ms and shares
// the process's module cache on disk; V8 enforces `maxOldGenerationSizeMb`
// per thread (an over-limit heap ends the thread with ERR_WORKER_OUT_OF_MEMORY,
// the process lives on), and `terminate()` stops even a tight loop. Memory
// outside the JS heap (Buffers) is not counted, which is why extraction also
// bounds inflated sizes before it allocates (extract/).
import { Worker } from 'node:worker_threads'
import { ExtractionError } from './extract/extraction-error.js'
import type { ExtractionInput, ProcessedDocument } from './extract-and-chunk.js'

export type ThreadReply =
  | { ok: true, result: ProcessedDocument }
  | { ok: false, permanent: boolean, message: string }

export const MEMORY_LIMIT_MESSAGE = 'Document exceeds the memory limit while extracting'

export interface ExtractionPoolOptions {
  /** Threads at most; one document at a time each. */
  threads: number
  /** Each thread's JS heap limit. */
  memoryLimitMb: number
  /** Another thread entry (tests of the pool itself). */
  entry?: URL
}

/** The thread failed in a way another attempt may not repeat (it stopped unexpectedly, or jack's code threw): retried. */
export class ExtractionThreadError extends Error {
  override name = 'ExtractionThreadError'
}

/** The work was stopped by its signal (time limit or shutdown). */
export class ExtractionAbortedError extends Error {
  override name = 'ExtractionAbortedError'
}

const DEFAULT_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './extraction-thread.ts' : './extraction-thread.js', import.meta.url)

/**
 * Run from TypeScript sources (tests, `npm run dev`), a thread cannot load .ts
 * on Node 20: loader hooks registered with `--import tsx` do not reach worker
 * threads. The thread then starts from a line that loads the entry through
 * tsx's API; the compiled build starts from the .js entry directly.
 */
function spawn (entry: URL, memoryLimitMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: memoryLimitMb }
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { resourceLimits })
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(import.meta.url)}))`
  return new Worker(code, { eval: true, resourceLimits })
}

export class ExtractionPool {
  readonly stats = { started: 0, killed: 0 }
  private readonly idle: Worker[] = []
  private busy = 0
  private readonly waiting: Array<() => void> = []
  private closed = false

  constructor (private readonly options: ExtractionPoolOptions) {}

  /** Extracts and chunks in a thread; a thread that overran memory, was aborted or broke is discarded, never reused. */
  async run (input: ExtractionInput, signal: AbortSignal): Promise<ProcessedDocument> {
    const thread = await this.acquire(signal)
    let reusable = false
    try {
      const reply = await this.exchange(thread, input, signal)
      reusable = true
      if (reply.ok) return reply.result
      if (reply.permanent) throw new ExtractionError(reply.message)
      throw new ExtractionThreadError(reply.message)
    } finally {
      this.release(thread, reusable)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    for (const wake of this.waiting.splice(0)) wake()
    await Promise.all(this.idle.splice(0).map(async (thread) => await thread.terminate()))
  }

  private async acquire (signal: AbortSignal): Promise<Worker> {
    for (;;) {
      if (this.closed) throw new ExtractionAbortedError('The extraction pool is closed')
      signal.throwIfAborted()
      const thread = this.idle.pop()
      if (thread !== undefined) {
        this.busy++
        // A thread at work keeps the process alive; an idle one must not.
        thread.ref()
        return thread
      }
      if (this.busy < this.options.threads) {
        this.busy++
        this.stats.started++
        return spawn(this.options.entry ?? DEFAULT_ENTRY, this.options.memoryLimitMb)
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => { signal.removeEventListener('abort', wake); resolve() }
        this.waiting.push(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    }
  }

  private release (thread: Worker, reusable: boolean): void {
    this.busy--
    if (reusable && !this.closed) {
      thread.unref()
      this.idle.push(thread)
    } else {
      this.stats.killed++
      thread.terminate().catch(() => {})
    }
    this.waiting.shift()?.()
  }

  private async exchange (thread: Worker, input: ExtractionInput, signal: AbortSignal): Promise<ThreadReply> {
    return await new Promise<ThreadReply>((resolve, reject) => {
      const cleanup = (): void => {
        thread.off('message', onMessage)
        thread.off('error', onError)
        thread.off('exit', onExit)
        signal.removeEventListener('abort', onAbort)
      }
      const onMessage = (reply: ThreadReply): void => { cleanup(); resolve(reply) }
      const onError = (error: Error & { code?: string }): void => {
        cleanup()
        reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new ExtractionError(MEMORY_LIMIT_MESSAGE) : new ExtractionThreadError(`The extraction thread failed: ${error.message}`))
      }
      const onExit = (code: number): void => { cleanup(); reject(new ExtractionThreadError(`The extraction thread stopped unexpectedly (exit code ${code})`)) }
      const onAbort = (): void => { cleanup(); reject(new ExtractionAbortedError('Extraction was stopped')) }
      if (signal.aborted) { onAbort(); return }
      thread.on('message', onMessage)
      thread.on('error', onError)
      thread.on('exit', onExit)
      signal.addEventListener('abort', onAbort, { once: true })
      thread.postMessage(input)
    })
  }
}
