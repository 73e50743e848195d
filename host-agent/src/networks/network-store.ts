import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile, writeFileAtomic } from '../state/atomic-file.js';
import type { NetworkState } from './network-record.js';

/** `<root>/networks/state.json`: the networks, every container's endpoints and published ports, written atomically. */
export class NetworkStore {
  private readonly path: string;

  constructor(private readonly directory: string) {
    this.path = join(directory, 'state.json');
  }

  async load(): Promise<NetworkState> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    try {
      const state = JSON.parse(await readFile(this.path, 'utf8')) as NetworkState;
      return { version: 1, networks: state.networks ?? [], endpoints: state.endpoints ?? {}, ports: state.ports ?? {} };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return { version: 1, networks: [], endpoints: {}, ports: {} };
    }
  }

  /**
   * Always atomic (temp file, rename). Durable (fsync) when networks change; addresses and ports
   * of running containers need not outlive the host, whose reboot ends the containers too, and an
   * fsync there would sit on the path of every start and stop.
   */
  async save(state: NetworkState, { durable = true } = {}): Promise<void> {
    const text = `${JSON.stringify(state)}\n`;
    if (durable) {
      await writeFileAtomic(this.path, text, { mode: 0o600 });
      return;
    }
    await replaceFile(this.path, text, 0o600);
  }
}
