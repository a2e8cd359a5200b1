// An undici Agent that connects only to addresses jack has already checked, so DNS is never asked a second time.
import type { LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import { Agent } from 'undici'

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

function wantedFamily (family: number | 'IPv4' | 'IPv6' | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4
  if (family === 6 || family === 'IPv6') return 6
  return 0
}

/**
 * `pinned` maps each host name to the addresses that passed the address
 * policy. The socket layer asks this lookup instead of DNS, so the address
 * connected to is one that was checked: a DNS answer that changes between
 * the check and the connection (rebinding) cannot slip in. TLS still uses the
 * host name for SNI and certificate checks, and the Host header keeps it too.
 * IP-literal hosts never reach a lookup; they are checked as written.
 */
export function createPinnedAgent (pinned: ReadonlyMap<string, readonly ResolvedAddress[]>): Agent {
  const lookup: LookupFunction = (hostname, options, callback) => {
    const family = wantedFamily(options.family)
    const addresses = (pinned.get(hostname) ?? []).filter((entry) => family === 0 || entry.family === family)
    const first = addresses[0]
    if (first === undefined) {
      // Unreachable while fetch-url pins every host before requesting it; refuse rather than fall back to DNS.
      const error: NodeJS.ErrnoException = new Error(`No checked address for ${hostname}`)
      error.code = 'ENOTFOUND'
      callback(error, '')
      return
    }
    if (options.all === true) {
      callback(null, addresses.map((entry): LookupAddress => ({ address: entry.address, family: entry.family })))
    } else {
      callback(null, first.address, first.family)
    }
  }
  return new Agent({ connect: { lookup } })
}
