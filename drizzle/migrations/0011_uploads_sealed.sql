-- Hand-written: uploads are now sealed with the server key (AES-256-GCM, see server/shared/secret-key.ts).
-- Uploads stored before this migration are plaintext CSVs with passwords; they are deleted rather
-- than kept (a job still queued for one fails with "upload it again"; uploads expire within a day anyway).
-- drizzle-kit 0.31 renders this type change as "undefined"."bytea" (drizzle-orm issue #4806), hence
-- the hand-written ALTER.
DELETE FROM "uploads";--> statement-breakpoint
ALTER TABLE "uploads" ALTER COLUMN "content" SET DATA TYPE bytea USING convert_to("content", 'UTF8');
