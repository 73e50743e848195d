import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, browser sessions, personal API tokens, hosts, join tokens and the audit log.
 * Secrets (passwords, session ids, tokens) are stored only as hashes.
 */
export class InitialSchema1764288000000 implements MigrationInterface {
  name = 'InitialSchema1764288000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "username" varchar(64) NOT NULL,
        "password_hash" text NOT NULL,
        "disabled_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "users_username_key" ON "users" (lower("username"))`);

    await queryRunner.query(`
      CREATE TABLE "sessions" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
        "token_hash" char(64) NOT NULL UNIQUE,
        "csrf_token" varchar(64) NOT NULL,
        "address" varchar(64),
        "user_agent" varchar(512),
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "last_used_at" timestamptz NOT NULL DEFAULT now(),
        "expires_at" timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id")`);

    await queryRunner.query(`
      CREATE TABLE "api_tokens" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
        "name" varchar(100) NOT NULL,
        "token_hash" char(64) NOT NULL UNIQUE,
        "prefix" varchar(16) NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "expires_at" timestamptz,
        "last_used_at" timestamptz,
        "revoked_at" timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX "api_tokens_user_id_idx" ON "api_tokens" ("user_id")`);

    await queryRunner.query(`
      CREATE TABLE "hosts" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "name" varchar(255) NOT NULL,
        "public_key" text NOT NULL UNIQUE,
        "status" varchar(16) NOT NULL DEFAULT 'offline' CHECK ("status" IN ('online', 'offline')),
        "last_seen_at" timestamptz,
        "inventory" jsonb,
        "labels" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "revoked_at" timestamptz
      )`);

    await queryRunner.query(`
      CREATE TABLE "join_tokens" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "token_hash" char(64) NOT NULL UNIQUE,
        "created_by" uuid REFERENCES "users" ("id") ON DELETE SET NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "expires_at" timestamptz NOT NULL,
        "used_at" timestamptz,
        "host_id" uuid REFERENCES "hosts" ("id") ON DELETE SET NULL
      )`);

    await queryRunner.query(`
      CREATE TABLE "audit_events" (
        "id" bigserial PRIMARY KEY,
        "at" timestamptz NOT NULL DEFAULT now(),
        "actor_type" varchar(16) NOT NULL CHECK ("actor_type" IN ('user', 'token', 'agent', 'system', 'anonymous')),
        "actor_id" varchar(64),
        "actor_name" varchar(255),
        "action" varchar(100) NOT NULL,
        "target" varchar(512),
        "host_id" uuid,
        "outcome" varchar(16) NOT NULL CHECK ("outcome" IN ('success', 'failure', 'denied')),
        "address" varchar(64),
        "details" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "prev_hash" char(64) NOT NULL,
        "hash" char(64) NOT NULL UNIQUE
      )`);
    await queryRunner.query(`CREATE INDEX "audit_events_at_idx" ON "audit_events" ("at")`);
    // The audit log is append-only: the database itself refuses to change or remove a row.
    await queryRunner.query(`
      CREATE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER "audit_events_no_change" BEFORE UPDATE OR DELETE ON "audit_events"
      FOR EACH ROW EXECUTE FUNCTION "audit_events_append_only"()`);
    await queryRunner.query(`
      CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events"
      FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_events"`);
    await queryRunner.query(`DROP FUNCTION "audit_events_append_only"`);
    await queryRunner.query(`DROP TABLE "join_tokens"`);
    await queryRunner.query(`DROP TABLE "hosts"`);
    await queryRunner.query(`DROP TABLE "api_tokens"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
    await queryRunner.query(`DROP TABLE "users"`);
  }
}
