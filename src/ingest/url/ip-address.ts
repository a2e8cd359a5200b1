// Parses IP literals into bytes, so the address policy compares numbers and never spellings.

export type ParsedIp =
  | { version: 4, bytes: Uint8Array }
  | { version: 6, bytes: Uint8Array }

const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/
const IPV6_GROUP = /^[0-9a-f]{1,4}$/i
const IPV6_ZONE = /^[0-9a-z\-.:]+$/i

/**
 * Strict dotted-quad only. Leading zeros are refused rather than guessed at:
 * some resolvers read `010` as octal, others as decimal, and a policy must not
 * disagree with the socket layer about which address it is looking at.
 */
export function parseIpv4 (text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes = new Uint8Array(4)
  for (const [index, part] of parts.entries()) {
    if (!IPV4_PART.test(part)) return undefined
    const value = Number(part)
    if (value > 255) return undefined
    bytes[index] = value
  }
  return bytes
}

function parseGroups (text: string): number[] | undefined {
  if (text === '') return []
  const groups: number[] = []
  for (const group of text.split(':')) {
    if (!IPV6_GROUP.test(group)) return undefined
    groups.push(Number.parseInt(group, 16))
  }
  return groups
}

/** RFC 4291 text forms, including `::` compression, a trailing dotted IPv4 part and a `%zone` suffix (ignored). */
export function parseIpv6 (text: string): Uint8Array | undefined {
  const zoneAt = text.indexOf('%')
  let address = zoneAt === -1 ? text : text.slice(0, zoneAt)
  if (zoneAt !== -1 && !IPV6_ZONE.test(text.slice(zoneAt + 1))) return undefined
  const tail: number[] = []
  const lastColon = address.lastIndexOf(':')
  if (lastColon === -1) return undefined
  if (address.includes('.', lastColon)) {
    const ipv4 = parseIpv4(address.slice(lastColon + 1))
    if (ipv4 === undefined) return undefined
    tail.push(((ipv4[0] ?? 0) << 8) | (ipv4[1] ?? 0), ((ipv4[2] ?? 0) << 8) | (ipv4[3] ?? 0))
    // Keep the colon when it is half of a "::" so the compression is still seen below.
    address = address[lastColon - 1] === ':' ? address.slice(0, lastColon + 1) : address.slice(0, lastColon)
  }
  const halves = address.split('::')
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0] ?? '')
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? '') : []
  if (head === undefined || rest === undefined) return undefined
  const explicit = [...head, ...rest, ...tail]
  let groups: number[]
  if (halves.length === 2) {
    if (explicit.length > 7) return undefined
    groups = [...head, ...new Array<number>(8 - explicit.length).fill(0), ...rest, ...tail]
  } else {
    if (explicit.length !== 8) return undefined
    groups = explicit
  }
  const bytes = new Uint8Array(16)
  for (const [index, group] of groups.entries()) {
    bytes[index * 2] = group >> 8
    bytes[index * 2 + 1] = group & 0xff
  }
  return bytes
}

/** An IPv4 or IPv6 literal (IPv6 optionally in URL brackets), or undefined for anything else, host names included. */
export function parseIp (text: string): ParsedIp | undefined {
  const ipv4 = parseIpv4(text)
  if (ipv4 !== undefined) return { version: 4, bytes: ipv4 }
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  const ipv6 = parseIpv6(bare)
  return ipv6 === undefined ? undefined : { version: 6, bytes: ipv6 }
}
