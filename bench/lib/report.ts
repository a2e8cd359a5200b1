// Shared benchmark reporting: environment integers, nearest-rank percentiles, number formats, Markdown tables and the machine-state lines every report ends with.
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export function readInteger (name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
  return value
}

/** True when `moduleUrl` is the script node was started with (not a module imported by another benchmark). */
export function isEntryPoint (moduleUrl: string): boolean {
  const script = process.argv[1]
  return script !== undefined && path.resolve(script) === fileURLToPath(moduleUrl)
}

/** Nearest rank: a value that was actually observed. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

export function formatInt (value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—'
}

export function formatMs (value: number): string {
  if (!Number.isFinite(value)) return '—'
  return value < 10 ? value.toFixed(1) : value.toFixed(0)
}

/** A Markdown table. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)]
}

export function loadLine (): string {
  return `Load average at the end (1/5/15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')} on ${os.cpus().length} CPUs; node ${process.version}.`
}

export function pinningLine (serverCpu: number | undefined): string {
  return serverCpu === undefined
    ? 'NOT pinned (no taskset or fewer than 2 CPUs): server, benchmark client and PostgreSQL share CPUs.'
    : 'Pinned: server on CPU 0, benchmark client on CPU 1 (PostgreSQL itself unpinned).'
}
