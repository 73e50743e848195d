import http from 'node:http';
import { type EngineDoor, localDoor, request } from './engine-door.js';
import { nowMs } from './latency-sample.js';

export interface ApiRunTimes {
  create: number;
  /** Until the head of `wait?condition=removed` is in (both engines send it at once). */
  openWait: number;
  start: number;
  /** From the start's answer to the end of the wait's: `true` running, exiting, and the container removed. */
  exitAndRemoval: number;
  total: number;
}

/**
 * `docker run --rm busybox true` without the CLI, making the calls the CLI makes for it: create
 * with AutoRemove, a wait for `removed` opened before the start, start, and the wait's answer.
 * Each call on a kept-alive connection from this process (the wait on a second one). What is left
 * of a CLI run's time is the CLI's own: its start, its ping, its attach connection.
 */
export class ApiRun {
  private readonly door: EngineDoor;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

  constructor(socketPath: string) {
    this.door = localDoor(socketPath);
  }

  async once(): Promise<ApiRunTimes> {
    const started = nowMs();
    const created = await this.call('POST', '/containers/create', {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { AutoRemove: true, NetworkMode: 'none' },
    });
    const { Id: id } = JSON.parse(created) as { Id: string };
    const afterCreate = nowMs();
    const waitAnswer = await this.openWait(id);
    const afterOpenWait = nowMs();
    await this.call('POST', `/containers/${id}/start`);
    const afterStart = nowMs();
    const waited = await waitAnswer.body;
    const done = nowMs();
    if (waitAnswer.status !== 200) throw new Error(`POST /containers/${id}/wait: ${waitAnswer.status} ${waited}`);
    return {
      create: afterCreate - started,
      openWait: afterOpenWait - afterCreate,
      start: afterStart - afterOpenWait,
      exitAndRemoval: done - afterStart,
      total: done - started,
    };
  }

  close(): void {
    this.agent.destroy();
  }

  private async call(method: string, path: string, body?: unknown): Promise<string> {
    const answer = await request(this.door, method, `/v1.41${path}`, { agent: this.agent, body });
    const text = answer.body.toString();
    if (answer.status < 200 || answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${text}`);
    return text;
  }

  /** Resolves once the wait's head is in, with its status and a promise of its body. */
  private openWait(id: string): Promise<{ status: number; body: Promise<string> }> {
    return new Promise((resolve, reject) => {
      const outgoing = http.request(
        { ...this.door.options('POST', `/v1.41/containers/${id}/wait?condition=removed`), agent: this.agent },
        (response) => {
          const body = new Promise<string>((settle, fail) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.once('end', () => settle(Buffer.concat(chunks).toString()));
            response.once('error', fail);
          });
          resolve({ status: response.statusCode ?? 0, body });
        },
      );
      outgoing.once('error', reject);
      outgoing.end();
    });
  }
}
