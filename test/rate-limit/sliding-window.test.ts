// The sliding-window arithmetic on its own: positions, estimates, when the next request fits, when the budget is whole again.
import t from 'tap'
import { estimate, fits, msUntilNextFits, msUntilReset, remaining, toSeconds, windowAt } from '../../src/rate-limit/sliding-window.js'

const W = 60_000

t.test('a position within fixed windows aligned to the epoch', async (t) => {
  t.same(windowAt(5 * W + 15_000, W), { currentStart: 5 * W, previousStart: 4 * W, elapsedMs: 15_000, previousWeight: 0.75, windowMs: W })
  t.equal(windowAt(5 * W, W).previousWeight, 1, 'the previous window counts whole at the boundary')
})

t.test('the estimate weighs the previous window by the share still covered', async (t) => {
  const position = windowAt(30_000, W) // halfway
  t.equal(estimate({ previous: 10, current: 3 }, position), 8)
  t.equal(remaining({ previous: 10, current: 3 }, position, 10), 2)
  t.equal(remaining({ previous: 10, current: 9 }, position, 10), 0, 'never negative')
  t.ok(fits({ previous: 10, current: 4 }, position, 10), '5 + 4 + 1 = 10 fits')
  t.notOk(fits({ previous: 10, current: 5 }, position, 10), '5 + 5 + 1 = 11 does not')
  // 3 × (1 − 2/3) is 0.9999999999999998 in floating point; it must count as 1.
  const twoThirds = windowAt(40_000, W)
  t.ok(fits({ previous: 3, current: 3 }, twoThirds, 5), '1 + 3 + 1 = 5 fits despite rounding')
  t.equal(remaining({ previous: 3, current: 3 }, twoThirds, 5), 1)
})

t.test('when the next request fits', async (t) => {
  const near = (actual: number, expected: number, message?: string): void => {
    t.ok(Math.abs(actual - expected) < 1e-6, `${message ?? 'ms'}: ${actual} ≈ ${expected}`)
  }
  t.equal(msUntilNextFits({ previous: 0, current: 3 }, windowAt(10_000, W), 10), 0, 'now, when it fits')
  // previous 10 at the start of a window, limit 10: 10(1 − f) + 1 ≤ 10 ⇔ f ≥ 0.1.
  near(msUntilNextFits({ previous: 10, current: 0 }, windowAt(0, W), 10), 6000)
  near(msUntilNextFits({ previous: 10, current: 2 }, windowAt(1000, W), 10), 17_000, '10(1 − f) + 3 ≤ 10 ⇔ f ≥ 0.3, 18 s in')
  // This window full: in the next, 10(1 − f) + 1 ≤ 10 ⇔ f ≥ 0.1.
  near(msUntilNextFits({ previous: 0, current: 10 }, windowAt(45_000, W), 10), 15_000 + 6000)
  near(msUntilNextFits({ previous: 7, current: 10 }, windowAt(45_000, W), 10), 21_000, 'the previous window is gone by then')
  // With a limit of L, a full window keeps the next one closed for its first 1/L: all of it when L is 1.
  near(msUntilNextFits({ previous: 0, current: 1 }, windowAt(0, W), 1), 120_000, 'a limit of 1: not until this window has faded entirely, at the end of the next')
})

t.test('when the whole budget is back', async (t) => {
  t.equal(msUntilReset({ previous: 0, current: 0 }, windowAt(10_000, W)), 0)
  t.equal(msUntilReset({ previous: 4, current: 0 }, windowAt(10_000, W)), 50_000, 'the previous window fades by the end of this one')
  t.equal(msUntilReset({ previous: 4, current: 1 }, windowAt(10_000, W)), 110_000, 'this window\'s count fades by the end of the next')
})

t.test('seconds round up', async (t) => {
  t.equal(toSeconds(0), 0)
  t.equal(toSeconds(1), 1)
  t.equal(toSeconds(1000), 1)
  t.equal(toSeconds(1000.0000001), 1, 'floating-point dust is not a whole second more')
  t.equal(toSeconds(1001), 2)
})
