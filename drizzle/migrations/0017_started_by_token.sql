ALTER TABLE "sync_runs" ADD COLUMN "requested_by_token_id" uuid;--> statement-breakpoint
ALTER TABLE "bulk_operations" ADD COLUMN "actor_token_id" uuid;