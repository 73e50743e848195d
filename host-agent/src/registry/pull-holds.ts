/**
 * The blobs running pulls hold, and the blobs pulls leave behind.
 *
 * A pull holds every blob it needs (index, manifest, config, layers) until it ends: a failing
 * pull removes the blobs pulls added only once no other pull holds them, and only if no image
 * or layer uses them. So that a pull the agent never saw end (SIGKILL, power loss) is cleaned up
 * too, each pull writes the digests it holds to `<directory>/<random>.json` before any blob of it
 * lands, and removes that file when it is over. A file found at start belongs to a dead pull.
 *
 * Its partial downloads are gone already (the image store empties tmp/ at start, and a `Range`
 * resume only spans one run of the agent), but its complete blobs are kept for a while
 * (`keepForMs`, 24 h as containerd's pull leases), since a pull run again takes them from the
 * content store instead of downloading them again. After that, those no image or layer uses are
 * removed, at start or, for an agent that runs on, when the time is up.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { unavailable } from '../engine-error.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import { isDigest, type Digest } from '../snapshots/digest.js';

export const DEFAULT_KEEP_LEFTOVERS_MS = 24 * 60 * 60 * 1000;

export interface PullHoldsOptions {
  /** Where the pulls' files are. */
  directory: string;
  /** Removes the blobs no image or layer uses (the image store, one change at a time). */
  discardBlobs: (digests: readonly Digest[]) => Promise<void>;
  /** How long the blobs of a dead pull stay for a pull run again. */
  keepForMs?: number;
  now?: () => number;
}

/** What a running pull holds. */
export interface PullHold {
  /** The pull added this blob to the content store. */
  added(digest: Digest): void;
  /**
   * Lets the blobs go. After a failure, the blobs pulls added that no pull holds any more are
   * removed unless an image or layer uses them.
   */
  release(failed: boolean): Promise<void>;
}

interface Leftover {
  path: string;
  digests: Digest[];
  expiresAt: number;
}

export class PullHolds {
  private readonly counts = new Map<Digest, number>();
  /** Blobs pulls added that no image may use yet: the last holder of one removes it after a failure. */
  private readonly added = new Set<Digest>();
  private readonly leftovers: Leftover[] = [];
  private readonly keepForMs: number;
  private readonly now: () => number;
  /** The sweeps, one after the other; a pull starts holding between them, never during one. */
  private gate: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: PullHoldsOptions) {
    this.keepForMs = options.keepForMs ?? DEFAULT_KEEP_LEFTOVERS_MS;
    this.now = options.now ?? (() => Date.now());
  }

  /** Looks for the files of dead pulls (call once, before any pull). */
  open(): Promise<void> {
    return this.sweep(async () => {
      const names = await readdir(this.options.directory).catch(() => [] as string[]);
      for (const name of names) {
        const path = join(this.options.directory, name);
        if (!name.endsWith('.json')) {
          // A file writeFileAtomic was writing when the agent died.
          if (name.endsWith('.tmp')) await rm(path, { force: true });
          continue;
        }
        const modified = await stat(path).then(
          (info) => info.mtimeMs,
          () => undefined,
        );
        if (modified === undefined) continue;
        this.leftovers.push({ path, digests: await readDigests(path), expiresAt: modified + this.keepForMs });
      }
      await this.removeExpired();
    });
  }

  /** Holds the blobs for a pull, once no sweep runs; the pull's file is on disk when this resolves. */
  async hold(digests: readonly Digest[]): Promise<PullHold> {
    for (let gate = this.gate; ; gate = this.gate) {
      await gate;
      if (gate === this.gate) break;
    }
    if (this.closed) throw unavailable('the engine is shutting down');
    const held = [...new Set(digests)];
    for (const digest of held) this.counts.set(digest, (this.counts.get(digest) ?? 0) + 1);
    const path = join(this.options.directory, `${randomBytes(8).toString('hex')}.json`);
    const unhold = (): Digest[] => {
      const free: Digest[] = [];
      for (const digest of held) {
        const count = (this.counts.get(digest) ?? 1) - 1;
        if (count > 0) this.counts.set(digest, count);
        else {
          this.counts.delete(digest);
          free.push(digest);
        }
      }
      return free;
    };
    try {
      await ensureDirectory(this.options.directory, 0o700);
      await writeFileAtomic(path, `${JSON.stringify({ digests: held })}\n`, { mode: 0o600 });
    } catch (error) {
      unhold();
      throw error;
    }
    let released = false;
    return {
      added: (digest) => {
        this.added.add(digest);
      },
      release: async (failed) => {
        if (released) return;
        released = true;
        const free = unhold().filter((digest) => this.added.delete(digest));
        if (failed && free.length > 0) await this.options.discardBlobs(free);
        await rm(path, { force: true });
      },
    };
  }

  /** Whether a running pull holds the blob. */
  isHeld(digest: Digest): boolean {
    return this.counts.has(digest);
  }

  /** Stops the timer; running pulls still release what they hold. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.gate.catch(() => undefined);
  }

  private sweep(work: () => Promise<void>): Promise<void> {
    const run = this.gate.then(work);
    // A failed sweep must not stop pulls: the files stay for the next one.
    this.gate = run.catch(() => undefined);
    return run;
  }

  private async removeExpired(): Promise<void> {
    const now = this.now();
    const expired = this.leftovers.filter((leftover) => leftover.expiresAt <= now);
    if (expired.length > 0) {
      const doomed = new Set<Digest>();
      for (const leftover of expired) {
        for (const digest of leftover.digests) {
          // A running pull took this blob: its own file covers it now, and it removes it after a failure.
          if (this.counts.has(digest)) this.added.add(digest);
          else doomed.add(digest);
        }
      }
      if (doomed.size > 0) await this.options.discardBlobs([...doomed]);
      for (const leftover of expired) {
        await rm(leftover.path, { force: true });
        this.leftovers.splice(this.leftovers.indexOf(leftover), 1);
      }
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.leftovers.length === 0) return;
    const next = Math.min(...this.leftovers.map((leftover) => leftover.expiresAt));
    // setTimeout takes at most 2^31-1 ms; a later expiry is looked at again then.
    this.timer = setTimeout(
      () => void this.sweep(() => this.removeExpired()).catch(() => undefined),
      Math.min(Math.max(0, next - this.now()), 2 ** 31 - 1),
    );
    this.timer.unref();
  }
}

async function readDigests(path: string): Promise<Digest[]> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { digests?: unknown };
    return Array.isArray(parsed.digests) ? parsed.digests.filter(isDigest) : [];
  } catch {
    // Unreadable: nothing to remove but the file.
    return [];
  }
}
