import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Roles (sets of permissions), teams, host groups (label selectors) and grants that give a role to
 * a user or a team on every host or on a host group; optional TOTP for users; permission subsets
 * for API tokens. Every existing user was the bootstrap admin, so each gets a global admin grant.
 */
export class AccessControl1764460800000 implements MigrationInterface {
  name = 'AccessControl1764460800000';

  /**
   * The built-in roles as they were when this migration was written. A copy, not an import: what a
   * migration does must not change when the code does (a unit test compares it with BUILT_IN_ROLES).
   */
  static readonly BUILT_IN_ROLES: ReadonlyArray<{ name: string; description: string; permissions: string[] }> = [
    {
      name: 'admin',
      description: 'Everything: hosts, workloads, people and the audit log.',
      permissions: [
        'host.view',
        'host.manage',
        'container.view',
        'container.inspect',
        'container.logs',
        'container.exec',
        'container.manage',
        'container.privileged',
        'image.view',
        'image.manage',
        'volume.view',
        'volume.manage',
        'network.view',
        'network.manage',
        'user.manage',
        'audit.view',
        'audit.export',
      ],
    },
    {
      name: 'operator',
      description:
        "Runs the fleet's workloads (exec included); no privileged containers, host changes, people or audit export.",
      permissions: [
        'host.view',
        'container.view',
        'container.inspect',
        'container.logs',
        'container.exec',
        'container.manage',
        'image.view',
        'image.manage',
        'volume.view',
        'volume.manage',
        'network.view',
        'network.manage',
        'audit.view',
      ],
    },
    {
      name: 'viewer',
      description: 'Sees hosts, containers, their logs and inspect output; changes nothing, no exec.',
      permissions: [
        'host.view',
        'container.view',
        'container.inspect',
        'container.logs',
        'image.view',
        'volume.view',
        'network.view',
      ],
    },
  ];

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "roles" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "name" varchar(64) NOT NULL,
        "description" varchar(512) NOT NULL,
        "built_in" boolean NOT NULL DEFAULT false,
        "permissions" text[] NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "roles_name_key" ON "roles" (lower("name"))`);

    await queryRunner.query(`
      CREATE TABLE "teams" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "name" varchar(64) NOT NULL,
        "description" varchar(512) NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "teams_name_key" ON "teams" (lower("name"))`);

    await queryRunner.query(`
      CREATE TABLE "team_members" (
        "team_id" uuid NOT NULL REFERENCES "teams" ("id") ON DELETE CASCADE,
        "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
        "added_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("team_id", "user_id")
      )`);
    await queryRunner.query(`CREATE INDEX "team_members_user_id_idx" ON "team_members" ("user_id")`);

    await queryRunner.query(`
      CREATE TABLE "host_groups" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "name" varchar(64) NOT NULL,
        "description" varchar(512) NOT NULL,
        "selector" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "host_groups_name_key" ON "host_groups" (lower("name"))`);

    // Exactly one subject; no host group means every host. Deleting a group deletes its grants
    // (never widens them to every host); a role in use cannot be deleted.
    await queryRunner.query(`
      CREATE TABLE "grants" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "role_id" uuid NOT NULL REFERENCES "roles" ("id") ON DELETE RESTRICT,
        "user_id" uuid REFERENCES "users" ("id") ON DELETE CASCADE,
        "team_id" uuid REFERENCES "teams" ("id") ON DELETE CASCADE,
        "host_group_id" uuid REFERENCES "host_groups" ("id") ON DELETE CASCADE,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "created_by" uuid REFERENCES "users" ("id") ON DELETE SET NULL,
        CONSTRAINT "grants_subject_check" CHECK (("user_id" IS NULL) <> ("team_id" IS NULL))
      )`);
    // NULLS NOT DISTINCT: a second global grant of the same role to the same subject is a duplicate too.
    await queryRunner.query(`
      CREATE UNIQUE INDEX "grants_subject_role_group_key"
        ON "grants" ("user_id", "team_id", "role_id", "host_group_id") NULLS NOT DISTINCT`);
    await queryRunner.query(`CREATE INDEX "grants_team_id_idx" ON "grants" ("team_id")`);
    await queryRunner.query(`CREATE INDEX "grants_role_id_idx" ON "grants" ("role_id")`);

    await queryRunner.query(`
      ALTER TABLE "users"
        ADD COLUMN "totp_secret" text,
        ADD COLUMN "totp_enabled_at" timestamptz,
        ADD COLUMN "totp_last_step" bigint`);
    await queryRunner.query(`ALTER TABLE "api_tokens" ADD COLUMN "permissions" text[]`);

    for (const role of AccessControl1764460800000.BUILT_IN_ROLES) {
      await queryRunner.query(
        `INSERT INTO "roles" ("name", "description", "built_in", "permissions") VALUES ($1, $2, true, $3)`,
        [role.name, role.description, role.permissions],
      );
    }
    await queryRunner.query(`
      INSERT INTO "grants" ("role_id", "user_id")
      SELECT "roles"."id", "users"."id" FROM "users" CROSS JOIN "roles" WHERE "roles"."name" = 'admin'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP COLUMN "permissions"`);
    await queryRunner.query(`
      ALTER TABLE "users" DROP COLUMN "totp_last_step", DROP COLUMN "totp_enabled_at", DROP COLUMN "totp_secret"`);
    await queryRunner.query(`DROP TABLE "grants"`);
    await queryRunner.query(`DROP TABLE "host_groups"`);
    await queryRunner.query(`DROP TABLE "team_members"`);
    await queryRunner.query(`DROP TABLE "teams"`);
    await queryRunner.query(`DROP TABLE "roles"`);
  }
}
