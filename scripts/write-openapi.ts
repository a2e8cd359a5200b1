// `npm run openapi`: regenerates openapi.yaml from the route schemas (a test fails when the committed file differs).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { packageRoot } from '../src/package-root.js'
import { renderOpenApiYaml } from '../src/openapi-yaml.js'

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-openapi-'))
try {
  const app = await buildApp({ config: { ...loadConfig({}), dataDir, logLevel: 'silent' } })
  await app.ready()
  fs.writeFileSync(path.join(packageRoot, 'openapi.yaml'), renderOpenApiYaml(app))
  await app.close()
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true })
}
