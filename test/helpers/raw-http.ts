// One HTTP exchange written byte for byte on a TCP socket: for requests no client library sends (repeated, oversized or malformed headers).
import net from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

/**
 * Writes `request` to the server on `port` and reads until the server closes
 * the connection: send `Connection: close` when the server would keep it open
 * (the client's side stays open, since Node aborts a request whose client half-closed).
 */
export async function rawRequest (port: number, request: string | Buffer): Promise<RawResponse> {
  const received = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(10_000, () => {
      socket.destroy()
      reject(new Error('no complete response within 10 s'))
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('end', () => resolve(Buffer.concat(chunks)))
    // A server that refuses a request mid-way may reset the connection after answering.
    socket.once('error', (error) => { if (chunks.length > 0) resolve(Buffer.concat(chunks)); else reject(error) })
    socket.write(request)
  })
  const text = received.toString('utf8')
  const split = text.indexOf('\r\n\r\n')
  if (split === -1) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1]
  if (status === undefined) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(status), headers, body: text.slice(split + 4) }
}
