// Closing over real HTTP: a keep-alive client's request or answer stream in flight is completed, and its connection does not hold the close open.
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { Client } from 'undici'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { waitForDocument } from '../helpers/documents.js'
import { chunk, startEvents, startLlmServer, withinMs } from '../helpers/llm-server.js'

/**
 * Puts the app on a free port and returns a client of it (destroyed at teardown) that keeps its connection open as
 * long as the server lets it (undici's own default gives up after 4 s idle), as a long-lived client would.
 */
async function listenWithKeepAliveClient (t: Test, app: FastifyInstance): Promise<Client> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const client = new Client(`http://127.0.0.1:${port}`, { keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 })
  t.teardown(async () => { await client.destroy() })
  return client
}

interface Closing {
  /** When close() finished (performance.now()), once it has. */
  readonly closedAt: number | undefined
  /** Waits up to `ms` for close() to finish and tells whether it has; close()'s own error is thrown. */
  finishedWithin: (ms: number) => Promise<boolean>
}

/** Starts app.close() and waits, up to 5 s, for the server to stop listening (the caller asserts that it did). */
async function beginClose (app: FastifyInstance): Promise<Closing> {
  let closedAt: number | undefined
  const closed = app.close().then(() => { closedAt = performance.now() })
  closed.catch(() => {}) // awaited by finishedWithin
  for (let waited = 0; app.server.listening && waited < 5000; waited += 10) await sleep(10)
  return {
    get closedAt () { return closedAt },
    finishedWithin: async (ms) => {
      await Promise.race([closed, sleep(ms, undefined, { ref: false })])
      return closedAt !== undefined
    }
  }
}

t.test('a request in flight when the app closes gets its reply, and its keep-alive connection then closes', async (t) => {
  const { app, database } = await buildTestApp(t)
  const org = await createOrgWithKey(database)
  const client = await listenWithKeepAliveClient(t, app)

  // The body is held back after its first bytes, so the request is still in flight when close() begins.
  const body = Buffer.from(JSON.stringify({ documents: [{ text: 'Sent while the server closes.' }] }))
  let releaseRest: () => void = () => {}
  const rest = new Promise<void>((resolve) => { releaseRest = resolve })
  async function * slowBody (): AsyncGenerator<Buffer> {
    yield body.subarray(0, 10)
    await rest
    yield body.subarray(10)
  }
  const arrived = new Promise<void>((resolve) => app.server.once('request', () => resolve()))
  const response = client.request({
    path: '/v1/ingest',
    method: 'POST',
    headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json', 'content-length': String(body.length) },
    body: Readable.from(slowBody())
  })
  response.catch(() => {}) // awaited below
  await withinMs(arrived, 5000, 'the request arriving')

  const closeStarted = performance.now()
  const closing = await beginClose(app)
  t.notOk(app.server.listening, 'the server stops listening while the request is in flight')
  t.equal(closing.closedAt, undefined, 'and close() waits for the request')

  releaseRest()
  const reply = await response
  t.equal(reply.statusCode, 202, 'the request gets its normal reply')
  t.match(await reply.body.json(), { status: 'accepted', queued: 1 }, 'accepted')
  t.equal(reply.headers.connection, 'close', 'saying the connection closes')

  // Without this the keep-alive connection would hold close() open for Fastify's 72 s keepAliveTimeout.
  const finished = await closing.finishedWithin(5000)
  t.ok(finished, `close() finished within 5 s of the reply, ${Math.round((closing.closedAt ?? NaN) - closeStarted)} ms after it began`)
})

t.test('an answer streamed when the app closes is completed, and its keep-alive connection then closes', async (t) => {
  // The model sends its first words, then holds the rest until the app is closing.
  let releaseAnswer: () => void = () => {}
  const answerHeld = new Promise<void>((resolve) => { releaseAnswer = resolve })
  let modelStarted: () => void = () => {}
  const modelAnswering = new Promise<void>((resolve) => { modelStarted = resolve })
  const llm = await startLlmServer(t, async (_request, response) => {
    startEvents(response)
    response.write(chunk({ role: 'assistant', content: '' }))
    response.write(chunk({ content: 'Refunds take ' }))
    modelStarted()
    await answerHeld
    response.write(chunk({ content: '30 days.' }))
    response.write(chunk({}, 'stop'))
    response.end('data: [DONE]\n\n')
  })
  const { app, database } = await buildTestApp(t, { config: { workers: 1, llm: { baseUrl: llm.baseUrl, model: 'test-model', timeoutMs: 10_000 } } })
  const org = await createOrgWithKey(database)
  const ingested = await app.inject({
    method: 'POST',
    url: '/v1/ingest',
    headers: { authorization: `Bearer ${org.key}` },
    payload: { documents: [{ text: 'Refunds are issued within 30 days of purchase.' }] }
  })
  const id = ingested.json<{ document_ids: string[] }>().document_ids[0] ?? ''
  t.equal((await waitForDocument(app, org.key, id)).status, 'ready', 'a document to answer from')

  const client = await listenWithKeepAliveClient(t, app)
  const response = client.request({
    path: '/v1/query/stream',
    method: 'POST',
    headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ question: 'How long do refunds take?' })
  })
  response.catch(() => {}) // awaited below
  await withinMs(modelAnswering, 5000, 'the model being asked')

  const closing = await beginClose(app)
  t.notOk(app.server.listening, 'the server stops listening while the answer streams')

  releaseAnswer()
  const reply = await response
  t.equal(reply.statusCode, 200, 'the stream was under way')
  const events = await reply.body.text()
  t.match(events, /event: done\ndata: \{"answer":"Refunds take 30 days\."/, 'and ends with the whole answer')
  const answeredAt = performance.now()
  const finished = await closing.finishedWithin(5000)
  t.ok(finished, `close() finished within 5 s of the stream's end, ${Math.round((closing.closedAt ?? NaN) - answeredAt)} ms after it`)
})
