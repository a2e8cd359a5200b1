// Runs the ingest workers inside the server (JACK_WORKERS of them; 0 on API-only instances) and stops them before the database closes.
import fp from 'fastify-plugin'
import { IngestWorker, workerOptionsFrom } from '../src/ingest/worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    ingestWorker: IngestWorker | undefined
  }
}

export default fp(async (app) => {
  const { config } = app
  const worker = config.workers === 0
    ? undefined
    : new IngestWorker(app.database, workerOptionsFrom(config, app.log.child({ component: 'ingest-worker' })))
  app.decorate('ingestWorker', worker)
  if (worker === undefined) return
  app.addHook('onReady', async () => { await worker.start() })
  app.addHook('preClose', async () => { await worker.stop() })
}, { name: 'worker', dependencies: ['config', 'db'] })
