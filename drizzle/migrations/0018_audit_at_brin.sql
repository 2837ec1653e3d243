DROP INDEX "idx_audit_events_at";--> statement-breakpoint
CREATE INDEX "idx_audit_events_at" ON "audit_events" USING brin ("at");