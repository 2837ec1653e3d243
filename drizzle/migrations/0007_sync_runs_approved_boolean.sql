-- drizzle-kit generated only the SET DATA TYPE; the integer default (0) cannot be cast
-- automatically and existing rows need an explicit conversion, so: drop the default, convert
-- 0/1 with USING, set the boolean default.
ALTER TABLE "sync_runs" ALTER COLUMN "approved" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "sync_runs" ALTER COLUMN "approved" SET DATA TYPE boolean USING "approved" <> 0;--> statement-breakpoint
ALTER TABLE "sync_runs" ALTER COLUMN "approved" SET DEFAULT false;
