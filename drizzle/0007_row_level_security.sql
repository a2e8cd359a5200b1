-- Row-level security: the database's own wall between organisations, behind
-- the repositories' typed org_id arguments.
--
-- jack serves as jack_app, a role that owns nothing and bypasses nothing (on
-- PostgreSQL its connections log in as it; on PGlite, which has one user, the
-- connection SETs ROLE to it after migrating). Every table holding tenant data
-- lets a session see and write only the rows of the organisation it has set
-- with set_config('app.org_id', …, true) in its transaction; with none set
-- (NULL, or '' once a transaction that set it has ended) it sees nothing.
-- FORCE makes the tables' owner obey the policies too.
--
-- Three lookups must cross organisations: a presented key's candidates by
-- prefix (before any organisation is known), the ingest queue's next job (the
-- queue serves every organisation), and whether any organisation exists (first
-- start). They are SECURITY DEFINER functions owned by jack_system, a role no
-- one logs in as, which alone has policies that pass every row, and only for
-- the statements those functions run.
--
-- Roles belong to the whole server, so several databases (or concurrent test
-- runs) may create them at once: "already exists" is not an error.
DO $$
BEGIN
  CREATE ROLE jack_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
--> statement-breakpoint
DO $$
BEGIN
  CREATE ROLE jack_system NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
--> statement-breakpoint
-- The organisation a transaction acts for. Policies call it as a scalar
-- subquery, so it is evaluated once per statement rather than once per row.
CREATE FUNCTION jack_current_org_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('app.org_id', true), '')::uuid
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO jack_app, jack_system;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO jack_app;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO jack_app;
--> statement-breakpoint
-- Tables later migrations create get the same grants, but not row-level
-- security: test/db/row-level-security.test.ts fails until they have it.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO jack_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO jack_app;
--> statement-breakpoint
-- PGlite has no autovacuum, so jack vacuums its BM25 index itself
-- (src/db/maintenance.ts). MAINTAIN exists from PostgreSQL 17 (PGlite's);
-- on older servers autovacuum does that work and jack never vacuums.
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'GRANT MAINTAIN ON ALL TABLES IN SCHEMA public TO jack_app';
  END IF;
END $$;
--> statement-breakpoint
ALTER TABLE "orgs" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "orgs" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "orgs" USING ("id" = (SELECT jack_current_org_id())) WITH CHECK ("id" = (SELECT jack_current_org_id()));
--> statement-breakpoint
DO $$
DECLARE
  tenant_table text;
BEGIN
  FOREACH tenant_table IN ARRAY ARRAY['api_keys', 'documents', 'document_payloads', 'ingest_jobs', 'chunks', 'postings', 'org_chunk_stats', 'idempotency_keys', 'rate_limit_windows'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (org_id = (SELECT jack_current_org_id())) WITH CHECK (org_id = (SELECT jack_current_org_id()))', tenant_table);
  END LOOP;
END $$;
--> statement-breakpoint
-- jack_system's policies: exactly the rows and statements of the three functions below.
GRANT SELECT ON "orgs", "api_keys" TO jack_system;
--> statement-breakpoint
GRANT SELECT, UPDATE ON "ingest_jobs" TO jack_system;
--> statement-breakpoint
CREATE POLICY "any_org_exists" ON "orgs" FOR SELECT TO jack_system USING (true);
--> statement-breakpoint
CREATE POLICY "key_candidates" ON "api_keys" FOR SELECT TO jack_system USING (true);
--> statement-breakpoint
CREATE POLICY "claim_job_read" ON "ingest_jobs" FOR SELECT TO jack_system USING (true);
--> statement-breakpoint
CREATE POLICY "claim_job_lease" ON "ingest_jobs" FOR UPDATE TO jack_system USING (true) WITH CHECK (true);
--> statement-breakpoint
-- The hashes a presented key must be checked against: no tenant data beyond them.
CREATE FUNCTION jack_api_key_candidates(key_prefix text)
RETURNS TABLE (org_id uuid, id uuid, hash text, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT k.org_id, k.id, k.hash, k.revoked_at FROM public.api_keys AS k WHERE k.prefix = key_prefix
$$;
--> statement-breakpoint
-- Leases the next due job of any organisation: due once its back-off has
-- passed and nobody holds a live lease on it (an expired lease is a dead worker).
CREATE FUNCTION jack_claim_ingest_job(worker_id text, lease_ms bigint)
RETURNS TABLE (org_id uuid, document_id uuid, attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH next AS (
    SELECT j.org_id, j.document_id FROM public.ingest_jobs AS j
    WHERE j.run_after <= now() AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now())
    ORDER BY j.run_after
    LIMIT 1
    FOR UPDATE SKIP LOCKED
  )
  UPDATE public.ingest_jobs AS job
  SET lease_expires_at = now() + lease_ms * interval '1 millisecond', leased_by = worker_id, attempts = job.attempts + 1
  FROM next
  WHERE job.org_id = next.org_id AND job.document_id = next.document_id
  RETURNING job.org_id, job.document_id, job.attempts
$$;
--> statement-breakpoint
CREATE FUNCTION jack_any_org_exists() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM public.orgs)
$$;
--> statement-breakpoint
-- Giving a function away needs membership in the new owner and, for a
-- non-superuser, the new owner's CREATE on the schema: what a managed
-- service's administrator role (CREATEROLE, not superuser) must grant itself.
-- jack_system keeps no CREATE once it owns the functions.
GRANT jack_system TO CURRENT_USER;
--> statement-breakpoint
GRANT CREATE ON SCHEMA public TO jack_system;
--> statement-breakpoint
DO $$
DECLARE
  definer text;
BEGIN
  FOREACH definer IN ARRAY ARRAY['jack_api_key_candidates(text)', 'jack_claim_ingest_job(text, bigint)', 'jack_any_org_exists()'] LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO jack_system', definer);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', definer);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO jack_app', definer);
  END LOOP;
END $$;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM jack_system;
