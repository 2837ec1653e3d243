-- Users and memberships check their tenant through one composite key each: (directory_id,
-- tenant_id) of users references directories(id, tenant_id), (group_id, tenant_id) of
-- memberships references groups(id, tenant_id). One foreign-key check per inserted row instead
-- of two, and a row can no longer name a tenant other than its directory's or group's. Tenant
-- deletion still cascades to both (through directories and groups). The unique keys the new
-- foreign keys reference are created first (drizzle-kit emitted them last).
CREATE UNIQUE INDEX "uniq_directories_id_tenant" ON "directories" USING btree ("id","tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uniq_groups_id_tenant" ON "groups" USING btree ("id","tenant_id");--> statement-breakpoint
ALTER TABLE "group_memberships" DROP CONSTRAINT "group_memberships_group_id_groups_id_fk";--> statement-breakpoint
ALTER TABLE "group_memberships" DROP CONSTRAINT "group_memberships_tenant_id_tenants_id_fk";--> statement-breakpoint
ALTER TABLE "users" DROP CONSTRAINT "users_tenant_id_tenants_id_fk";--> statement-breakpoint
ALTER TABLE "users" DROP CONSTRAINT "users_directory_id_directories_id_fk";--> statement-breakpoint
ALTER TABLE "group_memberships" ADD CONSTRAINT "group_memberships_group_tenant_fk" FOREIGN KEY ("group_id","tenant_id") REFERENCES "public"."groups"("id","tenant_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_directory_tenant_fk" FOREIGN KEY ("directory_id","tenant_id") REFERENCES "public"."directories"("id","tenant_id") ON DELETE cascade ON UPDATE no action;
