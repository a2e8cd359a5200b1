// LEB128 varints, the search index's one number encoding (posting lists and packed segments).

/** A growing byte buffer of varints and raw bytes. */
export class ByteWriter {
  private bytes: Uint8Array
  length = 0

  constructor (capacity = 256) {
    this.bytes = new Uint8Array(capacity)
  }

  varint (value: number): void {
    if (this.length + 5 > this.bytes.length) this.grow(this.length + 5)
    let rest = value
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest & 0x7f) | 0x80
      rest >>>= 7
    }
    this.bytes[this.length++] = rest
  }

  raw (bytes: Uint8Array): void {
    if (this.length + bytes.length > this.bytes.length) this.grow(this.length + bytes.length)
    this.bytes.set(bytes, this.length)
    this.length += bytes.length
  }

  append (other: ByteWriter): void {
    this.raw(other.bytes.subarray(0, other.length))
  }

  result (): Uint8Array {
    return this.bytes.slice(0, this.length)
  }

  private grow (needed: number): void {
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, needed))
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }
}

/** A read position in a byte array. */
export interface ByteReader {
  bytes: Uint8Array
  at: number
}

/** One varint, checked: a value that runs past the end is refused (stored data is not trusted to be whole). */
export function readVarint (reader: ByteReader): number {
  const { bytes } = reader
  let value = 0
  let shift = 0
  for (;;) {
    if (reader.at >= bytes.length) throw new RangeError('stored index data ends inside a number')
    const byte = bytes[reader.at++] as number
    value += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return value
    shift += 7
  }
}

/**
 * `count` varints (each below 2^31) from `at` into `out` from index `into`;
 * returns the position after them. Unchecked: the hot loop of a query,
 * called only within bounds a checked skip table has established.
 */
export function readVarintRun (bytes: Uint8Array, at: number, out: Int32Array | Uint16Array, into: number, count: number): number {
  let position = at
  for (let i = into; i < into + count; i++) {
    let byte = bytes[position++] as number
    let value = byte & 0x7f
    let shift = 7
    while (byte >= 0x80) {
      byte = bytes[position++] as number
      value |= (byte & 0x7f) << shift
      shift += 7
    }
    out[i] = value
  }
  return position
}
