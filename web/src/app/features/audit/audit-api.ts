import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Permission } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

import type { AuditExportFormat, AuditPage, AuditVerification } from './audit-dtos';

export const AUDIT_PAGE_SIZE = 50;

@Injectable({ providedIn: 'root' })
export class AuditApi {
  private readonly http = inject(HttpClient);

  /** What the caller holds on every host: audit.view and audit.export count only there. */
  async globalPermissions(): Promise<Permission[]> {
    const mine = await firstValueFrom(this.http.get<{ global: Permission[] }>('/api/me/permissions'));
    return mine.global;
  }

  search(filters: Record<string, string>, cursor: string | null): Promise<AuditPage> {
    const params = { ...filters, limit: String(AUDIT_PAGE_SIZE), ...(cursor ? { cursor } : {}) };
    return firstValueFrom(this.http.get<AuditPage>('/api/audit', { params }));
  }

  verify(): Promise<AuditVerification> {
    return firstValueFrom(this.http.get<AuditVerification>('/api/audit/verify'));
  }

  /**
   * A plain link, not an XHR: the browser streams the file to disk however long the log is, and
   * the session cookie goes with it (a GET needs no CSRF header).
   */
  exportUrl(format: AuditExportFormat, filters: Record<string, string>): string {
    return `/api/audit/export?${new URLSearchParams({ ...filters, format }).toString()}`;
  }
}
