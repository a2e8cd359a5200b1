// The per-address failure throttle on a hand-moved clock: the limit, checks under way, the sliding window, address keys, bounded memory.
import t from 'tap'
import { AuthFailureThrottle, throttleKey } from '../../src/keys/auth-failure-throttle.js'

const W = 60_000
const T0 = 1000 * W

function fail (throttle: AuthFailureThrottle, address: string): boolean {
  const admission = throttle.admit(address)
  if (admission.admitted) throttle.recordFailure(address)
  return admission.admitted
}

t.test('an address is refused once its failures reach the limit; successes do not count', async (t) => {
  let now = T0 + 30_000
  const throttle = new AuthFailureThrottle({ limit: 3, windowMs: W, now: () => now })
  for (let i = 0; i < 10; i++) t.ok(throttle.admit('192.0.2.1').admitted, 'a check that then succeeds records nothing')
  for (let i = 0; i < 3; i++) t.ok(fail(throttle, '192.0.2.1'), `failure ${i + 1} admitted`)
  const refused = throttle.admit('192.0.2.1')
  t.same(refused, { admitted: false, retryAfterSeconds: 50 }, 'refused until the next window is a third through (30 s + 20 s)')
  t.ok(throttle.admit('192.0.2.2').admitted, 'another address is not affected')
  now = T0 + W + 20_000
  t.ok(fail(throttle, '192.0.2.1'), 'admitted again once 3 × (1 − f) + 1 ≤ 3')
  t.notOk(throttle.admit('192.0.2.1').admitted, 'and refused again right after')
  now = T0 + 3 * W
  t.ok(throttle.admit('192.0.2.1').admitted, 'forgotten after two windows')
})

t.test('checks under way hold no place: only failures count', async (t) => {
  const throttle = new AuthFailureThrottle({ limit: 3, windowMs: W, now: () => T0 })
  const admissions = Array.from({ length: 10 }, () => throttle.admit('198.51.100.9'))
  t.ok(admissions.every((admission) => admission.admitted), 'ten checks at once are all admitted (a valid key\'s burst after a restart)')
  for (let i = 0; i < 3; i++) throttle.recordFailure('198.51.100.9')
  t.notOk(throttle.admit('198.51.100.9').admitted, 'three of them failing reach the limit')
  t.ok(throttle.admit('198.51.100.10').admitted, 'for that address only')
})

t.test('a limit of 0 turns the throttle off', async (t) => {
  const throttle = new AuthFailureThrottle({ limit: 0, windowMs: W })
  for (let i = 0; i < 100; i++) t.ok(fail(throttle, '192.0.2.1'))
  t.equal(throttle.trackedAddresses, 0, 'and remembers nothing')
})

t.test('memory is bounded: the least recently seen addresses are forgotten first', async (t) => {
  const throttle = new AuthFailureThrottle({ limit: 1, windowMs: W, maxAddresses: 3, now: () => T0 })
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) fail(throttle, address)
  t.notOk(throttle.admit('10.0.0.1').admitted, '10.0.0.1 is refused (and now the most recently seen)')
  fail(throttle, '10.0.0.4')
  t.equal(throttle.trackedAddresses, 3)
  t.ok(throttle.admit('10.0.0.2').admitted, 'the least recently seen (10.0.0.2) was forgotten')
  t.notOk(throttle.admit('10.0.0.1').admitted, '10.0.0.1 was kept')
})

t.test('throttle keys', async (t) => {
  t.equal(throttleKey('192.0.2.1'), '192.0.2.1')
  t.equal(throttleKey('::ffff:192.0.2.1'), '192.0.2.1', 'IPv4-mapped IPv6 is its IPv4 address')
  t.equal(throttleKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
  t.equal(throttleKey('2001:DB8:1:2::9'), '2001:db8:1:2::/64', 'spelling does not matter')
  t.equal(throttleKey('::1'), '0:0:0:0::/64')
  t.equal(throttleKey('not an address'), 'not an address')
})
