// Rate-limit counts in Redis (REDIS_URL): two counters per organisation and window, counted by one Lua script so the check and the increment are atomic.
import { Redis } from 'ioredis'
import type { OrgId } from '../org-id.js'
import type { CountResult, RateLimitStore } from './rate-limit-store.js'
import type { WindowPosition } from './sliding-window.js'

// KEYS: the current and previous windows' counters. ARGV: the previous window's
// weight, the limit, and the counter's lifetime in milliseconds. A refused
// request increments nothing, like the database store.
const COUNT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if current + 1 + previous * tonumber(ARGV[1]) > tonumber(ARGV[2]) + 1e-9 then
  return {0, previous, current}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, previous, current}
`

type CountCommand = (current: string, previous: string, weight: string, limit: string, lifetimeMs: string) => Promise<[number, number, number]>

export interface RedisStoreOptions {
  url: string
  /** Prepended to every key, so deployments (and test runs) sharing a Redis never share counts. */
  keyPrefix: string
  /** A command not answered within this fails (and the limiter fails open) rather than holding the request. */
  commandTimeoutMs?: number
  /** How long start-up waits for the first connection before going on without it. */
  connectTimeoutMs?: number
  onError?: (error: Error) => void
}

export class RedisRateLimitStore implements RateLimitStore {
  private readonly client: Redis
  private readonly countCommand: CountCommand

  private constructor (private readonly options: RedisStoreOptions) {
    this.client = new Redis(options.url, {
      lazyConnect: true,
      // While disconnected, commands fail at once instead of queueing: the
      // limiter then fails open instead of stalling every request.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: options.connectTimeoutMs ?? 2000
    })
    this.client.on('error', (error: Error) => { options.onError?.(error) })
    this.client.defineCommand('jackRateLimitCount', { numberOfKeys: 2, lua: COUNT_SCRIPT })
    this.countCommand = (this.client as unknown as { jackRateLimitCount: CountCommand }).jackRateLimitCount.bind(this.client)
  }

  /**
   * Connects, waiting up to the connect timeout. If Redis is not there yet the
   * store is returned anyway and keeps reconnecting in the background; until
   * it connects every count fails (and the limiter fails open).
   */
  static async connect (options: RedisStoreOptions): Promise<RedisRateLimitStore> {
    const store = new RedisRateLimitStore(options)
    try {
      await store.client.connect()
    } catch (error) {
      options.onError?.(error as Error)
    }
    return store
  }

  private key (orgId: OrgId, windowStart: number): string {
    // The hash tag keeps an organisation's windows in one Redis Cluster slot, as the script needs.
    return `${this.options.keyPrefix}{${orgId}}:${windowStart}`
  }

  async count (orgId: OrgId, position: WindowPosition, limit: number): Promise<CountResult> {
    const [accepted, previous, current] = await this.countCommand(
      this.key(orgId, position.currentStart),
      this.key(orgId, position.previousStart),
      String(position.previousWeight),
      String(limit),
      // Needed until the end of the next window, where it is the previous one.
      String(2 * position.windowMs + 1000)
    )
    return { accepted: accepted === 1, previous: Number(previous), current: Number(current) }
  }

  async close (): Promise<void> {
    try {
      await this.client.quit()
    } catch {
      this.client.disconnect()
    }
  }
}
