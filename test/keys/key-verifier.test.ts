import t from 'tap'
import { generateApiKey, keyPrefix } from '../../src/keys/api-key.js'
import { parseBearerKey } from '../../src/keys/key-verifier.js'

t.test('generated keys have the documented form', async (t) => {
  const keys = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const key = generateApiKey()
    t.match(key, /^jack_[0-9a-f]{48}$/)
    keys.add(key)
  }
  t.equal(keys.size, 200, 'no repeats')
  const key = generateApiKey()
  t.equal(keyPrefix(key), key.slice(0, 16))
  t.equal(keyPrefix(key).length, 16)
})

t.test('the Authorization header is parsed strictly', async (t) => {
  const key = generateApiKey()
  t.equal(parseBearerKey(`Bearer ${key}`), key)
  t.equal(parseBearerKey(`bearer ${key}`), key, 'the scheme is case-insensitive (RFC 9110)')
  for (const header of [undefined, '', 'Bearer', `Bearer  ${key}`, `Bearer ${key} `, ` Bearer ${key}`, `Token ${key}`, `Bearer ${key.toUpperCase()}`, `Bearer ${key.slice(0, -1)}`, `Bearer ${key}a`, `Bearer ${key},${key}`]) {
    t.equal(parseBearerKey(header), undefined, JSON.stringify(header))
  }
})
