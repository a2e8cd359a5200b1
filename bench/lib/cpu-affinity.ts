// The benchmark process's CPU affinity: lifting server.ts's pinning (pinBenchmark) for work that should use every core — a fill in this process, LanceDB's thread pool — and restoring it afterwards.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { pinBenchmark } from './server.js'

/** Lets this process's threads (those running now, and those they start) run on every CPU; false when taskset failed. */
export function allowAllCpus (): boolean {
  try {
    execFileSync('taskset', ['-a', '-c', '-p', `0-${os.availableParallelism() - 1}`, String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Runs `work` on every CPU when the benchmark is pinned (`serverCpu` defined:
 * pinBenchmark succeeded), pinning it back to its own CPU afterwards, also on
 * failure. Unpinned benchmarks run `work` as they are.
 */
export async function withAllCpus<T> (serverCpu: number | undefined, work: () => Promise<T>): Promise<T> {
  if (serverCpu === undefined || !allowAllCpus()) return await work()
  try {
    return await work()
  } finally {
    pinBenchmark()
  }
}
