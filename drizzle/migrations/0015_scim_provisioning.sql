CREATE TABLE "scim_activity" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provisioning_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"method" text NOT NULL,
	"resource" text NOT NULL,
	"status" integer NOT NULL,
	"result" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scim_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provisioning_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone,
	"rate_window_start" timestamp with time zone,
	"rate_count" integer DEFAULT 0 NOT NULL,
	"last_used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "uniq_provisionings_tenant_kind";--> statement-breakpoint
ALTER TABLE "mfa_groups" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "mfa_groups" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "mfa_users" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "mfa_users" ADD COLUMN "display_name" text;--> statement-breakpoint
ALTER TABLE "scim_activity" ADD CONSTRAINT "scim_activity_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scim_activity" ADD CONSTRAINT "scim_activity_provisioning_id_provisionings_id_fk" FOREIGN KEY ("provisioning_id") REFERENCES "public"."provisionings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scim_tokens" ADD CONSTRAINT "scim_tokens_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scim_tokens" ADD CONSTRAINT "scim_tokens_provisioning_id_provisionings_id_fk" FOREIGN KEY ("provisioning_id") REFERENCES "public"."provisionings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_scim_activity_provisioning" ON "scim_activity" USING btree ("provisioning_id","at","id");--> statement-breakpoint
CREATE INDEX "idx_scim_activity_at" ON "scim_activity" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_scim_tokens_hash" ON "scim_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "idx_scim_tokens_provisioning" ON "scim_tokens" USING btree ("provisioning_id");--> statement-breakpoint
CREATE INDEX "idx_mfa_groups_provisioning" ON "mfa_groups" USING btree ("provisioning_id","id");--> statement-breakpoint
CREATE INDEX "idx_mfa_users_external_id" ON "mfa_users" USING btree ("provisioning_id","external_id") WHERE "mfa_users"."external_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_provisionings_tenant_kind" ON "provisionings" USING btree ("tenant_id","kind") WHERE "provisionings"."kind" = 'EAA';