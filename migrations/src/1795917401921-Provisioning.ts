import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fleet provisioning over SSH: the hosts reached over SSH with their pinned host keys (and, when an
 * operator asked, their sealed credentials), and the install, upgrade and uninstall jobs with their steps.
 */
export class Provisioning1795917401921 implements MigrationInterface {
  name = 'Provisioning1795917401921';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "provisioning_targets" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "address" character varying(255) NOT NULL,
                "port" integer NOT NULL,
                "host_key_fingerprint" character varying(100) NOT NULL,
                "host_key_algorithm" character varying(64) NOT NULL,
                "username" character varying(255),
                "sudo" boolean NOT NULL DEFAULT false,
                "credentials" text,
                "host_id" uuid,
                "agent_version" character varying(100),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "provisioning_targets_address_port_key" UNIQUE ("address", "port"),
                CONSTRAINT "PK_9005285a73c4567be050452d745" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE TABLE "provisioning_jobs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "batch_id" uuid NOT NULL,
                "kind" character varying(16) NOT NULL,
                "address" character varying(255) NOT NULL,
                "port" integer NOT NULL,
                "target_id" uuid,
                "status" character varying(16) NOT NULL,
                "steps" jsonb NOT NULL,
                "error" text,
                "host_id" uuid,
                "created_by" uuid,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "provisioning_jobs_status_check" CHECK ("status" IN ('running', 'succeeded', 'failed')),
                CONSTRAINT "provisioning_jobs_kind_check" CHECK ("kind" IN ('install', 'upgrade', 'uninstall')),
                CONSTRAINT "PK_e4d20ac3a2168bf791678a4665b" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "provisioning_jobs_batch_id_idx" ON "provisioning_jobs" ("batch_id")
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_targets"
            ADD CONSTRAINT "provisioning_targets_host_id_fkey" FOREIGN KEY ("host_id") REFERENCES "hosts"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs"
            ADD CONSTRAINT "provisioning_jobs_target_id_fkey" FOREIGN KEY ("target_id") REFERENCES "provisioning_targets"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs"
            ADD CONSTRAINT "provisioning_jobs_host_id_fkey" FOREIGN KEY ("host_id") REFERENCES "hosts"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs"
            ADD CONSTRAINT "provisioning_jobs_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs" DROP CONSTRAINT "provisioning_jobs_created_by_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs" DROP CONSTRAINT "provisioning_jobs_host_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_jobs" DROP CONSTRAINT "provisioning_jobs_target_id_fkey"
        `);
    await queryRunner.query(`
            ALTER TABLE "provisioning_targets" DROP CONSTRAINT "provisioning_targets_host_id_fkey"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."provisioning_jobs_batch_id_idx"
        `);
    await queryRunner.query(`
            DROP TABLE "provisioning_jobs"
        `);
    await queryRunner.query(`
            DROP TABLE "provisioning_targets"
        `);
  }
}
