-- Chinese, Japanese and Korean text in the search index: overlapping character
-- bigrams, so that any verbatim substring of two or more characters matches.
--
-- to_tsvector('english', …) takes a run of CJK letters between punctuation or
-- spaces for one word: "東京は日本の首都です" is one lexeme, and no question
-- but that exact run finds it. Lucene's CJK analysis is followed instead: each
-- run of Han, Hiragana, Katakana or Hangul letters becomes its overlapping
-- bigrams (東京 京は は日 日本 …), a run of one letter stays a unigram, and
-- chunks also index the unigrams of longer runs, so a question of one
-- character still finds every chunk holding it (one lexeme more per
-- character; a question of two or more characters uses the bigrams alone).
-- All other text goes through to_tsvector('english', …) exactly as before.
-- A CJK chunk thus has about two positions per character: the tsvector's
-- 16,383-position limit (0003) is reached only past ~8,000 CJK characters,
-- beyond what chunk_size 4096 holds in practice.
--
-- chunks.tsv stays to_tsvector('english', text): a chunk without CJK letters
-- is indexed from it as before (so English postings, statistics and ranking
-- do not change, and ingest does no second analysis), and a chunk with them
-- from jack_search_vector(text). Both sides of every trigger (and the backfill
-- below) go through jack_indexed_vector, so a delete takes away exactly what
-- the insert added.
--
-- The CJK letters: Hangul Jamo; CJK radicals; 々 〆 〇 and the Hangzhou,
-- kana-repeat and other ideographic marks; Hiragana (with its combining and
-- spacing voicing marks); Katakana without the ・ middle dot; Hangul
-- compatibility Jamo; Katakana phonetic extensions; CJK Extension A; CJK
-- Unified Ideographs; Hangul Jamo extensions and syllables; CJK compatibility
-- ideographs; half-width Katakana and Hangul; the Kana supplements; and the
-- supplementary ideographic planes (Extensions B–G). Punctuation such as 。、「」
-- is outside the class and separates runs.
CREATE FUNCTION jack_cjk_letter() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '[\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3131-\u318e\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uffdc\U0001b000-\U0001b16f\U00020000-\U0003134f]'::text
$$;
--> statement-breakpoint
CREATE FUNCTION jack_has_cjk(body text) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT body ~ jack_cjk_letter()
$$;
--> statement-breakpoint
-- The text to_tsvector('english', …) analyses: every CJK run set apart by
-- spaces as its bigrams (a run of one letter as itself), followed, when
-- with_unigrams, by the letters of the runs of two or more, one by one.
-- "iPhone手机" becomes "iPhone 手机 " (+ " 手 机"). Text without CJK letters
-- comes back unchanged.
CREATE FUNCTION jack_cjk_bigram_text(body text, with_unigrams boolean) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  letter constant text := jack_cjk_letter();
  bigrams text;
BEGIN
  IF NOT jack_has_cjk(body) THEN
    RETURN body;
  END IF;
  -- Every letter with a letter on both sides is written twice, a space
  -- between: the run 東京都庁 becomes 東京 京都 都庁. Lookarounds see the
  -- original text, so the matches do not disturb one another.
  bigrams := regexp_replace(regexp_replace(body, '(' || letter || '+)', ' \1 ', 'g'),
                            '(?<=' || letter || ')(' || letter || ')(?=' || letter || ')', '\1 \1', 'g');
  IF NOT with_unigrams THEN
    RETURN bigrams;
  END IF;
  RETURN bigrams || coalesce((
    SELECT string_agg(regexp_replace(run[1], '(.)', ' \1', 'g'), '')
    FROM regexp_matches(body, '(' || letter || '{2,})', 'g') AS run
  ), '');
