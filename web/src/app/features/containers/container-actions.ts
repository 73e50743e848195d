import { Injectable, inject } from '@angular/core';

import { EngineApi, EngineError } from '../../core/engine/engine-api';

export type ContainerAction = 'start' | 'stop' | 'restart' | 'remove';

export const CONTAINER_ACTIONS: readonly { action: ContainerAction; label: string; done: string }[] = [
  { action: 'start', label: 'Start', done: 'started' },
  { action: 'stop', label: 'Stop', done: 'stopped' },
  { action: 'restart', label: 'Restart', done: 'restarted' },
  { action: 'remove', label: 'Remove', done: 'removed' },
];

/** What became of one action on one container. */
export type ActionOutcome = { ok: true; message: string } | { ok: false; message: string };

/** The lifecycle calls the list and the detail page share. */
@Injectable({ providedIn: 'root' })
export class ContainerActions {
  private readonly engine = inject(EngineApi);

  async run(action: ContainerAction, hostId: string, id: string): Promise<ActionOutcome> {
    const path = `/containers/${encodeURIComponent(id)}`;
    const done = CONTAINER_ACTIONS.find((candidate) => candidate.action === action)!.done;
    try {
      switch (action) {
        case 'start':
        case 'stop':
        case 'restart':
          await this.engine.post(hostId, `${path}/${action}`);
          break;
        case 'remove':
          await this.engine.delete(hostId, path);
          break;
      }
      return { ok: true, message: done };
    } catch (error) {
      // 304: the engine's way of saying it already was in that state.
      if (error instanceof EngineError && error.status === 304) return { ok: true, message: `already ${done}` };
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }
}
