// Opens (or adopts) the database, exposes it as app.database / app.db, and closes it with the app.
import fp from 'fastify-plugin'
import { openDatabase, type Database, type Db } from '../src/db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
    db: Db
  }
}

export interface DbPluginOptions {
  /** An already open database (tests, CLI); the app then does not close it. */
  database?: Database | undefined
}

export default fp<DbPluginOptions>(async (app, options) => {
  const database = options.database ?? await openDatabase({
    databaseUrl: app.config.databaseUrl,
    dataDir: app.config.dataDir,
    poolSize: app.config.databasePoolSize
  })
  app.decorate('database', database)
  app.decorate('db', database.db)
  if (options.database === undefined) {
    app.addHook('onClose', async () => { await database.close() })
  }
}, { name: 'db', dependencies: ['config'] })
