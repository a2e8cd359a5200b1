CREATE TABLE "idempotency_keys" (
	"org_id" uuid NOT NULL,
	"key" text NOT NULL,
	"status" text NOT NULL,
	"lease_token" uuid,
	"request_hash" text,
	"document_ids" uuid[],
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_org_id_key_pk" PRIMARY KEY("org_id","key"),
	CONSTRAINT "idempotency_keys_state_check" CHECK ((status = 'pending' and lease_token is not null) or (status = 'completed' and request_hash is not null and document_ids is not null))
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_org_expires_idx" ON "idempotency_keys" USING btree ("org_id","expires_at");