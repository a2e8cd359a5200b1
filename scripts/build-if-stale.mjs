// Compiles src/ and plugins/ to dist/ only when a source is newer than its output, so `npm start` starts at once and never runs stale code.
// Plain JavaScript on purpose: it runs before anything is compiled, and where only production dependencies are installed (no TypeScript, no tsx).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const entry = path.join(root, 'dist', 'src', 'cli.js')

function mtime (file) {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0
}

/** The first source whose compiled file is missing or older, or undefined when dist/ is current. */
export function staleSource () {
  const configTime = Math.max(mtime(path.join(root, 'tsconfig.json')), mtime(path.join(root, 'tsconfig.build.json')))
  if (mtime(entry) < configTime) return 'tsconfig.json'
  for (const folder of ['src', 'plugins']) {
    // A deployment may ship dist/ without the sources.
    if (!fs.existsSync(path.join(root, folder))) continue
    for (const item of fs.readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })) {
      if (!item.isFile() || !item.name.endsWith('.ts') || item.name.endsWith('.d.ts')) continue
      const source = path.join(item.parentPath, item.name)
      const compiled = path.join(root, 'dist', path.relative(root, source)).replace(/\.ts$/, '.js')
      if (mtime(compiled) < fs.statSync(source).mtimeMs) return path.relative(root, source)
    }
  }
  return undefined
}

function typescriptCompiler () {
  try {
    return fileURLToPath(import.meta.resolve('typescript/bin/tsc'))
  } catch {
    return undefined
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stale = staleSource()
  if (stale !== undefined) {
    const tsc = typescriptCompiler()
    if (tsc !== undefined) {
      process.stderr.write(`jack: compiling (${stale} is newer than dist/)\n`)
      execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
    } else if (fs.existsSync(entry)) {
      // A production install (npm ci --omit=dev) of a tree that was built, then touched: run what was built.
      process.stderr.write(`jack: ${stale} is newer than dist/ and TypeScript is not installed; running the existing build\n`)
    } else {
      process.stderr.write('jack: dist/ is missing and TypeScript is not installed. Build first (npm ci && npm run build), then install for production (npm ci --omit=dev).\n')
      process.exit(1)
    }
  }
}
