// Strings PostgreSQL cannot store — U+0000, or a lone UTF-16 surrogate (which jsonb rejects) — are refused up front with 422, not a 500 from the database.
import { UnprocessableError } from './http-errors.js'

function describePath (path: Array<string | number>): string {
  let name = ''
  for (const part of path) name += typeof part === 'number' ? `[${part}]` : name === '' ? part : `.${part}`
  return name === '' ? 'request body' : name
}

function problemWith (text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) characters'
  if (!text.isWellFormed()) return 'must not contain unpaired surrogate characters'
  return undefined
}

/**
 * Where the first unstorable string (value or key) is and what is wrong with it, or undefined.
 * Iterative, so a hostile body nested thousands deep cannot overflow the stack.
 */
export function findUnstorableString (root: unknown): { where: string, problem: string } | undefined {
  const stack: Array<{ value: unknown, path: Array<string | number> }> = [{ value: root, path: [] }]
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown, path: Array<string | number> }
    if (typeof value === 'string') {
      const problem = problemWith(value)
      if (problem !== undefined) return { where: describePath(path), problem }
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], path: [...path, index] })
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      for (const [key] of entries) {
        const problem = problemWith(key)
        if (problem !== undefined) return { where: `a field name in ${describePath(path)}`, problem }
      }
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, child] = entries[index] as [string, unknown]
        stack.push({ value: child, path: [...path, key] })
      }
    }
  }
  return undefined
}

export function assertStorableStrings (body: unknown): void {
  const found = findUnstorableString(body)
  if (found !== undefined) throw new UnprocessableError(`${found.where} ${found.problem}`)
}
