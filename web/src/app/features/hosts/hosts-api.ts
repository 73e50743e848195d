import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { HostSummary } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

/** GET /api/hosts/:id: the summary the feed carries, plus the host's labels. */
export interface HostDetails extends HostSummary {
  labels: Record<string, string>;
}

/** POST /api/join-tokens, 201. The token is shown only this once. */
export interface JoinToken {
  id: string;
  token: string;
  /** `skiff-agent --server … --join-token …`, ready to paste on the host. */
  command: string;
  expiresAt: string;
}

/** The hosts REST calls of the console (the live list comes from the socket, see `HostsFeed`). */
@Injectable({ providedIn: 'root' })
export class HostsApi {
  private readonly http = inject(HttpClient);

  get(id: string): Promise<HostDetails> {
    return firstValueFrom(this.http.get<HostDetails>(`/api/hosts/${encodeURIComponent(id)}`));
  }

  setLabels(id: string, labels: Record<string, string>): Promise<HostDetails> {
    return firstValueFrom(this.http.put<HostDetails>(`/api/hosts/${encodeURIComponent(id)}/labels`, { labels }));
  }

  revoke(id: string): Promise<unknown> {
    return firstValueFrom(this.http.delete(`/api/hosts/${encodeURIComponent(id)}`));
  }

  createJoinToken(): Promise<JoinToken> {
    return firstValueFrom(this.http.post<JoinToken>('/api/join-tokens', {}));
  }
}
