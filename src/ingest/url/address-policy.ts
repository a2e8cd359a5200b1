// Decides which IP addresses jack may connect to when fetching a URL (the SSRF rule).
import { parseIp, parseIpv4, parseIpv6 } from './ip-address.js'

/**
 * Instance-metadata and platform endpoints. Most already sit in a forbidden
 * range; they are listed because they stay refused even when
 * JACK_URL_ALLOW_PRIVATE lifts the range rule: no intranet document lives
 * there, and they hand out cloud credentials.
 */
export const CLOUD_METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254', // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata
  '169.254.170.2', // AWS ECS task metadata and credentials
  '169.254.170.23', // AWS EKS Pod Identity
  'fd00:ec2::254', // AWS instance metadata over IPv6
  'fd00:ec2::23', // AWS EKS Pod Identity over IPv6
  '100.100.100.200', // Alibaba Cloud metadata
  '192.0.0.192', // Oracle Cloud metadata (legacy)
  '168.63.129.16' // Azure WireServer: a public address that only the platform answers
]

interface Range {
  bytes: Uint8Array
  bits: number
}

function ipv4Range (text: string, bits: number): Range {
  const bytes = parseIpv4(text)
  if (bytes === undefined) throw new Error(`bad range ${text}`)
  return { bytes, bits }
}

function ipv6Range (text: string, bits: number): Range {
  const bytes = parseIpv6(text)
  if (bytes === undefined) throw new Error(`bad range ${text}`)
  return { bytes, bits }
}

// IANA IPv4 Special-Purpose Address Registry entries that are not globally reachable, plus multicast.
const FORBIDDEN_IPV4: readonly Range[] = [
  ipv4Range('0.0.0.0', 8), // "this network"; 0.0.0.0 itself reaches the local host on Linux
  ipv4Range('10.0.0.0', 8), // RFC 1918
  ipv4Range('100.64.0.0', 10), // CGNAT shared space (RFC 6598)
  ipv4Range('127.0.0.0', 8), // loopback
  ipv4Range('169.254.0.0', 16), // link-local
  ipv4Range('172.16.0.0', 12), // RFC 1918
  ipv4Range('192.0.0.0', 24), // IETF protocol assignments
  ipv4Range('192.0.2.0', 24), // TEST-NET-1 documentation
  ipv4Range('192.88.99.0', 24), // deprecated 6to4 relay anycast
  ipv4Range('192.168.0.0', 16), // RFC 1918
  ipv4Range('198.18.0.0', 15), // benchmarking
  ipv4Range('198.51.100.0', 24), // TEST-NET-2 documentation
  ipv4Range('203.0.113.0', 24), // TEST-NET-3 documentation
  ipv4Range('224.0.0.0', 4), // multicast
  ipv4Range('240.0.0.0', 4) // reserved, including the 255.255.255.255 broadcast
]

// IPv6 is checked as an allow-list: only global unicast 2000::/3 may be
// reached. That alone refuses ::, ::1, the deprecated IPv4-compatible ::/96,
// ULA fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8,
// discard 100::/64 and local-use NAT64 64:ff9b:1::/48, and whatever the IETF
// assigns outside 2000::/3 later.
const GLOBAL_UNICAST = ipv6Range('2000::', 3)
const FORBIDDEN_IPV6_GLOBAL: readonly Range[] = [
  ipv6Range('2001::', 23), // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ipv6Range('2001:db8::', 32), // documentation
  ipv6Range('3fff::', 20) // documentation (RFC 9637)
]

const IPV4_MAPPED = ipv6Range('::ffff:0:0', 96)
const NAT64 = ipv6Range('64:ff9b::', 96)
const SIX_TO_FOUR = ipv6Range('2002::', 16)

function inRange (bytes: Uint8Array, range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false
  const whole = range.bits >> 3
  for (let index = 0; index < whole; index++) {
    if (bytes[index] !== range.bytes[index]) return false
  }
  const remaining = range.bits & 7
  if (remaining === 0) return true
  const mask = (0xff << (8 - remaining)) & 0xff
  return ((bytes[whole] ?? 0) & mask) === ((range.bytes[whole] ?? 0) & mask)
}

/** The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), which is then judged as that IPv4 address. */
function embeddedIpv4 (bytes: Uint8Array): Uint8Array | undefined {
  if (inRange(bytes, IPV4_MAPPED) || inRange(bytes, NAT64)) return bytes.slice(12, 16)
  if (inRange(bytes, SIX_TO_FOUR)) return bytes.slice(2, 6)
  return undefined
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

const METADATA_BYTES = CLOUD_METADATA_ADDRESSES.map((address) => {
  const parsed = parseIp(address)
  if (parsed === undefined) throw new Error(`bad metadata address ${address}`)
  return parsed.bytes
})

function canonicalBytes (ip: string): Uint8Array | undefined {
  const parsed = parseIp(ip)
  if (parsed === undefined) return undefined
  return parsed.version === 6 ? embeddedIpv4(parsed.bytes) ?? parsed.bytes : parsed.bytes
}

/** True for the cloud metadata addresses above, in any spelling (IPv4-mapped, NAT64 and 6to4 forms included). */
export function isCloudMetadataAddress (ip: string): boolean {
  const bytes = canonicalBytes(ip)
  return bytes !== undefined && METADATA_BYTES.some((metadata) => sameBytes(metadata, bytes))
}

/**
 * True when jack must not connect to this IP literal: loopback, RFC 1918,
 * CGNAT 100.64/10, link-local 169.254/16 and fe80::/10, ULA fc00::/7,
 * multicast, unspecified, broadcast, 0.0.0.0/8, 192.0.0/24, 198.18/15
 * benchmarking, 240/4 reserved, documentation ranges, anything outside IPv6
 * global unicast 2000::/3, the IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) forms of a forbidden IPv4 address, and CLOUD_METADATA_ADDRESSES.
 * Anything that is not an IP literal is forbidden too (fail closed).
 */
export function isForbiddenAddress (ip: string): boolean {
  const bytes = canonicalBytes(ip)
  if (bytes === undefined) return true
  if (METADATA_BYTES.some((metadata) => sameBytes(metadata, bytes))) return true
  if (bytes.length === 4) return FORBIDDEN_IPV4.some((range) => inRange(bytes, range))
  if (!inRange(bytes, GLOBAL_UNICAST)) return true
  return FORBIDDEN_IPV6_GLOBAL.some((range) => inRange(bytes, range))
}
