CREATE TABLE "username_renames" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"directory_id" uuid NOT NULL,
	"old_username" text NOT NULL,
	"new_username" text NOT NULL,
	"renamed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Hand-written: a database may already hold the same login id twice in a directory (nothing
-- prevented it before). Rather than fail the start-up, the oldest holder (created_at, then id)
-- keeps the username and each later one is renamed deterministically to
-- `<username>~<first 8 hex digits of its id>`; every rename is recorded in username_renames.
INSERT INTO "username_renames" ("user_id", "tenant_id", "directory_id", "old_username", "new_username")
SELECT d.id, d.tenant_id, d.directory_id, d.username, d.username || '~' || substr(d.id::text, 1, 8)
FROM (
  SELECT u.id, u.tenant_id, u.directory_id, u.username,
         row_number() OVER (PARTITION BY u.directory_id, lower(u.username) ORDER BY u.created_at, u.id) AS n
  FROM "users" u WHERE u.username IS NOT NULL
) d
WHERE d.n > 1;--> statement-breakpoint
UPDATE "users" u SET "username" = r."new_username", "updated_at" = now()
FROM "username_renames" r WHERE r."user_id" = u."id";--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_users_directory_username" ON "users" USING btree ("directory_id",lower("username"));