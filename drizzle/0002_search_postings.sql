CREATE TABLE "org_chunk_stats" (
	"org_id" uuid NOT NULL,
	"shard" smallint NOT NULL,
	"chunk_count" bigint NOT NULL,
	"total_length" bigint NOT NULL,
	CONSTRAINT "org_chunk_stats_org_id_shard_pk" PRIMARY KEY("org_id","shard")
);
--> statement-breakpoint
CREATE TABLE "postings" (
	"org_id" uuid NOT NULL,
	"lexeme" text NOT NULL,
	"document_id" uuid NOT NULL,
	"chunk_index" integer NOT NULL,
	"tf" integer NOT NULL,
	"chunk_length" integer NOT NULL,
	CONSTRAINT "postings_pk" PRIMARY KEY("org_id","lexeme","document_id","chunk_index")
);
--> statement-breakpoint
ALTER TABLE "org_chunk_stats" ADD CONSTRAINT "org_chunk_stats_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;