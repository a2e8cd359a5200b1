-- BM25's inverted index and statistics, kept current by the database itself.
-- Statement-level triggers on chunks write a chunk's postings and add it to
-- its organisation's chunk count and total length in the transaction that
-- inserts the chunk (finishJob, which also marks the document ready), and
-- remove both in the one that deletes it (a document's delete cascades to its
-- chunks). Whatever path writes chunks, the index stays right; and since
-- chunks exist only for ready documents, the statistics count exactly the
-- chunks a search may return.
--
-- Document frequencies are deliberately not stored: the query counts them in
-- the postings index it reads anyway, whereas a per-lexeme counter would add
-- ~100 row updates to every chunk insert, rows that every concurrent ingest in
-- the organisation contends for (measured in src/repositories/search.repo.ts).
--
-- Lexemes are opaque tokens: the "C" collation compares them as bytes, the
-- cheapest comparison for every index insert and probe, on any server locale.
ALTER TABLE "postings" ALTER COLUMN "lexeme" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
-- The same key, now carrying tf and the chunk length so scoring reads only the index.
ALTER TABLE "postings" DROP CONSTRAINT "postings_pk";
--> statement-breakpoint
ALTER TABLE "postings" ADD CONSTRAINT "postings_pk" PRIMARY KEY ("org_id", "lexeme", "document_id", "chunk_index") INCLUDE ("tf", "chunk_length");
--> statement-breakpoint
-- tf is a lexeme's number of positions in the chunk's tsvector, and a chunk's
-- length the sum of its tf (stop words do not count, as in Lucene's English
-- analyser). A tsvector keeps at most 256 positions per lexeme and none past
-- word 16,383: a chunk (at most 4,096 tokens) stays far below the second, and
-- a lexeme repeated over 256 times in one counts as 256, where BM25's tf has
-- long saturated. Both come from the stored tsvector, so a delete takes away
-- exactly what the insert added.
--
-- org_chunk_stats is split over 16 rows per organisation by the document ID's
-- last byte (stable across server versions, unlike a hash function): ingests
-- of different documents in one organisation rarely update the same row, so
-- they seldom wait for each other's commit. A document's inserts and deletes
-- touch one and the same row, always after its document row is locked (by
-- finishJob, or by the delete that cascades), so two transactions never wait
-- for each other in opposite orders; inserts spanning several rows upsert them
-- in key order.
CREATE FUNCTION "maintain_search_index"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_chunk record;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE postings;
    DELETE FROM org_chunk_stats;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    -- One statement per chunk, probing the primary key with the chunk's own
    -- lexemes: a set-based delete's plan is cached for the session, and one
    -- planned for a large delete (a hash join over all postings) would then
    -- scan the whole table for every later document.
    FOR old_chunk IN
      SELECT o.org_id, o.document_id, o.chunk_index, array(SELECT t.lexeme COLLATE "C" FROM unnest(o.tsv) AS t) AS lexemes
      FROM old_chunks AS o
    LOOP
      DELETE FROM postings AS p
      WHERE p.org_id = old_chunk.org_id AND p.lexeme = ANY (old_chunk.lexemes)
        AND p.document_id = old_chunk.document_id AND p.chunk_index = old_chunk.chunk_index;
    END LOOP;
    -- UPDATE, not upsert: a missing row means the organisation itself is
    -- being deleted (its rows cascade away), and there is nothing to keep.
    UPDATE org_chunk_stats AS s
    SET chunk_count = s.chunk_count - d.chunk_count, total_length = s.total_length - d.total_length
    FROM (
      SELECT o.org_id, get_byte(uuid_send(o.document_id), 15) % 16 AS shard, count(*) AS chunk_count,
             sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(o.tsv) AS t)) AS total_length
      FROM old_chunks AS o
      GROUP BY 1, 2
    ) AS d
    WHERE s.org_id = d.org_id AND s.shard = d.shard;
  END IF;
  -- UPDATE (jack never updates a chunk) is a delete of the old rows above and
  -- an insert of the new ones here, so even it cannot corrupt the index.
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    -- Lengths first, once per chunk: written inline, the planner recomputed a
    -- chunk's length for each of its postings, quadratic in its vocabulary.
    WITH chunk_lengths AS MATERIALIZED (
      SELECT n.org_id, n.document_id, n.chunk_index, n.tsv,
             (SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(n.tsv) AS t) AS chunk_length
      FROM new_chunks AS n
    ), inserted_postings AS (
      INSERT INTO postings (org_id, lexeme, document_id, chunk_index, tf, chunk_length)
      SELECT c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), c.chunk_length
      FROM chunk_lengths AS c
      CROSS JOIN LATERAL unnest(c.tsv) AS t
    )
    INSERT INTO org_chunk_stats (org_id, shard, chunk_count, total_length)
    SELECT c.org_id, get_byte(uuid_send(c.document_id), 15) % 16, count(*), sum(c.chunk_length)
    FROM chunk_lengths AS c
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
-- A trigger with transition tables takes one event, hence four triggers on one function.
CREATE TRIGGER "chunks_search_index_insert" AFTER INSERT ON "chunks" REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION "maintain_search_index"();
--> statement-breakpoint
CREATE TRIGGER "chunks_search_index_delete" AFTER DELETE ON "chunks" REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION "maintain_search_index"();
--> statement-breakpoint
CREATE TRIGGER "chunks_search_index_update" AFTER UPDATE ON "chunks" REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION "maintain_search_index"();
--> statement-breakpoint
CREATE TRIGGER "chunks_search_index_truncate" AFTER TRUNCATE ON "chunks" FOR EACH STATEMENT EXECUTE FUNCTION "maintain_search_index"();
--> statement-breakpoint
-- Index the chunks stored before this migration. Migrations run in one
-- transaction, and CREATE TRIGGER above locked chunks against writes until it
-- commits, so no chunk is indexed twice or missed.
INSERT INTO "postings" ("org_id", "lexeme", "document_id", "chunk_index", "tf", "chunk_length")
SELECT c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), l.chunk_length
FROM "chunks" AS c
CROSS JOIN LATERAL (SELECT coalesce(sum(cardinality(u.positions)), 0) AS chunk_length FROM unnest(c.tsv) AS u OFFSET 0) AS l
CROSS JOIN LATERAL unnest(c.tsv) AS t;
--> statement-breakpoint
INSERT INTO "org_chunk_stats" ("org_id", "shard", "chunk_count", "total_length")
SELECT c.org_id, get_byte(uuid_send(c.document_id), 15) % 16, count(*),
       sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(c.tsv) AS t))
FROM "chunks" AS c
GROUP BY 1, 2;
--> statement-breakpoint
-- Fresh statistics for the planner (PGlite never analyses on its own).
ANALYZE "postings";
--> statement-breakpoint
ANALYZE "org_chunk_stats";
