// PostgreSQL text cannot hold U+0000, so a JSON body carrying one is refused up front rather than failing at the database.
import { UnprocessableError } from './http-errors.js'

function describePath (path: Array<string | number>): string {
  let name = ''
  for (const part of path) name += typeof part === 'number' ? `[${part}]` : name === '' ? part : `.${part}`
  return name === '' ? 'request body' : name
}

/** The path of the first string (value or key) holding U+0000, or undefined. */
export function findNulCharacter (value: unknown, path: Array<string | number> = []): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? describePath(path) : undefined
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = findNulCharacter(value[index], [...path, index])
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('\u0000')) return `a field name in ${describePath(path)}`
      const found = findNulCharacter(child, [...path, key])
      if (found !== undefined) return found
    }
  }
  return undefined
}

export function assertNoNulCharacters (body: unknown): void {
  const where = findNulCharacter(body)
  if (where !== undefined) throw new UnprocessableError(`${where} must not contain NUL (\\u0000) characters`)
}
