CREATE TABLE "mfa_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mfa_enrollment_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mfa_group_memberships" (
	"mfa_group_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	CONSTRAINT "mfa_group_memberships_pkey" PRIMARY KEY("mfa_group_id","mfa_user_id")
);
--> statement-breakpoint
CREATE TABLE "mfa_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provisioning_id" uuid,
	"directory_group_id" uuid,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mfa_users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provisioning_id" uuid,
	"directory_user_id" uuid,
	"username" text NOT NULL,
	"email" text,
	"first_name" text DEFAULT '' NOT NULL,
	"last_name" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'UNENROLLED' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "provisionings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"draft" jsonb NOT NULL,
	"deployed" jsonb,
	"deployed_version" integer DEFAULT 0 NOT NULL,
	"deployed_at" timestamp with time zone,
	"next_sync_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_run_desired" (
	"run_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"username" text NOT NULL,
	"email" text,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	CONSTRAINT "sync_run_desired_pkey" PRIMARY KEY("run_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "sync_run_removals" (
	"run_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	CONSTRAINT "sync_run_removals_pkey" PRIMARY KEY("run_id","mfa_user_id")
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provisioning_id" uuid NOT NULL,
	"deployed_version" integer NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"phase" text DEFAULT 'QUEUED' NOT NULL,
	"approved" integer DEFAULT 0 NOT NULL,
	"planned" integer DEFAULT 0 NOT NULL,
	"planned_removals" integer DEFAULT 0 NOT NULL,
	"created" integer DEFAULT 0 NOT NULL,
	"updated" integer DEFAULT 0 NOT NULL,
	"removed" integer DEFAULT 0 NOT NULL,
	"claimed" integer DEFAULT 0 NOT NULL,
	"skipped" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"devices_removed" integer DEFAULT 0 NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"requested_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD CONSTRAINT "mfa_devices_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_enrollment_tokens" ADD CONSTRAINT "mfa_enrollment_tokens_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_group_memberships" ADD CONSTRAINT "mfa_group_memberships_mfa_group_id_mfa_groups_id_fk" FOREIGN KEY ("mfa_group_id") REFERENCES "public"."mfa_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_group_memberships" ADD CONSTRAINT "mfa_group_memberships_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_groups" ADD CONSTRAINT "mfa_groups_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_groups" ADD CONSTRAINT "mfa_groups_provisioning_id_provisionings_id_fk" FOREIGN KEY ("provisioning_id") REFERENCES "public"."provisionings"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_groups" ADD CONSTRAINT "mfa_groups_directory_group_id_groups_id_fk" FOREIGN KEY ("directory_group_id") REFERENCES "public"."groups"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_users" ADD CONSTRAINT "mfa_users_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_users" ADD CONSTRAINT "mfa_users_provisioning_id_provisionings_id_fk" FOREIGN KEY ("provisioning_id") REFERENCES "public"."provisionings"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_users" ADD CONSTRAINT "mfa_users_directory_user_id_users_id_fk" FOREIGN KEY ("directory_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provisionings" ADD CONSTRAINT "provisionings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_run_desired" ADD CONSTRAINT "sync_run_desired_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_run_removals" ADD CONSTRAINT "sync_run_removals_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_provisioning_id_provisionings_id_fk" FOREIGN KEY ("provisioning_id") REFERENCES "public"."provisionings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_mfa_devices_user" ON "mfa_devices" USING btree ("mfa_user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_enrollment_tokens_hash" ON "mfa_enrollment_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "idx_mfa_enrollment_tokens_user" ON "mfa_enrollment_tokens" USING btree ("mfa_user_id");--> statement-breakpoint
CREATE INDEX "idx_mfa_memberships_user" ON "mfa_group_memberships" USING btree ("mfa_user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_groups_tenant_name" ON "mfa_groups" USING btree ("tenant_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_users_tenant_username" ON "mfa_users" USING btree ("tenant_id",lower("username"));--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_users_source_user" ON "mfa_users" USING btree ("provisioning_id","directory_user_id") WHERE "mfa_users"."provisioning_id" is not null and "mfa_users"."directory_user_id" is not null;--> statement-breakpoint
CREATE INDEX "idx_mfa_users_tenant_email" ON "mfa_users" USING btree ("tenant_id",lower("email"));--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_provisionings_tenant_name" ON "provisionings" USING btree ("tenant_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_provisionings_tenant_kind" ON "provisionings" USING btree ("tenant_id","kind");--> statement-breakpoint
CREATE INDEX "idx_provisionings_next_sync" ON "provisionings" USING btree ("next_sync_at");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_sync_runs_active" ON "sync_runs" USING btree ("provisioning_id") WHERE "sync_runs"."status" in ('QUEUED', 'RUNNING', 'AWAITING_APPROVAL');--> statement-breakpoint
CREATE INDEX "idx_sync_runs_provisioning" ON "sync_runs" USING btree ("provisioning_id","created_at");