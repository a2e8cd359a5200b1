// Opens (or adopts) the database, exposes it as app.database / app.db, and closes it with the app.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { databaseOptions, openDatabase, type Database, type Db } from '../src/db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
    db: Db
  }
}

const DRAIN_TIMEOUT_MS = 10_000

function isPromiseLike (value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

export interface DbPluginOptions {
  /** An already open database (tests, CLI); the app then does not close it. */
  database?: Database | undefined
}

export default fp<DbPluginOptions>(async (app, options) => {
  const database = options.database ?? await openDatabase(databaseOptions(app.config))
  app.decorate('database', database)
  app.decorate('db', database.db)

  // A handler whose client hung up is no longer an open connection, so the
  // server's close does not wait for it; track handlers until they have
  // produced a reply so the database is not closed under them.
  const busy = new Set<FastifyRequest>()
  app.addHook('onRequest', async (request) => { busy.add(request) })
  app.addHook('onSend', async (request) => { busy.delete(request) })
  app.addHook('onResponse', async (request) => { busy.delete(request) })
  // A reply written straight to the socket (server-sent events) never reaches
  // onSend, nor onResponse when its client left (a destroyed socket never
  // finishes): such a request is over once its handler has settled.
  app.addHook('onRoute', (route) => {
    const handler = route.handler
    route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const result: unknown = handler.call(this, request, reply)
      if (!isPromiseLike(result)) return result
      return Promise.resolve(result).finally(() => {
        if (reply.raw.destroyed) busy.delete(request)
      })
    }
  })
  app.addHook('onClose', async () => {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    while (busy.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    if (busy.size > 0) app.log.warn({ requests: busy.size }, 'closing the database with requests still running')
    if (options.database === undefined) await database.close()
  })
}, { name: 'db', dependencies: ['config'] })
