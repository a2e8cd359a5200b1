import t from 'tap'
import fs from 'node:fs'
import YAML from 'yaml'
import { buildTestApp } from './helpers/app.js'
import { specPath } from './helpers/contract.js'
import { renderOpenApiYaml } from '../src/openapi-yaml.js'
import { call } from './helpers/client.js'

t.test('openapi.yaml is exactly what the route schemas generate', async (t) => {
  const { app } = await buildTestApp(t)
  const generated = renderOpenApiYaml(app)
  t.equal(fs.readFileSync(specPath, 'utf8'), generated, 'committed openapi.yaml is current (run `npm run openapi` after changing a route schema)')
})

t.test('the spec describes every operation fully', async (t) => {
  const spec = YAML.parse(fs.readFileSync(specPath, 'utf8'))
  t.same(spec.servers, [{ url: '/' }], 'relative server, so Swagger UI tries the instance serving it')
  t.equal(spec.components.securitySchemes.bearerAuth.scheme, 'bearer')
  for (const [path, operations] of Object.entries<Record<string, any>>(spec.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      const name = `${method.toUpperCase()} ${path}`
      t.ok(operation.operationId, `${name} has an operationId`)
      t.ok(operation.summary, `${name} has a summary`)
      t.ok(operation.tags?.length > 0, `${name} has a tag`)
      t.ok(Array.isArray(operation.security), `${name} declares its security`)
      if (path.startsWith('/v1/')) {
        t.same(operation.security, [{ bearerAuth: [] }], `${name} requires a key`)
        for (const status of ['401', '403', '429', '500']) t.ok(operation.responses[status], `${name} describes ${status}`)
      }
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) >= 400) t.equal(response.content['application/json'].schema.$ref, '#/components/schemas/ErrorBody', `${name} ${status} is the detail body`)
      }
    }
  }
})

t.test('the spec and Swagger UI are served', async (t) => {
  const { app } = await buildTestApp(t)
  const json = await call(t, app, 'GET', '/openapi.json')
  t.equal(json.status, 200)
  t.same(json.json(), YAML.parse(fs.readFileSync(specPath, 'utf8')), '/openapi.json is the committed document')
  const docs = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(docs.statusCode, 200)
  t.match(docs.body, /swagger-ui/i)
})
