// The tenant policy jack gives every table (drizzle/0007_row_level_security.sql), for tables a benchmark creates in its own database.
import { sql, type SQL } from 'drizzle-orm'
import { SERVING_ROLE } from '../../src/db/serving-role.js'

/** Statements as the tables' owner (DDL, VACUUM, bulk builds): on these benchmark databases a superuser, whom row-level security does not bind. */
export interface OwnerStatements {
  execute: (query: SQL) => Promise<unknown>
}

/** Forced row-level security by org_id = jack_current_org_id(), and jack_app's grants: the table reads and writes as jack's own do, in an organisation transaction. */
export async function protectTable (owner: OwnerStatements, table: string): Promise<void> {
  await owner.execute(sql.raw(`alter table ${table} enable row level security`))
  await owner.execute(sql.raw(`alter table ${table} force row level security`))
  await owner.execute(sql.raw(`create policy tenant_isolation on ${table} using (org_id = (select jack_current_org_id())) with check (org_id = (select jack_current_org_id()))`))
  await owner.execute(sql.raw(`grant select, insert, update, delete on ${table} to ${SERVING_ROLE}`))
}
