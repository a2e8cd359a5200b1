// OpenAPI 3.1 generated from the route schemas, served as /openapi.json and through Swagger UI at /docs.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ErrorBody } from '../src/schemas/common.js'
import { QUERY_COMPONENTS } from '../src/schemas/query.js'

export default fp(async (app) => {
  app.addSchema(ErrorBody)
  for (const schema of QUERY_COMPONENTS) app.addSchema(schema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'jack',
        version: '1.0.0',
        license: { name: 'MIT', identifier: 'MIT' },
        description: 'Answers plain-English questions from an organisation\'s own documents, with the passages it used as citations.'
      },
      // Relative, so Swagger UI's "Try it out" talks to whichever instance served it.
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: jack_ followed by 48 lowercase hex characters.' }
        }
      },
      tags: [
        { name: 'ingest', description: 'Add documents: text, files and web pages, processed in the background' },
        { name: 'query', description: 'Answers with citations, streamed or whole, and plain retrieval' },
        { name: 'documents', description: 'The organisation\'s documents and their processing status' },
        { name: 'keys', description: 'API keys of the caller\'s organisation' },
        { name: 'operations', description: 'Health and readiness' }
      ]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
