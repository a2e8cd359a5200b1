// Both rate-limit stores against the same script on a hand-moved clock: the sliding window, Retry-After and Reset, atomic counting, isolation, clean-up.
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { Redis } from 'ioredis'
import { createTestDatabase } from '../helpers/database.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import type { OrgId } from '../../src/org-id.js'
import { DatabaseRateLimitStore } from '../../src/rate-limit/database-store.js'
import { RateLimiter } from '../../src/rate-limit/rate-limiter.js'
import type { RateLimitStore } from '../../src/rate-limit/rate-limit-store.js'
import { RedisRateLimitStore } from '../../src/rate-limit/redis-store.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const WINDOW_MS = 60_000
// A fixed-window boundary (a multiple of the window), far from today so no real count interferes.
const T0 = 1_000_000 * WINDOW_MS

interface StoreUnderTest {
  /** A store on the shared backend; each call is another instance. */
  open: () => Promise<RateLimitStore>
  newOrg: (name: string) => Promise<OrgId>
}

async function behavesAsASlidingWindow (t: Test, backend: StoreUnderTest): Promise<void> {
  const store = await backend.open()
  let now = T0
  const limiter = new RateLimiter(store, { limit: 10, windowMs: WINDOW_MS, now: () => now })

  t.test('a burst late in one window is not let through again at the boundary', async (t) => {
    const org = await backend.newOrg('burst')
    now = T0 + 45_000
    for (let i = 1; i <= 10; i++) {
      const decision = await limiter.check(org)
      t.equal(decision.allowed, true, `request ${i} accepted`)
      t.equal(decision.remaining, 10 - i)
      // All counted in this window fade out over the next: fully reset 2 windows after this one's start.
      t.equal(decision.resetSeconds, 75)
    }
    const refused = await limiter.check(org)
    t.match(refused, { allowed: false, remaining: 0 }, 'the eleventh in the window is refused')
    // 10 × (1 − f) + 1 ≤ 10 once the next window is a tenth through: 15 s + 6 s.
    t.equal(refused.retryAfterSeconds, 21)

    now = T0 + WINDOW_MS + 1 // a fixed window would start again from zero here
    const atBoundary = await limiter.check(org)
    t.match(atBoundary, { allowed: false, remaining: 0 }, 'refused just past the boundary: the previous window still weighs ~10')
    t.equal(atBoundary.retryAfterSeconds, 6, 'until a tenth of the window has passed')

    now = T0 + WINDOW_MS + 6000
    t.match(await limiter.check(org), { allowed: true, remaining: 0 }, 'one fits a tenth of the way in')
    t.match(await limiter.check(org), { allowed: false }, 'but only one')
    now = T0 + WINDOW_MS + 30_000
    const half = await limiter.check(org)
    t.match(half, { allowed: true, remaining: 3 }, 'halfway: 10 × 0.5 + 1 earlier + this one = 7, so 3 remain')
    t.equal(half.resetSeconds, 90, 'the counts of this window last until the end of the next')

    now = T0 + 3 * WINDOW_MS + 1
    t.match(await limiter.check(org), { allowed: true, remaining: 9 }, 'two windows on, everything has faded')
  })

  t.test('refused requests are not counted', async (t) => {
    const org = await backend.newOrg('refused')
    now = T0 + 10 * WINDOW_MS
    for (let i = 0; i < 10; i++) await limiter.check(org)
    for (let i = 0; i < 50; i++) t.equal((await limiter.check(org)).allowed, false)
    now = T0 + 11 * WINDOW_MS + 6000
    t.match(await limiter.check(org), { allowed: true }, 'the hammering did not push the next allowance back')
  })

  t.test('organisations are counted apart', async (t) => {
    const a = await backend.newOrg('A')
    const b = await backend.newOrg('B')
    now = T0 + 20 * WINDOW_MS
    for (let i = 0; i < 10; i++) await limiter.check(a)
    t.match(await limiter.check(a), { allowed: false })
    t.match(await limiter.check(b), { allowed: true, remaining: 9 }, 'B starts with its whole budget')
  })

  t.test('concurrent requests through several instances never overshoot', async (t) => {
    const org = await backend.newOrg('concurrent')
    now = T0 + 30 * WINDOW_MS
    const others = await Promise.all([backend.open(), backend.open()])
    t.teardown(async () => { await Promise.all(others.map(async (other) => { await other.close() })) })
    const limiters = [limiter, ...others.map((other) => new RateLimiter(other, { limit: 10, windowMs: WINDOW_MS, now: () => now }))]
    const decisions = await Promise.all(Array.from({ length: 40 }, async (_, i) => await (limiters[i % limiters.length] as RateLimiter).check(org)))
    t.equal(decisions.filter((decision) => decision.allowed).length, 10, 'exactly the limit of 40 sent at once')
    t.same(decisions.filter((decision) => decision.allowed).map((decision) => decision.remaining).sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each accepted request saw its own count')
  })
}

t.test('the database store', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const database = await testDatabase.open()
  t.teardown(async () => { await database.close() })
  // On PostgreSQL every "instance" gets its own connection pool to the same database.
  const pools = [database]
  t.teardown(async () => { for (const pool of pools.slice(1)) await pool.close() })
  const backend: StoreUnderTest = {
    open: async () => {
      if (testDatabase.kind === 'pglite') return new DatabaseRateLimitStore(database.db)
      const pool = await testDatabase.open()
      pools.push(pool)
      return new DatabaseRateLimitStore(pool.db)
    },
    newOrg: async (name) => (await createOrg(database.db, name)).id
  }
  await behavesAsASlidingWindow(t, backend)

  t.test('windows older than the previous one are deleted by the next count', async (t) => {
    const store = new DatabaseRateLimitStore(database.db)
    const org = (await createOrg(database.db, 'clean-up')).id
    const limiter = (at: number): RateLimiter => new RateLimiter(store, { limit: 10, windowMs: WINDOW_MS, now: () => at })
    for (let window = 0; window < 5; window++) await limiter(T0 + 40 * WINDOW_MS + window * WINDOW_MS).check(org)
    // bigint arrives as a string from postgres.js, a number from PGlite.
    const rows = await queryInOrg<{ window_start: string | number }>(database, org, sql`select window_start from rate_limit_windows where org_id = ${org} order by window_start`)
    t.same(rows.map((row) => Number(row.window_start)), [T0 + 43 * WINDOW_MS, T0 + 44 * WINDOW_MS], 'only the current and previous windows remain')
  })
})

async function redisReachable (): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

t.test('the Redis store', { skip: await redisReachable() ? false : `Redis is not reachable at ${REDIS_URL}` }, async (t) => {
  // A prefix of this run's own, removed afterwards, so runs sharing the Redis never meet.
  const prefix = `jack-test:${process.pid}:${randomUUID()}:`
  const stores: RateLimitStore[] = []
  const admin = new Redis(REDIS_URL)
  t.teardown(async () => {
    for (const store of stores) await store.close()
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })
  const backend: StoreUnderTest = {
    open: async () => {
      const store = await RedisRateLimitStore.connect({ url: REDIS_URL, keyPrefix: prefix })
      stores.push(store)
      return store
    },
    newOrg: async () => randomUUID() as OrgId
  }
  await behavesAsASlidingWindow(t, backend)

  t.test('counters carry an expiry of two windows', async (t) => {
    const keys = await admin.keys(`${prefix}*`)
    t.ok(keys.length > 0)
    for (const key of keys) {
      const ttl = await admin.pttl(key)
      t.ok(ttl > 0 && ttl <= 2 * WINDOW_MS + 1000, `${key} expires (${ttl} ms)`)
    }
  })
})
