// One lint configuration: neostandard (standard style) with TypeScript support.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'data/**', 'drizzle/meta/**'] })
]
