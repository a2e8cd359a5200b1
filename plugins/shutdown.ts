// While the server shuts down, every reply closes its connection, so a keep-alive client whose request was in flight cannot hold the shutdown open.
import fp from 'fastify-plugin'

export default fp(async (app) => {
  // server.close() ends the keep-alive connections that are idle when it is called;
  // one still carrying a request would stay open after its reply (keep-alive lasts
  // 72 s), so the process waited for it until the shutdown grace ran out and exited 1.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // The header tells the client not to reuse the connection, and makes Node close it after the reply.
  app.addHook('onSend', async (_request, reply) => {
    if (closing && !reply.raw.headersSent) reply.header('connection', 'close')
  })
  // A reply streamed straight to the socket (server-sent events) sent its headers
  // before the shutdown began: its connection is ended once it is complete.
  app.addHook('onResponse', async (request) => {
    const socket = request.raw.socket as { end?: () => void } | undefined
    if (closing && typeof socket?.end === 'function') socket.end()
  })
}, { name: 'shutdown' })
