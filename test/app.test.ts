// The server options buildApp sets, over a real socket: requests Node's HTTP parser refuses are answered in the API's error shape.
import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { buildTestApp } from './helpers/app.js'
import { rawRequest, type RawResponse } from './helpers/raw-http.js'

t.test('requests the HTTP parser refuses get {"detail": …}, JSON and Connection: close', async (t) => {
  const { app } = await buildTestApp(t, { config: { workers: 0 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  const expectRefusal = (t: Test, response: RawResponse, status: number, detail: string): void => {
    t.equal(response.status, status, `${status}`)
    t.same(JSON.parse(response.body), { detail }, 'the API\'s error body')
    t.equal(response.headers['content-type'], 'application/json')
    t.equal(response.headers.connection, 'close')
    t.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body), 'Content-Length matches the body')
  }

  t.test('a 64 KB header → 431', async (t) => {
    const response = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
    expectRefusal(t, response, 431, 'Request header fields are too large')
  })

  t.test('a NUL byte in a header value → 400', async (t) => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Note: a\0b\r\n\r\n')
    expectRefusal(t, response, 400, 'Malformed HTTP request')
  })

  t.test('a request line that is not HTTP → 400', async (t) => {
    const response = await rawRequest(port, 'HELLO THERE\r\n\r\n')
    expectRefusal(t, response, 400, 'Malformed HTTP request')
  })

  t.test('the server goes on serving', async (t) => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    t.equal(response.status, 200)
    t.same(JSON.parse(response.body), { status: 'ok' })
  })
})
