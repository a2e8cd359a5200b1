// One process owns a PGlite data directory: two writers would corrupt it, and PGlite does not guard against that itself.
import fs from 'node:fs'
import path from 'node:path'

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
}

const heldHere = new Set<string>()

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the lock file in `dataDir`; returns the function that releases it. */
export function lockDataDir (dataDir: string): () => void {
  const lockPath = path.join(dataDir, 'jack.lock')
  fs.mkdirSync(dataDir, { recursive: true })
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' })
      heldHere.add(lockPath)
      return () => {
        heldHere.delete(lockPath)
        fs.rmSync(lockPath, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const owner = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10)
    // Our own pid in the file without our holding it means a crashed earlier
    // run that happened to get the same pid (pid 1 in a container, say).
    const ownedElsewhere = Number.isInteger(owner) && owner !== process.pid && isAlive(owner)
    if (ownedElsewhere || heldHere.has(lockPath)) {
      throw new DataDirInUseError(
        `The data directory ${dataDir} is in use by another jack process (pid ${ownedElsewhere ? owner : process.pid}). ` +
        'Stop it first, or point DATABASE_URL at PostgreSQL to run several processes.'
      )
    }
    fs.rmSync(lockPath, { force: true })
  }
  throw new DataDirInUseError(`Could not lock the data directory ${dataDir}`)
}
