DROP INDEX "idx_audit_events_target";--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "changes" SET DATA TYPE json;--> statement-breakpoint
CREATE INDEX "idx_audit_events_target" ON "audit_events" USING btree ("target_id");