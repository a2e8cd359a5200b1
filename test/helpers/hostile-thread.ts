// An extraction-thread stand-in that misbehaves on request (spin forever, exhaust its heap, exit), for the pool's tests.
import { parentPort } from 'node:worker_threads'
import type { ExtractionInput } from '../../src/ingest/extract-and-chunk.js'
import type { ThreadReply } from '../../src/ingest/extraction-pool.js'

const port = parentPort
if (port === null) throw new Error('hostile-thread.ts runs only as a worker thread')

port.on('message', (input: ExtractionInput) => {
  const command = 'text' in input ? input.text : ''
  if (command === 'spin') for (;;);
  if (command === 'allocate') {
    const hoard: number[][] = []
    for (;;) hoard.push(new Array<number>(100_000).fill(hoard.length))
  }
  if (command === 'exit') process.exit(3)
  if (command === 'throw') throw new Error('a bug in the thread')
  port.postMessage({ ok: true, result: { chunks: [{ index: 0, text: command, tokenCount: 1, start: 0, end: command.length }], format: 'text' } } satisfies ThreadReply)
})
