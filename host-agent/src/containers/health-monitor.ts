import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { ContainerRecord, HealthResult, HealthState } from './container-record.js';
import type { ContainerService } from './container-service.js';
import type { ExecService } from './exec-service.js';
import { type HealthProbe, healthProbe } from './health-config.js';

/** How many probes `State.Health.Log` keeps. */
export const HEALTH_LOG_ENTRIES = 5;
/** How much of a probe's output is kept. */
export const HEALTH_OUTPUT_BYTES = 4096;

/**
 * A probe's result applied to a container's health, by Docker's rules: a success makes it
 * healthy; a failure adds to the failing streak and makes it unhealthy once the streak reaches
 * the retries, except that failures in the start period of a container not yet healthy count
 * for nothing.
 */
export function applyProbe(
  previous: HealthState,
  result: HealthResult,
  facts: { retries: number; inStartPeriod: boolean },
): HealthState {
  const Log = [...previous.Log, result].slice(-HEALTH_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (previous.Status === 'starting' && facts.inStartPeriod) return { ...previous, Log };
  const FailingStreak = previous.FailingStreak + 1;
  return { Status: FailingStreak >= facts.retries ? 'unhealthy' : previous.Status, FailingStreak, Log };
}

interface Monitor {
  probe: HealthProbe;
  timer?: NodeJS.Timeout;
}

/**
 * Runs each running container's healthcheck (from its image or `--health-*`) as an exec in the
 * container, keeps `State.Health` in its record, and publishes `health_status: …` events when
 * the status changes. Monitors begin when a container starts and end when it exits; after an
 * agent restart the containers still running are monitored again, their health kept.
 */
export class HealthService {
  private readonly monitors = new Map<string, Monitor>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly containers: ContainerService,
    private readonly execs: ExecService,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = events.subscribe(({ event }) => {
      if (event.Type !== 'container') return;
      if (event.Action === 'start') this.safely(event.Actor.ID, this.begin(event.Actor.ID, true));
      else if (event.Action === 'die' || event.Action === 'destroy') this.end(event.Actor.ID);
    });
    for (const record of containers.list()) {
      if (record.state.status === 'running' || record.state.status === 'paused')
        this.safely(record.id, this.begin(record.id, false));
    }
  }

  /** A monitor's failure (e.g. a full disk while saving) is logged; it never takes the agent down. */
  private safely(id: string, work: Promise<void>): void {
    work.catch((error: unknown) => this.logger.warn(`health check of container ${id}: ${errorMessage(error)}`));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const id of [...this.monitors.keys()]) this.end(id);
  }

  /** Starts watching a container; `fresh` (a start, not an agent restart) sets its health to starting. */
  private async begin(id: string, fresh: boolean): Promise<void> {
    this.end(id);
    const record = this.containers.store.find(id);
    if (!record) return;
    const probe = healthProbe(record.healthcheck, record.shell);
    if (!probe) {
      if (record.state.health) {
        delete record.state.health;
        await this.containers.store.save(record);
      }
      return;
    }
    const monitor: Monitor = { probe };
    this.monitors.set(id, monitor);
    if (fresh || !record.state.health) {
      record.state.health = { Status: 'starting', FailingStreak: 0, Log: record.state.health?.Log ?? [] };
      await this.containers.store.save(record);
    }
    this.schedule(id, monitor, record);
  }

  private end(id: string): void {
    const monitor = this.monitors.get(id);
    if (!monitor) return;
    clearTimeout(monitor.timer);
    this.monitors.delete(id);
  }

  private schedule(id: string, monitor: Monitor, record: ContainerRecord): void {
    const { probe } = monitor;
    // Within the start period of a container not yet healthy, the start interval applies.
    const starting =
      probe.startPeriodMs > 0 && record.state.health?.Status === 'starting' && this.inStartPeriod(record, probe);
    monitor.timer = setTimeout(
      () => this.safely(id, this.runProbe(id, monitor)),
      starting ? probe.startIntervalMs : probe.intervalMs,
    );
    monitor.timer.unref();
  }

  private inStartPeriod(record: ContainerRecord, probe: HealthProbe, at = Date.now()): boolean {
    return at - Date.parse(record.state.startedAt ?? '') < probe.startPeriodMs;
  }

  private async runProbe(id: string, monitor: Monitor): Promise<void> {
    const record = this.containers.store.find(id);
    if (!record || this.monitors.get(id) !== monitor) return;
    if (record.state.status === 'running') {
      const result = await this.execute(id, monitor.probe);
      // The container may have stopped, been removed or restarted while the probe ran.
      if (this.closed || this.monitors.get(id) !== monitor || record.state.status !== 'running') return;
      const previous = record.state.health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
      const next = applyProbe(previous, result, {
        retries: monitor.probe.retries,
        inStartPeriod: this.inStartPeriod(record, monitor.probe, Date.parse(result.Start)),
      });
      record.state.health = next;
      await this.containers.store.save(record);
      if (next.Status !== previous.Status) {
        this.events.publish({
          type: 'container',
          action: `health_status: ${next.Status}`,
          id,
          attributes: { ...record.labels, image: record.imageName, name: record.name },
        });
      }
    }
    if (this.monitors.get(id) === monitor && !this.closed) this.schedule(id, monitor, record);
  }

  /** Runs the probe in the container; a probe that outlives its timeout is killed and fails. */
  private async execute(id: string, probe: HealthProbe): Promise<HealthResult> {
    const start = new Date();
    const finish = (exitCode: number, output: string): HealthResult => ({
      Start: start.toISOString(),
      End: new Date().toISOString(),
      ExitCode: exitCode,
      Output: output,
    });
    let execId: string | undefined;
    try {
      execId = this.execs.create(id, { Cmd: probe.argv, AttachStdout: true, AttachStderr: true });
      const { exec, attachment } = await this.execs.start(execId, false);
      if (!attachment) return finish(-1, 'the health probe could not be attached');
      const chunks: Buffer[] = [];
      let kept = 0;
      attachment.on('output', (_stream, payload) => {
        if (kept >= HEALTH_OUTPUT_BYTES) return;
        const part = payload.subarray(0, HEALTH_OUTPUT_BYTES - kept);
        chunks.push(part);
        kept += part.length;
      });
      attachment.start();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), probe.timeoutMs);
      });
      const outcome = await Promise.race([attachment.closed, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        try {
          process.kill(exec.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        return finish(-1, `Health check exceeded timeout (${probe.timeoutMs / 1000}s)`);
      }
      return finish(outcome?.exitCode ?? exec.exitCode ?? -1, Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      return finish(-1, errorMessage(error));
    } finally {
      if (execId) {
        const discard = execId;
        // Give a killed probe's shim a moment to leave before its state directory goes.
        setTimeout(() => {
          this.execs.discard(discard).catch((error: unknown) => {
            this.logger.debug(`health probe ${discard}: ${errorMessage(error)}`);
          });
        }, 1000).unref();
      }
    }
  }
}
