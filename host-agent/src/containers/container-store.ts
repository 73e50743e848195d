import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalidArgument, notFound } from '../engine-error.js';
import { replaceFile, writeFileAtomic } from '../state/atomic-file.js';
import type { ContainerRecord } from './container-record.js';

const RECORD_FILE = 'container.json';

/**
 * The containers of this engine, kept in memory and written through to disk on every change
 * (temp file, fsync, rename), so a restart of the agent finds them all again.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();

  constructor(readonly root: string) {}

  /** `<root>/containers/<id>`: the container's record, upper layer, logs and shim state. */
  directory(id: string): string {
    return join(this.root, id);
  }

  async load(): Promise<{ skipped: string[] }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const skipped: string[] = [];
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      try {
        const record = JSON.parse(await readFile(join(this.root, entry.name, RECORD_FILE), 'utf8')) as ContainerRecord;
        if (record.id === entry.name) this.byId.set(record.id, record);
        else skipped.push(entry.name);
      } catch {
        // A directory without a complete record: a create that never finished.
        skipped.push(entry.name);
      }
    }
    return { skipped };
  }

  list(): ContainerRecord[] {
    return [...this.byId.values()].sort((a, b) => b.created.localeCompare(a.created));
  }

  /** By full id, by name (with or without its leading slash), or by a unique id prefix, as Docker resolves them. */
  find(reference: string): ContainerRecord | undefined {
    if (!reference) return undefined;
    const exact = this.byId.get(reference);
    if (exact) return exact;
    const name = reference.replace(/^\//, '');
    for (const record of this.byId.values()) if (record.name === name) return record;
    if (!/^[0-9a-f]+$/.test(reference)) return undefined;
    const matches = [...this.byId.values()].filter((record) => record.id.startsWith(reference));
    if (matches.length > 1)
      throw invalidArgument(`multiple containers match the id prefix "${reference}": give more of it`);
    return matches[0];
  }

  get(reference: string): ContainerRecord {
    const record = this.find(reference);
    if (!record) throw notFound(`No such container: ${reference}`);
    return record;
  }

  isNameTaken(name: string): boolean {
    return this.list().some((record) => record.name === name);
  }

  /** Adds a new container; its name must be free. `durable` as for save(). */
  async add(record: ContainerRecord, { durable = true } = {}): Promise<void> {
    const holder = this.list().find((other) => other.name === record.name);
    if (holder) {
      throw conflict(
        `the container name "/${record.name}" is already in use by container ${holder.id}: remove or rename that container to reuse the name`,
      );
    }
    await mkdir(this.directory(record.id), { recursive: true, mode: 0o700 });
    this.byId.set(record.id, record);
    await this.save(record, { durable });
  }

  /**
   * Writes the record; a container removed meanwhile (its directory gone) is not written again.
   * Always atomic; durable (fsync) unless `durable: false`, for states that cannot outlive the host
   * (running, being removed): the agent's own crash still finds them, and a host's restart ends
   * the container anyway, whose next start records it again.
   */
  async save(record: ContainerRecord, { durable = true } = {}): Promise<void> {
    if (!this.byId.has(record.id)) return;
    const path = join(this.directory(record.id), RECORD_FILE);
    try {
      if (durable) await writeFileAtomic(path, JSON.stringify(record), { mode: 0o600 });
      else await replaceFile(path, JSON.stringify(record), 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !this.byId.has(record.id)) return;
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    this.byId.delete(id);
    await rm(this.directory(id), { recursive: true, force: true });
  }
}
