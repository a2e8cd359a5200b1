// Temporary: EXPLAIN ANALYZE of design B's statement on a running benchmark database (not committed).
import { sql, type SQL } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { Db } from '../../src/db/client.js'
import { asOrgId } from '../../src/org-id.js'
import { rowsOf } from '../../src/db/rows.js'
import { EMPTY_FILTER, parseFilter } from '../../src/retrieval/filters.js'
import { searchPrefixes } from './impact-prefixes.js'

const client = postgres(`postgres://postgres@127.0.0.1:5432/${process.argv[2]}`, { max: 1, onnotice: () => {} })
const db = drizzle(client) as unknown as Db
const [org] = rowsOf<{ org_id: string }>(await db.execute(sql`select org_id from bench_b_sealed`))
const orgId = asOrgId(org?.org_id ?? '')
const statements: SQL[] = []
const query = process.argv[3] ?? 'ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors.'
const filter = process.argv[4] === 'year' ? parseFilter({ year: '2020' }) : EMPTY_FILTER
await db.transaction(async (tx) => {
  const capturing = new Proxy(tx as unknown as Db, { get: (target, property, receiver) => property === 'execute' ? async (statement: SQL) => { statements.push(statement); return await target.execute(statement) } : Reflect.get(target, property, receiver) as unknown })
  await searchPrefixes(capturing, orgId, query, 10, filter, [Number(process.argv[5] ?? 256)])
})
const rank = statements.find((statement) => JSON.stringify(statement).includes('candidates'))
if (rank === undefined) throw new Error('no statement')
await db.transaction(async (tx) => {
  await tx.execute(sql`select set_config('app.org_id', ${orgId}, true)`)
  const plan = rowsOf<Record<string, string>>(await tx.execute(sql`explain (analyze, buffers) ${rank}`))
  for (const row of plan) console.log(Object.values(row)[0])
})
await client.end()
