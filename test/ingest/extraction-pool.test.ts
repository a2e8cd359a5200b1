import t from 'tap'
import { ExtractionAbortedError, ExtractionPool, ExtractionThreadError, MEMORY_LIMIT_MESSAGE } from '../../src/ingest/extraction-pool.js'
import { ExtractionError } from '../../src/ingest/extract/extraction-error.js'
import { chunkText } from '../../src/ingest/chunker.js'

const hostileEntry = new URL('../helpers/hostile-thread.ts', import.meta.url)
const command = (text: string) => ({ text, format: 'text' as const, chunkSize: 128, chunkOverlap: 0 })
const never = new AbortController().signal

/** The worst delay of a 10 ms timer on this thread while `work` runs: how blocked the event loop was. */
async function worstTimerLag<T> (work: Promise<T>): Promise<{ lagMs: number, outcome: PromiseSettledResult<T> }> {
  let worst = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last - 10)
    last = now
  }, 10)
  const [outcome] = await Promise.allSettled([work])
  clearInterval(timer)
  return { lagMs: worst, outcome: outcome as PromiseSettledResult<T> }
}

t.test('chunks in a thread exactly as chunkText does here', async (t) => {
  const pool = new ExtractionPool({ threads: 1, memoryLimitMb: 256 })
  t.teardown(async () => { await pool.close() })
  const text = Array.from({ length: 400 }, (_, i) => `Sentence number ${i} of the handbook says something.`).join(' ')
  const result = await pool.run({ text, format: 'text', chunkSize: 128, chunkOverlap: 16 }, never)
  t.same(result.chunks, chunkText(text, { chunkSize: 128, chunkOverlap: 16 }))
  t.equal(result.format, 'text')
  t.rejects(pool.run({ text: '   ', format: 'text', chunkSize: 128, chunkOverlap: 0 }, never), new ExtractionError('The document has no text'), 'a thread\'s ExtractionError keeps its message')
})

t.test('a thread that exhausts its heap fails the document, not the process, and the pool goes on', async (t) => {
  const pool = new ExtractionPool({ threads: 1, memoryLimitMb: 64, entry: hostileEntry })
  t.teardown(async () => { await pool.close() })
  const { lagMs, outcome } = await worstTimerLag(pool.run(command('allocate'), never))
  t.equal(outcome.status, 'rejected')
  const reason = (outcome as PromiseRejectedResult).reason as Error
  t.ok(reason instanceof ExtractionError, 'a permanent failure')
  t.equal(reason.message, MEMORY_LIMIT_MESSAGE)
  t.ok(lagMs < 1000, `the event loop kept running (worst timer lag ${Math.round(lagMs)} ms)`)
  t.same((await pool.run(command('fine'), never)).chunks[0]?.text, 'fine', 'a new thread serves the next document')
  t.same(pool.stats, { started: 2, killed: 1 })
})

t.test('aborting stops a thread that never yields', async (t) => {
  const pool = new ExtractionPool({ threads: 1, memoryLimitMb: 64, entry: hostileEntry })
  t.teardown(async () => { await pool.close() })
  const controller = new AbortController()
  const started = Date.now()
  setTimeout(() => controller.abort(), 300)
  const { lagMs, outcome } = await worstTimerLag(pool.run(command('spin'), controller.signal))
  t.equal(outcome.status, 'rejected')
  t.ok((outcome as PromiseRejectedResult).reason instanceof ExtractionAbortedError)
  t.ok(Date.now() - started < 5000, 'stopped soon after the abort')
  t.ok(lagMs < 1000, `the event loop kept running (worst timer lag ${Math.round(lagMs)} ms)`)
  t.same((await pool.run(command('after'), never)).chunks[0]?.text, 'after')
})

t.test('a thread that exits or throws is a retryable failure', async (t) => {
  const pool = new ExtractionPool({ threads: 2, memoryLimitMb: 64, entry: hostileEntry })
  t.teardown(async () => { await pool.close() })
  await t.rejects(pool.run(command('exit'), never), ExtractionThreadError)
  await t.rejects(pool.run(command('throw'), never), ExtractionThreadError)
  t.same((await pool.run(command('still here'), never)).chunks[0]?.text, 'still here')
})

t.test('more documents than threads wait for a free one; a closed pool refuses', async (t) => {
  const pool = new ExtractionPool({ threads: 2, memoryLimitMb: 64, entry: hostileEntry })
  const results = await Promise.all(Array.from({ length: 6 }, async (_, i) => await pool.run(command(`document ${i}`), never)))
  t.same(results.map((result) => result.chunks[0]?.text), Array.from({ length: 6 }, (_, i) => `document ${i}`))
  t.equal(pool.stats.started, 2, 'never more threads than allowed')
  await pool.close()
  await t.rejects(pool.run(command('late'), never), ExtractionAbortedError)
})