END
$$;
--> statement-breakpoint
-- A chunk's terms as BM25 indexes them.
CREATE FUNCTION jack_search_vector(body text) RETURNS tsvector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT to_tsvector('english', jack_cjk_bigram_text(body, true))
$$;
--> statement-breakpoint
-- A question's terms: the bigrams of its CJK runs, so a question of several
-- characters is not matched letter by letter; a run of one letter is its unigram.
CREATE FUNCTION jack_search_query_vector(question text) RETURNS tsvector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT to_tsvector('english', jack_cjk_bigram_text(question, false))
$$;
--> statement-breakpoint
-- What the triggers index for a chunk: jack_search_vector(text), which is the
-- stored to_tsvector('english', text) unless the text holds CJK letters, so
-- that one is read instead of computed again.
CREATE FUNCTION jack_indexed_vector(body text, stored tsvector) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jack_has_cjk(body) THEN jack_search_vector(body) ELSE stored END
$$;
--> statement-breakpoint
-- The trigger function of 0003, indexing jack_indexed_vector(text, tsv) where
-- it indexed tsv; the triggers keep calling it by name. A CJK chunk's vector
-- is computed twice when it is deleted (its lexemes, then its length): only
-- CJK chunks pay, and only on delete.
CREATE OR REPLACE FUNCTION "maintain_search_index"() RETURNS trigger LANGUAGE plpgsql AS $$
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
      SELECT o.org_id, o.document_id, o.chunk_index,
             array(SELECT t.lexeme COLLATE "C" FROM unnest(jack_indexed_vector(o.text, o.tsv)) AS t) AS lexemes
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
             sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(jack_indexed_vector(o.text, o.tsv)) AS t)) AS total_length
      FROM old_chunks AS o
      GROUP BY 1, 2
    ) AS d
    WHERE s.org_id = d.org_id AND s.shard = d.shard;
  END IF;
  -- UPDATE (jack never updates a chunk) is a delete of the old rows above and
  -- an insert of the new ones here, so even it cannot corrupt the index.
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    -- Vectors and lengths first, once per chunk: written inline, the planner
    -- recomputed a chunk's length for each of its postings, quadratic in its vocabulary.
    WITH chunk_vectors AS MATERIALIZED (
      SELECT n.org_id, n.document_id, n.chunk_index, jack_indexed_vector(n.text, n.tsv) AS vector
      FROM new_chunks AS n
    ), chunk_lengths AS MATERIALIZED (
      SELECT v.org_id, v.document_id, v.chunk_index, v.vector,
             (SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(v.vector) AS t) AS chunk_length
      FROM chunk_vectors AS v
    ), inserted_postings AS (
      INSERT INTO postings (org_id, lexeme, document_id, chunk_index, tf, chunk_length)
      SELECT c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), c.chunk_length
      FROM chunk_lengths AS c
      CROSS JOIN LATERAL unnest(c.vector) AS t
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
-- Re-index the CJK chunks already stored (indexed from tsv until now); the
-- others' postings are already what jack_indexed_vector gives. ALTER TABLE
-- locks chunks against writes until the migration commits, so no chunk is
-- written meanwhile by a trigger still running the old function. Row-level
-- security binds the tables' owner too (FORCE, 0007), and a migration sets no
-- organisation: an owner that is no superuser would see no row at all, so the
-- three tables are released from FORCE for the backfill and bound again after
-- it, within the migration's transaction.
ALTER TABLE "chunks" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "postings" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "org_chunk_stats" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DELETE FROM "postings" AS p
USING (
  SELECT c.org_id, c.document_id, c.chunk_index, t.lexeme COLLATE "C" AS lexeme
  FROM "chunks" AS c
  CROSS JOIN LATERAL unnest(c.tsv) AS t
  WHERE jack_has_cjk(c.text)
) AS o
WHERE p.org_id = o.org_id AND p.lexeme = o.lexeme AND p.document_id = o.document_id AND p.chunk_index = o.chunk_index;
--> statement-breakpoint
UPDATE "org_chunk_stats" AS s
SET total_length = s.total_length + d.change
FROM (
  SELECT c.org_id, get_byte(uuid_send(c.document_id), 15) % 16 AS shard,
         sum((SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(jack_search_vector(c.text)) AS t)
           - (SELECT coalesce(sum(cardinality(t.positions)), 0) FROM unnest(c.tsv) AS t)) AS change
  FROM "chunks" AS c
  WHERE jack_has_cjk(c.text)
  GROUP BY 1, 2
) AS d
WHERE s.org_id = d.org_id AND s.shard = d.shard;
--> statement-breakpoint
INSERT INTO "postings" ("org_id", "lexeme", "document_id", "chunk_index", "tf", "chunk_length")
SELECT c.org_id, t.lexeme, c.document_id, c.chunk_index, cardinality(t.positions), c.chunk_length
FROM (
  SELECT c.org_id, c.document_id, c.chunk_index, v.vector,
         (SELECT coalesce(sum(cardinality(u.positions)), 0) FROM unnest(v.vector) AS u) AS chunk_length
  FROM "chunks" AS c
  CROSS JOIN LATERAL (SELECT jack_search_vector(c.text) AS vector OFFSET 0) AS v
  WHERE jack_has_cjk(c.text)
) AS c
CROSS JOIN LATERAL unnest(c.vector) AS t;
--> statement-breakpoint
ALTER TABLE "chunks" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "postings" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "org_chunk_stats" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ANALYZE "postings";
