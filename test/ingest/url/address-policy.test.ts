import net from 'node:net'
import fc from 'fast-check'
import t from 'tap'
import { CLOUD_METADATA_ADDRESSES, isCloudMetadataAddress, isForbiddenAddress } from '../../../src/ingest/url/address-policy.js'
import { parseIp } from '../../../src/ingest/url/ip-address.js'

// Only classified, never contacted.
const FORBIDDEN: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback, top of 127/8'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', '"this network" 0/8'],
  ['10.0.0.1', 'RFC 1918 10/8'],
  ['10.255.255.255', 'RFC 1918 10/8'],
  ['172.16.0.1', 'RFC 1918 172.16/12'],
  ['172.31.255.255', 'RFC 1918 172.16/12, top'],
  ['192.168.1.1', 'RFC 1918 192.168/16'],
  ['100.64.0.1', 'CGNAT'],
  ['100.127.255.255', 'CGNAT, top'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'AWS/GCP/Azure metadata'],
  ['169.254.170.2', 'AWS ECS metadata'],
  ['100.100.100.200', 'Alibaba metadata'],
  ['168.63.129.16', 'Azure WireServer (a public address)'],
  ['192.0.0.1', 'IETF protocol assignments'],
  ['192.0.0.192', 'Oracle metadata'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['192.88.99.1', '6to4 relay anycast'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking, top'],
  ['198.51.100.1', 'TEST-NET-2'],
  ['203.0.113.1', 'TEST-NET-3'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast SSDP'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'IPv6 unspecified'],
  ['::1', 'IPv6 loopback'],
  ['0:0:0:0:0:0:0:1', 'IPv6 loopback, uncompressed'],
  ['[::1]', 'IPv6 loopback in URL brackets'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback, dotted'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
  ['::FFFF:7F00:0001', 'IPv4-mapped loopback, upper case'],
  ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped loopback, uncompressed'],
  ['::ffff:10.0.0.1', 'IPv4-mapped RFC 1918'],
  ['::ffff:a00:1', 'IPv4-mapped RFC 1918, hex'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex'],
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::8.8.8.8', 'IPv4-compatible (deprecated; refused whatever it embeds)'],
  ['::ffff:0:7f00:1', 'IPv4-translated'],
  ['64:ff9b::127.0.0.1', 'NAT64 of loopback'],
  ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1, hex'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of metadata'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  ['2002:7f00:1::1', '6to4 of loopback'],
  ['2002:a00:1::', '6to4 of 10.0.0.1'],
  ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
  ['2002:a9fe:a9fe::', '6to4 of metadata'],
  ['fc00::1', 'ULA'],
  ['fd00::1', 'ULA'],
  ['fd00:ec2::254', 'AWS metadata over IPv6'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local with a zone'],
  ['febf:ffff::1', 'link-local, top'],
  ['fec0::1', 'site-local (deprecated)'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['100::1', 'discard-only'],
  ['2001::1', 'Teredo'],
  ['2001:2::1', 'IPv6 benchmarking'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation (RFC 9637)'],
  ['5f00::1', 'SRv6 SIDs, outside global unicast']
]

const ALLOWED: Array<[string, string]> = [
  ['8.8.8.8', 'Google DNS'],
  ['1.1.1.1', 'Cloudflare DNS'],
  ['9.9.9.9', 'Quad9'],
  ['11.0.0.1', 'just past 10/8'],
  ['100.63.255.255', 'just below CGNAT'],
  ['100.128.0.0', 'just past CGNAT'],
  ['169.253.255.255', 'just below link-local'],
  ['172.15.255.255', 'just below 172.16/12'],
  ['172.32.0.0', 'just past 172.16/12'],
  ['192.169.0.1', 'just past 192.168/16'],
  ['198.17.255.255', 'just below benchmarking'],
  ['198.20.0.0', 'just past benchmarking'],
  ['223.255.255.255', 'just below multicast'],
  ['2606:4700:4700::1111', 'Cloudflare DNS over IPv6'],
  ['2001:4860:4860::8888', 'Google DNS over IPv6'],
  ['[2606:4700:4700::1111]', 'in URL brackets'],
  ['2001:200::1', 'just past 2001::/23'],
  ['3fff:1000::1', 'just past 3fff::/20'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public, dotted'],
  ['::ffff:808:808', 'IPv4-mapped public, hex'],
  ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
  ['2002:808:808::1', '6to4 of a public address']
]

// Fail closed: whatever is not an IP literal is never connected to.
const NOT_IP_LITERALS = ['', 'localhost', 'example.com', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '0x7f.0.0.1', '2130706433',
  ' 8.8.8.8', '8.8.8.8 ', ':::1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%', 'gggg::1', '::ffff:1.2.3', '[8.8.8.8]']

t.test('forbidden addresses', async (t) => {
  for (const [ip, why] of FORBIDDEN) t.equal(isForbiddenAddress(ip), true, `${ip} (${why})`)
})

t.test('public addresses are allowed', async (t) => {
  for (const [ip, why] of ALLOWED) t.equal(isForbiddenAddress(ip), false, `${ip} (${why})`)
})

t.test('anything that is not an IP literal is forbidden', async (t) => {
  for (const text of NOT_IP_LITERALS) t.equal(isForbiddenAddress(text), true, JSON.stringify(text))
})

t.test('cloud metadata addresses are recognised in every spelling', async (t) => {
  for (const address of CLOUD_METADATA_ADDRESSES) {
    t.equal(isForbiddenAddress(address), true, address)
    t.equal(isCloudMetadataAddress(address), true, address)
  }
  for (const spelling of ['::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', 'FD00:EC2:0:0:0:0:0:254', '[fd00:ec2::254]']) {
    t.equal(isCloudMetadataAddress(spelling), true, spelling)
  }
  for (const other of ['169.254.169.253', '10.0.0.1', '8.8.8.8', '::1', 'metadata.google.internal']) {
    t.equal(isCloudMetadataAddress(other), false, other)
  }
})

const ipv4Bytes = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
const hex = (high: number, low: number): string => ((high << 8) | low).toString(16)

t.test('an IPv4 address is judged the same in each of its IPv6 forms', async (t) => {
  fc.assert(fc.property(ipv4Bytes, ([a, b, c, d]) => {
    const dotted = `${a}.${b}.${c}.${d}`
    const verdict = isForbiddenAddress(dotted)
    const spellings = [
      `::ffff:${dotted}`,
      `::ffff:${hex(a, b)}:${hex(c, d)}`,
      `0:0:0:0:0:ffff:${hex(a, b)}:${hex(c, d)}`,
      new URL(`http://[::ffff:${dotted}]/`).hostname,
      `64:ff9b::${dotted}`,
      `64:ff9b::${hex(a, b)}:${hex(c, d)}`,
      `2002:${hex(a, b)}:${hex(c, d)}::1`
    ]
    return spellings.every((spelling) => isForbiddenAddress(spelling) === verdict)
  }), { numRuns: 2000 })
  t.pass('2000 random IPv4 addresses')
})

t.test('every address inside a forbidden IPv4 range is forbidden', async (t) => {
  const ranges: Array<[string, number]> = [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
    ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
    ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]]
  for (const [base, bits] of ranges) {
    const start = base.split('.').reduce((value, part) => value * 256 + Number(part), 0)
    fc.assert(fc.property(fc.nat(2 ** (32 - bits) - 1), (offset) => {
      const value = start + offset
      const ip = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
      return isForbiddenAddress(ip) && isForbiddenAddress(`::ffff:${ip}`)
    }), { numRuns: 200 })
  }
  t.pass(`${ranges.length} ranges`)
})

const ipv6Bytes = fc.uint8Array({ minLength: 16, maxLength: 16 })
const fullForm = (bytes: Uint8Array): string => Array.from({ length: 8 }, (_, index) => hex(bytes[index * 2] ?? 0, bytes[index * 2 + 1] ?? 0)).join(':')

t.test('IPv6 outside global unicast 2000::/3 is forbidden unless it embeds an allowed IPv4 address', async (t) => {
  fc.assert(fc.property(ipv6Bytes, (bytes) => {
    const ip = fullForm(bytes)
    const text = Buffer.from(bytes).toString('hex')
    const embedsIpv4 = text.startsWith('00000000000000000000ffff') || text.startsWith('0064ff9b0000000000000000')
    if (embedsIpv4 || ((bytes[0] ?? 0) & 0xe0) === 0x20) return true
    return isForbiddenAddress(ip)
  }), { numRuns: 2000 })
  t.pass('2000 random IPv6 addresses')
})

t.test('the parser reads every spelling of an IPv6 address as the same bytes', async (t) => {
  fc.assert(fc.property(ipv6Bytes, (bytes) => {
    const full = fullForm(bytes)
    const compressed = new URL(`http://[${full}]/`).hostname
    const expected = Buffer.from(bytes).toString('hex')
    return [full, full.toUpperCase(), compressed, compressed.slice(1, -1), `${full}%eth0`]
      .every((spelling) => {
        const parsed = parseIp(spelling)
        return parsed?.version === 6 && Buffer.from(parsed.bytes).toString('hex') === expected &&
          isForbiddenAddress(spelling) === isForbiddenAddress(full)
      })
  }), { numRuns: 2000 })
  t.pass('2000 random IPv6 addresses')
})

t.test('the parser accepts exactly what node:net accepts', async (t) => {
  const token = fc.constantFrom('0', '1', '7f', 'a9fe', 'FFFF', '12345', 'g', ':', ':', '::', '.', '255', '256', '01', '1.2.3.4', '%eth0', '%')
  fc.assert(fc.property(fc.array(token, { maxLength: 14 }), (tokens) => {
    const text = tokens.join('')
    return (parseIp(text) !== undefined) === (net.isIP(text) !== 0)
  }), { numRuns: 20_000 })
  t.pass('20000 generated strings')
})
