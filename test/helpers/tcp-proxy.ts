// A TCP proxy on loopback between jack and PostgreSQL whose link a test can cut and restore, to stage a database outage without stopping the shared server.
import net from 'node:net'
import type { Test } from 'tap'

export interface TcpProxy {
  port: number
  /** Drops every open connection and refuses new ones, as a stopped server does. */
  cut: () => Promise<void>
  /** Accepts connections again on the same port. */
  restore: () => Promise<void>
}

export async function startTcpProxy (t: Test, target: { host: string, port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host)
    sockets.add(client).add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  const listen = async (port: number): Promise<number> => await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })
  const port = await listen(0)
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return { port, cut: close, restore: async () => { await listen(port) } }
}
