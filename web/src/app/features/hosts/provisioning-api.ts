import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { ProvisioningJobSummary } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

/** POST /api/provisioning/probe: the host key an SSH server offers, against the pinned one. */
export interface ProbeResult {
  address: string;
  port: number;
  fingerprint: string;
  algorithm: string;
  state: 'new' | 'pinned' | 'changed';
  pinnedFingerprint: string | null;
}

export interface SshCredentials {
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  sudo?: boolean;
}

export interface InstallRequest {
  targets: Array<{ address: string; port: number; hostKeyFingerprint?: string }>;
  credentials: SshCredentials;
  storeCredentials: boolean;
}

/** GET /api/provisioning/targets: a host reached over SSH. */
export interface ProvisioningTarget {
  id: string;
  address: string;
  port: number;
  hostKeyFingerprint: string;
  hostKeyAlgorithm: string;
  username: string | null;
  sudo: boolean;
  hasStoredCredentials: boolean;
  hostId: string | null;
  agentVersion: string | null;
}

/** POST /api/provisioning/manual-install */
export interface ManualInstall {
  command: string;
  token: string;
  expiresAt: string;
}

/** The provisioning REST calls of the console; job progress arrives on the socket (`ProvisioningFeed`). */
@Injectable({ providedIn: 'root' })
export class ProvisioningApi {
  private readonly http = inject(HttpClient);

  probe(address: string, port: number): Promise<ProbeResult> {
    return firstValueFrom(this.http.post<ProbeResult>('/api/provisioning/probe', { address, port }));
  }

  install(request: InstallRequest): Promise<ProvisioningJobSummary[]> {
    return firstValueFrom(this.http.post<ProvisioningJobSummary[]>('/api/provisioning/jobs', request));
  }

  job(id: string): Promise<ProvisioningJobSummary> {
    return firstValueFrom(this.http.get<ProvisioningJobSummary>(`/api/provisioning/jobs/${encodeURIComponent(id)}`));
  }

  targets(): Promise<ProvisioningTarget[]> {
    return firstValueFrom(this.http.get<ProvisioningTarget[]>('/api/provisioning/targets'));
  }

  upgrade(targetId: string, credentials?: SshCredentials): Promise<ProvisioningJobSummary> {
    return firstValueFrom(
      this.http.post<ProvisioningJobSummary>(
        `/api/provisioning/targets/${encodeURIComponent(targetId)}/upgrade`,
        credentials ? { credentials } : {},
      ),
    );
  }

  uninstall(targetId: string, keepData: boolean, credentials?: SshCredentials): Promise<ProvisioningJobSummary> {
    return firstValueFrom(
      this.http.post<ProvisioningJobSummary>(`/api/provisioning/targets/${encodeURIComponent(targetId)}/uninstall`, {
        keepData,
        ...(credentials ? { credentials } : {}),
      }),
    );
  }

  manualInstall(): Promise<ManualInstall> {
    return firstValueFrom(this.http.post<ManualInstall>('/api/provisioning/manual-install', {}));
  }
}
