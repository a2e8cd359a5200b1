import t from 'tap'
import { generateApiKey, keyPrefix } from '../../src/keys/api-key.js'
import { parseBearerKey, repeatsAuthorization } from '../../src/keys/key-verifier.js'

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

t.test('a repeated Authorization header is noticed in any spelling', async (t) => {
  const key = generateApiKey()
  t.notOk(repeatsAuthorization([]))
  t.notOk(repeatsAuthorization(['Host', 'x', 'Authorization', `Bearer ${key}`, 'Accept', '*/*']))
  t.notOk(repeatsAuthorization(['X-Authorization', 'a', 'Authorization', 'b', 'authorization-extra', 'c']), 'only that exact name counts')
  t.ok(repeatsAuthorization(['Authorization', `Bearer ${key}`, 'authorization', `Bearer ${key}`]), 'the same value twice')
  t.ok(repeatsAuthorization(['AUTHORIZATION', 'Basic x', 'Host', 'y', 'Authorization', '']), 'another scheme, case and an empty value')
  t.notOk(repeatsAuthorization(['x-note', 'authorization', 'x-other', 'authorization']), 'values are not names')
})
