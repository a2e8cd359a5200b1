// The OpenAPI document as committed in openapi.yaml: plain YAML without anchors, so every tool and reader sees each value in place.
import type { FastifyInstance } from 'fastify'
import YAML from 'yaml'

export function renderOpenApiYaml (app: FastifyInstance): string {
  return YAML.stringify(app.swagger(), { aliasDuplicateObjects: false, lineWidth: 0 })
}
