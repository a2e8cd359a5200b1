// Failed key checks per client address, in this instance's memory: past the limit an address is refused before any database lookup or argon2 runs.
import { parseIp } from '../ingest/url/ip-address.js'
import { fits, msUntilNextFits, toSeconds, windowAt, type WindowPosition } from '../rate-limit/sliding-window.js'

export interface AuthFailureThrottleOptions {
  /** Failures per window per address; 0 turns the throttle off. */
  limit: number
  windowMs: number
  /** Addresses remembered at most; the least recently seen are forgotten first. */
  maxAddresses?: number
  now?: () => number
}

export type Admission =
  | { admitted: true }
  | { admitted: false, retryAfterSeconds: number }

interface AddressEntry {
  windowStart: number
  current: number
  previous: number
}

/**
 * The throttle's key for an address. IPv6 is keyed by its /64, the block one
 * host (or one customer) usually gets, so walking addresses inside it does not
 * reset the count; an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function throttleKey (address: string): string {
  const parsed = parseIp(address)
  if (parsed === undefined) return address
  const bytes = parsed.bytes
  if (parsed.version === 4) return bytes.join('.')
  const mapped = bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  if (mapped) return bytes.slice(12).join('.')
  const groups: string[] = []
  for (let index = 0; index < 8; index += 2) groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16))
  return `${groups.join(':')}::/64`
}

export class AuthFailureThrottle {
  private readonly entries = new Map<string, AddressEntry>()
  private readonly now: () => number
  private readonly maxAddresses: number

  constructor (private readonly options: AuthFailureThrottleOptions) {
    this.now = options.now ?? Date.now
    this.maxAddresses = options.maxAddresses ?? 100_000
  }

  get trackedAddresses (): number {
    return this.entries.size
  }

  /**
   * Admits a key check from `address`, or refuses it once the address's
   * failures have reached the limit. Checks still under way hold no place: a
   * valid key's burst after a restart must not be refused for checks that
   * would all have succeeded. So a parallel burst of different bad keys can
   * pass the limit, by no more than the argon2 slots and queue admit at once.
   */
  admit (address: string): Admission {
    if (this.options.limit === 0) return { admitted: true }
    const position = windowAt(this.now(), this.options.windowMs)
    const entry = this.entryFor(throttleKey(address), position)
    if (!fits(entry, position, this.options.limit)) {
      return { admitted: false, retryAfterSeconds: Math.max(1, toSeconds(msUntilNextFits(entry, position, this.options.limit))) }
    }
    return { admitted: true }
  }

  /** Counts one failed check from `address`, in the window it ends in. */
  recordFailure (address: string): void {
    if (this.options.limit === 0) return
    this.entryFor(throttleKey(address), windowAt(this.now(), this.options.windowMs)).current++
  }

  private entryFor (key: string, position: WindowPosition): AddressEntry {
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = { windowStart: position.currentStart, current: 0, previous: 0 }
    } else {
      // Re-inserted below, so the Map's order is least recently seen first.
      this.entries.delete(key)
      this.roll(entry, position)
    }
    this.entries.set(key, entry)
    if (this.entries.size > this.maxAddresses) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    return entry
  }

  /** Moves an entry's counts forward to the window of `position`. */
  private roll (entry: AddressEntry, position: WindowPosition): void {
    if (entry.windowStart === position.currentStart) return
    entry.previous = entry.windowStart === position.previousStart ? entry.current : 0
    entry.current = 0
    entry.windowStart = position.currentStart
  }
}
