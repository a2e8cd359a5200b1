// The rows of a raw `db.execute`, whichever driver ran it.
export function rowsOf<T> (result: unknown): T[] {
  // postgres.js returns the rows themselves; PGlite wraps them in { rows }.
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}
