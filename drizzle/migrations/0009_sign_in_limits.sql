CREATE TABLE "sign_in_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"tenant_id" uuid,
	"failures" integer NOT NULL,
	"last_failure_at" timestamp with time zone NOT NULL,
	"locked_until" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "sign_in_limits" ADD CONSTRAINT "sign_in_limits_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_sign_in_limits_last_failure" ON "sign_in_limits" USING btree ("last_failure_at");