// Process sampling from /proc for benchmarks: CPU seconds of a process, of a database's PostgreSQL processes and of the machine, and resident memory (Linux only; other systems get no figures rather than an error).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds (pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/**
 * CPU seconds of the PostgreSQL processes serving the benchmark: backends connected
 * to `database` plus the shared background ones (postmaster, WAL writer,
 * checkpointer, …). Other databases' backends (say, a test suite's) are left out.
 */
export function postgresCpuSeconds (database: string): number | undefined {
  let total = 0
  let seen = false
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let commandLine: string
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue
      commandLine = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
    } catch {
      continue
    }
    // A client backend's title names its client: "postgres: 15/main: user db 127.0.0.1(54321) idle".
    const isClientBackend = /\(\d+\)|\[local\]/.test(commandLine)
    if (isClientBackend && !commandLine.includes(` ${database} `)) continue
    const seconds = cpuSeconds(Number(entry))
    if (seconds !== undefined) {
      total += seconds
      seen = true
    }
  }
  return seen ? total : undefined
}

/** CPU seconds the whole machine has been busy (all CPUs, everything but idle and I/O wait). */
export function machineBusySeconds (): number | undefined {
  try {
    const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/** A line of /proc/<pid>/status in MiB (VmRSS now, VmHWM the peak so far). */
export function memoryMiB (pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024
  } catch {
    return undefined
  }
}
