import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HostService } from './host.service.js';

const SWEEP_EVERY_MS = 2_000;

/** Marks hosts offline whose agents went quiet without closing their link (a cut cable, a frozen host). */
@Injectable()
export class HostSweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('hosts');
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly hosts: HostService) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.hosts.sweepSilentHosts().catch((error: unknown) => {
        this.logger.warn(`sweeping silent hosts failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
