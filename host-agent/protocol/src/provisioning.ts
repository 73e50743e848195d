/** Fleet provisioning over SSH as the REST API and the console feed show it. */
export type ProvisioningJobKind = 'install' | 'upgrade' | 'uninstall';
export type ProvisioningJobStatus = 'running' | 'succeeded' | 'failed';
export type ProvisioningStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface ProvisioningStep {
  name: string;
  title: string;
  status: ProvisioningStepStatus;
  /** What the step printed (its tail when long). */
  output: string;
  /** Why it failed and what to do. */
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** One install, upgrade or uninstall on one host. */
export interface ProvisioningJobSummary {
  id: string;
  /** Jobs started by one request (many hosts at once) share it. */
  batchId: string;
  kind: ProvisioningJobKind;
  address: string;
  port: number;
  status: ProvisioningJobStatus;
  /** 0–100. */
  progress: number;
  steps: ProvisioningStep[];
  error: string | null;
  hostId: string | null;
  targetId: string | null;
  createdAt: string;
  finishedAt: string | null;
}
