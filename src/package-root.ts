// The package's own folder, found from this file whether it runs from src/ (tsx) or dist/src/ (compiled).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot (start: string): string {
  let directory = start
  while (!fs.existsSync(path.join(directory, 'package.json'))) {
    const parent = path.dirname(directory)
    if (parent === directory) throw new Error(`no package.json above ${start}`)
    directory = parent
  }
  return directory
}

export const packageRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)))
