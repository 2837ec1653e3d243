CREATE TABLE "mfa_bypass_codes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"code_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mfa_verifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"device_id" uuid,
	"method" text NOT NULL,
	"result" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mfa_webauthn_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mfa_user_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"challenge" text NOT NULL,
	"enrollment_token_id" uuid,
	"device_name" text,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "status" text DEFAULT 'ACTIVE' NOT NULL;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "secret_sealed" text;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "last_used_step" bigint;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "enrollment_token_id" uuid;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "last_used_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "credential_id" text;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "public_key" text;--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD COLUMN "sign_count" bigint;--> statement-breakpoint
ALTER TABLE "mfa_bypass_codes" ADD CONSTRAINT "mfa_bypass_codes_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_verifications" ADD CONSTRAINT "mfa_verifications_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_verifications" ADD CONSTRAINT "mfa_verifications_device_id_mfa_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."mfa_devices"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_webauthn_challenges" ADD CONSTRAINT "mfa_webauthn_challenges_mfa_user_id_mfa_users_id_fk" FOREIGN KEY ("mfa_user_id") REFERENCES "public"."mfa_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_webauthn_challenges" ADD CONSTRAINT "mfa_webauthn_challenges_enrollment_token_id_mfa_enrollment_tokens_id_fk" FOREIGN KEY ("enrollment_token_id") REFERENCES "public"."mfa_enrollment_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_mfa_bypass_codes_user" ON "mfa_bypass_codes" USING btree ("mfa_user_id","code_hash");--> statement-breakpoint
CREATE INDEX "idx_mfa_verifications_user" ON "mfa_verifications" USING btree ("mfa_user_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_webauthn_challenges_challenge" ON "mfa_webauthn_challenges" USING btree ("challenge");--> statement-breakpoint
CREATE INDEX "idx_mfa_webauthn_challenges_user" ON "mfa_webauthn_challenges" USING btree ("mfa_user_id");--> statement-breakpoint
ALTER TABLE "mfa_devices" ADD CONSTRAINT "mfa_devices_enrollment_token_id_mfa_enrollment_tokens_id_fk" FOREIGN KEY ("enrollment_token_id") REFERENCES "public"."mfa_enrollment_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_mfa_devices_enrollment_token" ON "mfa_devices" USING btree ("enrollment_token_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_mfa_devices_credential" ON "mfa_devices" USING btree ("credential_id") WHERE "mfa_devices"."credential_id" is not null;