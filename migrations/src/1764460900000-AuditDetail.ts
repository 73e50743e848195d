import type { MigrationInterface, QueryRunner } from 'typeorm';

const SEARCH_INDEXES: ReadonlyArray<[name: string, column: string]> = [
  ['audit_events_action_idx', 'action'],
  ['audit_events_actor_id_idx', 'actor_id'],
  ['audit_events_actor_name_idx', 'actor_name'],
  ['audit_events_host_id_idx', 'host_id'],
  ['audit_events_user_id_idx', 'user_id'],
];

/**
 * The audit log's detail (the user behind a token, the client, the outcome's status, error and
 * duration), the indexes its search needs, and one path that removes old rows: the function
 * `audit_events_prune`, which deletes only a prefix of the chain, only right after the row that
 * records the removal, and only with a transaction-local flag that the append-only trigger honours.
 *
 * Rows already written keep `hash_version` 1: their hash covers the fields they had. New rows are
 * version 2, whose hash covers every column.
 */
export class AuditDetail1764460900000 implements MigrationInterface {
  name = 'AuditDetail1764460900000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "audit_events"
        ADD COLUMN "user_id" uuid,
        ADD COLUMN "status" integer,
        ADD COLUMN "error" text,
        ADD COLUMN "duration_ms" integer,
        ADD COLUMN "client" varchar(512),
        ADD COLUMN "hash_version" smallint NOT NULL DEFAULT 1`);
    // The rows there are keep the 1 stored above; rows from now on get 2.
    await queryRunner.query(`ALTER TABLE "audit_events" ALTER COLUMN "hash_version" SET DEFAULT 2`);
    await queryRunner.query(`ALTER TABLE "audit_events" ALTER COLUMN "action" TYPE varchar(100) COLLATE "C"`);
    for (const [name, column] of SEARCH_INDEXES) {
      await queryRunner.query(`CREATE INDEX "${name}" ON "audit_events" ("${column}", "id")`);
    }

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('skiff.audit_prune', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only';
      END $$`);

    // Nobody, the owner included, may change or remove rows with plain statements; a superuser
    // ignores privileges, which is why the triggers stay. The prune function lends its owner DELETE
    // for the length of one call.
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON "audit_events" FROM PUBLIC`);
    await queryRunner.query(`
      DO $$
      DECLARE
        "holder" regrole;
      BEGIN
        FOR "holder" IN
          SELECT "relowner"::regrole FROM "pg_class" WHERE "oid" = '"audit_events"'::regclass
          UNION
          SELECT "acl"."grantee"::regrole
          FROM "pg_class", aclexplode("pg_class"."relacl") AS "acl"
          WHERE "pg_class"."oid" = '"audit_events"'::regclass
            AND "acl"."grantee" <> 0
            AND "acl"."privilege_type" IN ('UPDATE', 'DELETE', 'TRUNCATE')
        LOOP
          EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON "audit_events" FROM %s', "holder");
        END LOOP;
      END $$`);

    const [{ schema }] = (await queryRunner.query(`SELECT quote_ident(current_schema()) AS "schema"`)) as Array<{
      schema: string;
    }>;
    // SECURITY DEFINER with a fixed search path, so that no caller's objects stand in for the table.
    await queryRunner.query(`
      CREATE FUNCTION "audit_events_prune"("before" timestamptz) RETURNS bigint
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${schema}, pg_temp AS $$
      DECLARE
        "first_kept" bigint;
        "last_removed" bigint;
        "newest" record;
        "removed" bigint;
      BEGIN
        IF NOT has_table_privilege(session_user, '"audit_events"', 'INSERT') THEN
          RAISE EXCEPTION 'audit_events_prune: % may not write the audit log', session_user;
        END IF;
        -- A prefix of the chain: every row before the first one at or after "before".
        SELECT min("id") INTO "first_kept" FROM "audit_events" WHERE "at" >= "before";
        IF "first_kept" IS NULL THEN
          RAISE EXCEPTION 'audit_events_prune: the newest audit row must be the audit.retention row that records this removal, and it is older than %', "before";
        END IF;
        SELECT max("id") INTO "last_removed" FROM "audit_events" WHERE "id" < "first_kept";
        IF "last_removed" IS NULL THEN
          RETURN 0;
        END IF;
        SELECT "action", "details" INTO "newest" FROM "audit_events" ORDER BY "id" DESC LIMIT 1;
        IF "newest"."action" IS DISTINCT FROM 'audit.retention'
          OR ("newest"."details" ->> 'lastId') IS DISTINCT FROM "last_removed"::text THEN
          RAISE EXCEPTION 'audit_events_prune: the newest audit row must be the audit.retention row that records this removal (rows up to id %)', "last_removed";
        END IF;
        GRANT DELETE ON "audit_events" TO CURRENT_USER;
        PERFORM set_config('skiff.audit_prune', 'on', true);
        DELETE FROM "audit_events" WHERE "id" <= "last_removed";
        GET DIAGNOSTICS "removed" = ROW_COUNT;
        PERFORM set_config('skiff.audit_prune', 'off', true);
        REVOKE DELETE ON "audit_events" FROM CURRENT_USER;
        RETURN "removed";
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Rows written since `up` are hash version 2 and no longer verify once their columns are gone.
    await queryRunner.query(`DROP FUNCTION "audit_events_prune"(timestamptz)`);
    // Back to the owner's default privileges (PUBLIC never had these).
    await queryRunner.query(`
      DO $$
      BEGIN
        EXECUTE format(
          'GRANT UPDATE, DELETE, TRUNCATE ON "audit_events" TO %s',
          (SELECT "relowner"::regrole FROM "pg_class" WHERE "oid" = '"audit_events"'::regclass));
      END $$`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only';
      END $$`);
    for (const [name] of SEARCH_INDEXES) {
      await queryRunner.query(`DROP INDEX "${name}"`);
    }
    await queryRunner.query(`ALTER TABLE "audit_events" ALTER COLUMN "action" TYPE varchar(100) COLLATE "default"`);
    await queryRunner.query(`
      ALTER TABLE "audit_events"
        DROP COLUMN "hash_version",
        DROP COLUMN "client",
        DROP COLUMN "duration_ms",
        DROP COLUMN "error",
        DROP COLUMN "status",
        DROP COLUMN "user_id"`);
  }
}
