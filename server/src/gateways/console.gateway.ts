import { Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import { CONSOLE_NAMESPACE, type ConsoleEvents } from '@skiff/protocol';
import type { Namespace, Socket } from 'socket.io';
import { SESSION_COOKIE } from '../auth/request-context.js';
import { ConsoleFeedRepository } from '../repositories/console-feed.repository.js';
import type { Actor } from '../services/actor.js';
import { AuthService } from '../services/auth.service.js';
import { HostService } from '../services/host.service.js';

type ConsoleNamespace = Namespace<Record<string, never>, ConsoleEvents>;
type ConsoleSocket = Socket<Record<string, never>, ConsoleEvents>;

/** The `/console` namespace: browsers with a valid session cookie receive live updates. */
@WebSocketGateway({ namespace: CONSOLE_NAMESPACE })
export class ConsoleGateway implements OnGatewayInit<ConsoleNamespace>, OnGatewayConnection<ConsoleSocket> {
  private readonly logger = new Logger('console');

  constructor(
    private readonly auth: AuthService,
    private readonly hosts: HostService,
    private readonly feed: ConsoleFeedRepository,
  ) {}

  afterInit(namespace: ConsoleNamespace): void {
    this.feed.attach(namespace);
    namespace.use((socket, next) => {
      const token = cookieValue(socket.handshake.headers.cookie, SESSION_COOKIE);
      if (!token) {
        next(new Error('unauthenticated'));
        return;
      }
      this.auth.resolveSession(token).then(
        (session) => {
          if (!session) {
            next(new Error('unauthenticated'));
            return;
          }
          (socket.data as { actor?: Actor }).actor = session.actor;
          next();
        },
        (error: unknown) => {
          this.logger.error('console authentication failed', error instanceof Error ? error.stack : String(error));
          next(new Error('unavailable'));
        },
      );
    });
  }

  async handleConnection(socket: ConsoleSocket): Promise<void> {
    socket.emit('hosts.snapshot', await this.hosts.list());
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) {
      try {
        return decodeURIComponent(part.slice(index + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
