// Timestamps as the API writes them: RFC 3339, UTC, whole seconds, "Z" suffix (e.g. 2026-06-12T14:24:37Z).
export function toApiTimestamp (date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function toApiTimestampOrNull (date: Date | null): string | null {
  return date === null ? null : toApiTimestamp(date)
}
