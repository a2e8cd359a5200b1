// Makes the validated configuration available as app.config.
import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export default fp<{ config: Config }>(async (app, options) => {
  app.decorate('config', options.config)
}, { name: 'config' })
