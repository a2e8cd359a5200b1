-- The search index as immutable per-organisation segments of compressed
-- posting lists, ranked by block-max WAND in the application
-- (src/search-index/), replacing the postings table: one row per (lexeme,
-- chunk), which every query read exhaustively at ~1 µs a row.
CREATE TABLE "index_deleted_terms" (
	"org_id" uuid NOT NULL,
	"lexeme" text NOT NULL,
	"first_ordinal" integer NOT NULL,
	"chunks" integer NOT NULL,
	CONSTRAINT "index_deleted_terms_org_id_lexeme_first_ordinal_pk" PRIMARY KEY("org_id","lexeme","first_ordinal")
);
--> statement-breakpoint
CREATE TABLE "index_deletions" (
	"org_id" uuid NOT NULL,
	"first_ordinal" integer NOT NULL,
	"chunk_count" integer NOT NULL,
	CONSTRAINT "index_deletions_org_id_first_ordinal_pk" PRIMARY KEY("org_id","first_ordinal")
);
--> statement-breakpoint
CREATE TABLE "index_segments" (
	"org_id" uuid NOT NULL,
	"segment_id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "index_segments_segment_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"level" smallint NOT NULL,
	"base_ordinal" integer,
	"ordinal_span" integer NOT NULL,
	"chunk_count" integer NOT NULL,
	"document_count" integer NOT NULL,
	"documents" "bytea" NOT NULL,
	"packed" "bytea",
	CONSTRAINT "index_segments_org_id_segment_id_pk" PRIMARY KEY("org_id","segment_id")
);
--> statement-breakpoint
CREATE TABLE "index_terms" (
	"org_id" uuid NOT NULL,
	"lexeme" text NOT NULL,
	"segment_id" bigint NOT NULL,
	"df" integer NOT NULL,
	"postings" "bytea" NOT NULL,
	CONSTRAINT "index_terms_org_id_segment_id_lexeme_pk" PRIMARY KEY("org_id","segment_id","lexeme")
);
--> statement-breakpoint
CREATE TABLE "org_ordinals" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"next_ordinal" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "first_ordinal" integer;--> statement-breakpoint
ALTER TABLE "index_deleted_terms" ADD CONSTRAINT "index_deleted_terms_org_id_first_ordinal_index_deletions_org_id_first_ordinal_fk" FOREIGN KEY ("org_id","first_ordinal") REFERENCES "public"."index_deletions"("org_id","first_ordinal") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "index_deletions" ADD CONSTRAINT "index_deletions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "index_segments" ADD CONSTRAINT "index_segments_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "index_terms" ADD CONSTRAINT "index_terms_org_id_segment_id_index_segments_org_id_segment_id_fk" FOREIGN KEY ("org_id","segment_id") REFERENCES "public"."index_segments"("org_id","segment_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_ordinals" ADD CONSTRAINT "org_ordinals_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "documents_org_first_ordinal_idx" ON "documents" USING btree ("org_id","first_ordinal");--> statement-breakpoint
CREATE INDEX "index_deleted_terms_deletion_idx" ON "index_deleted_terms" USING btree ("org_id","first_ordinal");--> statement-breakpoint
-- Lexemes are opaque tokens compared as bytes, on any server locale.
ALTER TABLE "index_terms" ALTER COLUMN "lexeme" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "index_deleted_terms" ALTER COLUMN "lexeme" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
-- Already compressed: TOAST keeps long lists out of line without running pglz over them again.
ALTER TABLE "index_terms" ALTER COLUMN "postings" SET STORAGE EXTERNAL;
--> statement-breakpoint
ALTER TABLE "index_segments" ALTER COLUMN "documents" SET STORAGE EXTERNAL;
--> statement-breakpoint
ALTER TABLE "index_segments" ALTER COLUMN "packed" SET STORAGE EXTERNAL;
--> statement-breakpoint
-- The chunk triggers now keep only the statistics (N and total length); the
-- segments are written by the application in the transaction that writes the
-- chunks (src/repositories/search-index.repo.ts).
CREATE OR REPLACE FUNCTION "maintain_search_index"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM org_chunk_stats;
    DELETE FROM index_segments;
    DELETE FROM index_deletions;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    -- UPDATE, not upsert: a missing row means the organisation itself is
    -- being deleted (its rows cascade away), and there is nothing to keep.
    UPDATE org_chunk_stats AS s
    SET chunk_count = s.chunk_count - d.chunk_count, total_length = s.total_length - d.total_length
    FROM (
      SELECT o.org_id, get_byte(uuid_send(o.document_id), 15) % 16 AS shard, count(*) AS chunk_count,
             sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(jack_indexed_vector(o.text, o.tsv)) AS t)) AS total_length
      FROM old_chunks AS o
      GROUP BY 1, 2
    ) AS d
    WHERE s.org_id = d.org_id AND s.shard = d.shard;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO org_chunk_stats (org_id, shard, chunk_count, total_length)
    SELECT n.org_id, get_byte(uuid_send(n.document_id), 15) % 16, count(*),
           sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(jack_indexed_vector(n.text, n.tsv)) AS t))
    FROM new_chunks AS n
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (org_id, shard) DO UPDATE
    SET chunk_count = org_chunk_stats.chunk_count + excluded.chunk_count,
        total_length = org_chunk_stats.total_length + excluded.total_length;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
DROP TABLE "postings";
--> statement-breakpoint
DO $$
DECLARE
  tenant_table text;
BEGIN
  FOREACH tenant_table IN ARRAY ARRAY['org_ordinals', 'index_segments', 'index_terms', 'index_deletions', 'index_deleted_terms'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (org_id = (SELECT jack_current_org_id())) WITH CHECK (org_id = (SELECT jack_current_org_id()))', tenant_table);
  END LOOP;
END $$;
--> statement-breakpoint
-- As 0007 for the tables it knew: PGlite's jack vacuums the index itself (src/db/maintenance.ts).
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'GRANT MAINTAIN ON "org_ordinals", "index_segments", "index_terms", "index_deletions", "index_deleted_terms" TO jack_app';
  END IF;
END $$;
--> statement-breakpoint
-- Documents made ready before this migration get an ingest job each: the
-- worker sees the document is ready and indexes its stored chunks
-- (src/ingest/worker.ts), through the queue's leases and retries, so an
-- interrupted backfill simply goes on after a restart. Until then those
-- documents are not found. Row-level security binds the owner too (0007), and
-- a migration sets no organisation: FORCE is lifted for the backfill and
-- restored within the migration's transaction.
ALTER TABLE "documents" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "ingest_jobs" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
INSERT INTO "ingest_jobs" ("org_id", "document_id")
SELECT d.org_id, d.id FROM "documents" AS d WHERE d.status = 'ready'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
ALTER TABLE "documents" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "ingest_jobs" FORCE ROW LEVEL SECURITY;
