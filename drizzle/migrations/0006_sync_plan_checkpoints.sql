ALTER TABLE "mfa_devices" ADD COLUMN "kind" text DEFAULT 'TOTP' NOT NULL;--> statement-breakpoint
ALTER TABLE "mfa_enrollment_tokens" ADD COLUMN "used_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_run_desired" ADD COLUMN "action" text DEFAULT 'KEEP' NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_run_desired" ADD COLUMN "mfa_user_id" uuid;--> statement-breakpoint
ALTER TABLE "sync_run_desired" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "sync_run_removals" ADD COLUMN "devices" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "job_id" uuid;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "config" jsonb;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "cursor" text;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "desired_total" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "staged" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "planned_creates" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "planned_updates" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "planned_claims" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "planned_devices_removed" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "owned_at_plan" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "planned_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "staging_cleared" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_groups_source_group" ON "mfa_groups" USING btree ("provisioning_id","directory_group_id") WHERE "mfa_groups"."provisioning_id" is not null and "mfa_groups"."directory_group_id" is not null;--> statement-breakpoint
CREATE INDEX "idx_mfa_users_provisioning" ON "mfa_users" USING btree ("provisioning_id","id");--> statement-breakpoint
CREATE INDEX "idx_mfa_users_directory_user" ON "mfa_users" USING btree ("directory_user_id");--> statement-breakpoint
CREATE INDEX "idx_sync_runs_uncleared" ON "sync_runs" USING btree ("id") WHERE "sync_runs"."staging_cleared" = false;