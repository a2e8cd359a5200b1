// A fake OpenAI-compatible chat-completions endpoint for tests: a real node:http server on 127.0.0.1 that records
// each request and answers as the test's handler says, whole (JSON) or streamed (SSE chunks); nothing leaves the machine.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'

export interface ReceivedRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: Record<string, unknown>
}

export type Handler = (request: ReceivedRequest, response: http.ServerResponse) => void | Promise<void>

export interface LlmServer {
  /** The base URL to configure, ending in /v1: requests arrive at /v1/chat/completions. */
  baseUrl: string
  requests: ReceivedRequest[]
  /** Resolves when a response's connection closes before the server ended it: the client went away. */
  clientClosed: Promise<void>
  /** Responses the server ended itself. */
  completed: () => number
}

/** Starts the server (closed at the test's teardown); `handle` answers each request once its JSON body has arrived. */
export async function startLlmServer (t: Test, handle: Handler): Promise<LlmServer> {
  const requests: ReceivedRequest[] = []
  let completed = 0
  let resolveClosed = (): void => {}
  const clientClosed = new Promise<void>((resolve) => { resolveClosed = resolve })
  const server = http.createServer((request, response) => {
    response.on('close', () => {
      if (response.writableEnded) completed++
      else resolveClosed()
    })
    const parts: Buffer[] = []
    request.on('data', (part: Buffer) => parts.push(part))
    request.on('end', () => {
      const received = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>
      }
      requests.push(received)
      Promise.resolve(handle(received, response)).catch((error: unknown) => {
        if (!response.destroyed) response.destroy(error as Error)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, clientClosed, completed: () => completed }
}

/** The JSON body of a whole (non-streamed) chat completion. */
export function completion (content: string | null): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1700000000,
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }]
  })
}

export function sendCompletion (response: http.ServerResponse, content: string | null): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(completion(content))
}

/** One SSE event of a streamed completion. */
export function chunk (delta: Record<string, unknown>, finishReason: string | null = null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'test-model',
    choices: [{ index: 0, delta, finish_reason: finishReason }]
  })}\n\n`
}

/** The headers of a streamed completion, sent at once. */
export function startEvents (response: http.ServerResponse): void {
  response.socket?.setNoDelay(true)
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
}

/** A well-behaved streaming answer: role first, the deltas (each after `delayMs`), a finish chunk, [DONE]. */
export async function streamDeltas (response: http.ServerResponse, deltas: string[], delayMs = 5): Promise<void> {
  startEvents(response)
  response.write(chunk({ role: 'assistant', content: '' }))
  for (const delta of deltas) {
    await sleep(delayMs)
    if (response.destroyed) return
    response.write(chunk({ content: delta }))
  }
  response.write(chunk({}, 'stop'))
  response.end('data: [DONE]\n\n')
}

/** `promise`, or an error naming `what` after `ms`. */
export async function withinMs<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController()
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timer.signal }).then(() => { throw new Error(`${what} did not happen within ${ms} ms`) })
    ])
  } finally {
    timer.abort()
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The text of the user message the endpoint received: the passages and the question. */
export function userMessageOf (request: ReceivedRequest | undefined): string {
  const messages = request?.body.messages
  if (!Array.isArray(messages)) return ''
  const user = (messages as Array<{ role?: unknown, content?: unknown }>).find((message) => message.role === 'user')
  return typeof user?.content === 'string' ? user.content : ''
}
