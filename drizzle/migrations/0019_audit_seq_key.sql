ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "audit_events" DROP COLUMN "id";--> statement-breakpoint
ALTER TABLE "audit_events" ADD PRIMARY KEY ("seq");
