import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { ProvisioningJobEntity } from '../entities/provisioning-job.entity.js';
import { ProvisioningTargetEntity } from '../entities/provisioning-target.entity.js';

export type NewProvisioningJob = Omit<ProvisioningJobEntity, 'id' | 'createdAt' | 'target' | 'host' | 'creator'>;

/** Fleet hosts reached over SSH (pinned host keys, kept credentials) and the jobs run on them. */
@Injectable()
export class ProvisioningRepository {
  private readonly targets: Repository<ProvisioningTargetEntity>;
  private readonly jobs: Repository<ProvisioningJobEntity>;

  constructor(dataSource: DataSource) {
    this.targets = dataSource.getRepository(ProvisioningTargetEntity);
    this.jobs = dataSource.getRepository(ProvisioningJobEntity);
  }

  findTarget(address: string, port: number): Promise<ProvisioningTargetEntity | null> {
    return this.targets.findOneBy({ address, port });
  }

  findTargetById(id: string): Promise<ProvisioningTargetEntity | null> {
    return this.targets.findOneBy({ id });
  }

  listTargets(): Promise<ProvisioningTargetEntity[]> {
    return this.targets.find({ order: { address: 'ASC', port: 'ASC' } });
  }

  /** Pins the host key of a new target; when another request pinned one meanwhile, returns that one. */
  async pinTarget(
    values: Pick<ProvisioningTargetEntity, 'address' | 'port' | 'hostKeyFingerprint' | 'hostKeyAlgorithm'>,
  ): Promise<ProvisioningTargetEntity> {
    await this.targets
      .createQueryBuilder()
      .insert()
      .values({ ...values, username: null, sudo: false, credentials: null, hostId: null, agentVersion: null })
      .orIgnore()
      .execute();
    return (await this.findTarget(values.address, values.port)) as ProvisioningTargetEntity;
  }

  async updateTarget(
    id: string,
    changes: Partial<Pick<ProvisioningTargetEntity, 'username' | 'sudo' | 'credentials' | 'hostId' | 'agentVersion'>>,
  ): Promise<void> {
    await this.targets.update({ id }, changes);
  }

  async deleteTarget(id: string): Promise<boolean> {
    return ((await this.targets.delete({ id })).affected ?? 0) > 0;
  }

  createJob(job: NewProvisioningJob): Promise<ProvisioningJobEntity> {
    return this.jobs.save(this.jobs.create(job));
  }

  async saveJob(job: ProvisioningJobEntity): Promise<void> {
    await this.jobs.update(
      { id: job.id },
      {
        status: job.status,
        steps: job.steps,
        error: job.error,
        hostId: job.hostId,
        targetId: job.targetId,
        finishedAt: job.finishedAt,
      },
    );
  }

  findJob(id: string): Promise<ProvisioningJobEntity | null> {
    return this.jobs.findOneBy({ id });
  }

  listJobsWithStatus(status: ProvisioningJobEntity['status']): Promise<ProvisioningJobEntity[]> {
    return this.jobs.find({ where: { status }, order: { createdAt: 'ASC' } });
  }

  listJobs(limit: number, batchId?: string): Promise<ProvisioningJobEntity[]> {
    return this.jobs.find({
      where: batchId ? { batchId } : {},
      order: { createdAt: 'DESC' },
      take: limit,
    });
  }
}
