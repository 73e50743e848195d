import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom } from 'rxjs';

import { errorMessage, isErrorBody } from '../errors/error-message';

/** The Engine API version the console speaks through the proxy. */
export const ENGINE_API_VERSION = 'v1.41';

/** The path of an Engine API call, versioned, as both the REST proxy and `engine.open` take it. */
export function enginePath(path: string): string {
  return `/${ENGINE_API_VERSION}${path.startsWith('/') ? path : `/${path}`}`;
}

/** A failed Engine API call, with a sentence for the user. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/**
 * JSON calls to a host's Docker Engine API through the server's proxy
 * (`/api/hosts/:hostId/engine/v1.41/...`). Failures reject with an `EngineError`.
 */
@Injectable({ providedIn: 'root' })
export class EngineApi {
  private readonly http = inject(HttpClient);

  get<T>(hostId: string, path: string): Promise<T> {
    return this.request<T>('GET', hostId, path);
  }

  post<T = unknown>(hostId: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', hostId, path, body);
  }

  delete<T = unknown>(hostId: string, path: string): Promise<T> {
    return this.request<T>('DELETE', hostId, path);
  }

  private async request<T>(method: string, hostId: string, path: string, body?: unknown): Promise<T> {
    const url = `/api/hosts/${encodeURIComponent(hostId)}/engine${enginePath(path)}`;
    try {
      return await firstValueFrom(this.http.request<T>(method, url, { body: body ?? null }));
    } catch (error) {
      throw new EngineError(engineErrorMessage(error), error instanceof HttpErrorResponse ? error.status : 0);
    }
  }
}

/**
 * The server's own errors are `ErrorBody`; the engine's are Docker's `{message}`, which already
 * names the object ("No such container: web"), so it is shown as it is.
 */
export function engineErrorMessage(error: unknown): string {
  if (error instanceof HttpErrorResponse && !isErrorBody(error.error)) {
    const body = error.error as { message?: unknown } | null;
    if (body && typeof body.message === 'string' && body.message !== '') return body.message;
  }
  return errorMessage(error);
}
