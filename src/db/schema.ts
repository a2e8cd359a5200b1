// The one Drizzle schema for both backends; drizzle-kit generates drizzle/ from it.
import { sql } from 'drizzle-orm'
import { index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'

export const orgs = pgTable('orgs', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
})

// Tenant tables lead their keys with org_id so they can be distributed by
// organisation (Citus) without a schema change.
export const apiKeys = pgTable('api_keys', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  id: uuid('id').notNull().default(sql`gen_random_uuid()`),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull(),
  label: text('label').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true })
}, (table) => [
  primaryKey({ columns: [table.orgId, table.id] }),
  index('api_keys_prefix_idx').on(table.prefix),
  index('api_keys_org_created_idx').on(table.orgId, table.createdAt)
])

export type OrgRow = typeof orgs.$inferSelect
export type ApiKeyRow = typeof apiKeys.$inferSelect
