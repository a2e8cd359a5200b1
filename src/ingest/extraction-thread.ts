// Entry of an extraction thread: runs one extractAndChunk at a time for the ExtractionPool and posts back its chunks or its failure.
import { parentPort } from 'node:worker_threads'
import { extractAndChunk, type ExtractionInput } from './extract-and-chunk.js'
import { ExtractionError } from './extract/extraction-error.js'
import { MEMORY_LIMIT_MESSAGE, type ThreadReply } from './extraction-pool.js'

const port = parentPort
if (port === null) throw new Error('extraction-thread.ts runs only as a worker thread')

port.on('message', (input: ExtractionInput) => {
  extractAndChunk(input).then(
    (result) => { port.postMessage({ ok: true, result } satisfies ThreadReply) },
    (error: unknown) => {
      // Only a sentence crosses the thread boundary: an ExtractionError's is written for the API's users; anything else is jack's bug, retried.
      if (error instanceof ExtractionError) {
        port.postMessage({ ok: false, permanent: true, message: error.message } satisfies ThreadReply)
      } else if (error instanceof RangeError) {
        // A string past V8's maximum length, or a parser's recursion past the stack: the same document fails the same way every time.
        port.postMessage({ ok: false, permanent: true, message: MEMORY_LIMIT_MESSAGE } satisfies ThreadReply)
      } else {
        port.postMessage({ ok: false, permanent: false, message: error instanceof Error ? error.message : String(error) } satisfies ThreadReply)
      }
    }
  )
})
