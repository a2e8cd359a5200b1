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
  // Each frame points at its parent instead of copying the path: copying made a body
  // nested n deep cost O(n²) time and memory (24 KB of brackets held the event loop for seconds).
  interface Frame { value: unknown, key: string | number | undefined, parent: Frame | undefined }
  const pathOf = (frame: Frame): Array<string | number> => {
    const path: Array<string | number> = []
    for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) path.push(at.key)
    return path.reverse()
  }
  const stack: Frame[] = [{ value: root, key: undefined, parent: undefined }]
  while (stack.length > 0) {
    const frame = stack.pop() as Frame
    const { value } = frame
    if (typeof value === 'string') {
      const problem = problemWith(value)
      if (problem !== undefined) return { where: describePath(pathOf(frame)), problem }
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], key: index, parent: frame })
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      for (const [key] of entries) {
        const problem = problemWith(key)
        if (problem !== undefined) return { where: `a field name in ${describePath(pathOf(frame))}`, problem }
      }
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, child] = entries[index] as [string, unknown]
        stack.push({ value: child, key, parent: frame })
      }
    }
  }
  return undefined
}

export function assertStorableStrings (body: unknown): void {
  const found = findUnstorableString(body)
  if (found !== undefined) throw new UnprocessableError(`${found.where} ${found.problem}`)
}
