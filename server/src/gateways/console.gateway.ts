import { Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import {
  CONSOLE_NAMESPACE,
  type ConsoleClientEvents,
  type ConsoleEngineOpen,
  type ConsoleEngineOpenResult,
  type ConsoleEvents,
  type ErrorBody,
} from '@skiff/protocol';
import { LinkStreamTable } from '@skiff/protocol/link-stream';
import type { Namespace, Socket } from 'socket.io';
import { SESSION_COOKIE } from '../auth/request-context.js';
import { DomainError } from '../errors/domain-error.js';
import { ConsoleFeedRepository, type ConsoleSocketData } from '../repositories/console-feed.repository.js';
import { AccessService } from '../services/access.service.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { AuthService } from '../services/auth.service.js';
import { ConsoleEngineService } from '../services/console-engine.service.js';
import { FleetService } from '../services/fleet.service.js';
import { HostService } from '../services/host.service.js';

type ConsoleNamespace = Namespace<ConsoleClientEvents, ConsoleEvents>;
type ConsoleSocket = Socket<ConsoleClientEvents, ConsoleEvents>;

/** How often an open console's permissions are read again. */
const ACCESS_REFRESH_MS = 5_000;

/** Packets waiting in engine.io's buffer for this console (a private field, read for back-pressure only). */
function queuedPackets(socket: ConsoleSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/** Fleet events a console may have waiting to be sent before the feed drops events for it. */
const MAX_QUEUED_FLEET_EVENTS = 1_000;

/**
 * The `/console` namespace: browsers with a valid session cookie receive live updates, make
 * Engine API calls whose answers stream back as numbered streams (logs, stats, events, exec and
 * attach both ways), and follow the fleet's events.
 */
@WebSocketGateway({ namespace: CONSOLE_NAMESPACE })
export class ConsoleGateway implements OnGatewayInit<ConsoleNamespace>, OnGatewayConnection<ConsoleSocket> {
  private readonly logger = new Logger('console');

  constructor(
    private readonly auth: AuthService,
    private readonly hosts: HostService,
    private readonly feed: ConsoleFeedRepository,
    private readonly engine: ConsoleEngineService,
    private readonly fleet: FleetService,
    private readonly access: AccessService,
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
    const actor = (socket.data as { actor: Actor }).actor;
    const origin: RequestOrigin = {
      address: socket.handshake.address,
      userAgent: socket.handshake.headers['user-agent'] ?? null,
    };
    const streams = new LinkStreamTable({
      data: (id, chunk) => socket.emit('stream.data', id, chunk),
      end: (id) => socket.emit('stream.end', id),
      credit: (id, bytes) => socket.emit('stream.credit', id, bytes),
      reset: (id, error) => socket.emit('stream.reset', id, error),
    });
    socket.on('stream.data', (id, chunk) => streams.data(id, chunk));
    socket.on('stream.end', (id) => streams.end(id));
    socket.on('stream.credit', (id, bytes) => streams.credit(id, bytes));
    socket.on('stream.reset', (id, error) => streams.reset(id, error));
    socket.on('engine.open', (request: ConsoleEngineOpen, ack: (result: ConsoleEngineOpenResult) => void) => {
      if (typeof ack !== 'function') return;
      this.engine.open(actor, origin, streams, request).then(
        (head) => ack({ ok: true, head }),
        (error: unknown) => ack({ ok: false, error: this.errorBody(error) }),
      );
    });

    let stopFleetEvents: (() => void) | undefined;
    socket.on('fleet.events.subscribe', (ack) => {
      if (stopFleetEvents) {
        if (typeof ack === 'function') ack({ ok: true });
        return;
      }
      this.fleet
        .subscribe(actor, (event) => {
          // A console that stopped reading loses events rather than growing the server's memory.
          if (queuedPackets(socket) > MAX_QUEUED_FLEET_EVENTS) return;
          socket.emit('fleet.event', event);
        })
        .then(
          (stop) => {
            if (socket.disconnected) stop();
            else stopFleetEvents = stop;
            if (typeof ack === 'function') ack({ ok: true });
          },
          (error: unknown) => {
            if (typeof ack === 'function') ack({ ok: false, error: this.errorBody(error) });
          },
        );
    });
    socket.on('fleet.events.unsubscribe', () => {
      stopFleetEvents?.();
      stopFleetEvents = undefined;
    });
    const data = socket.data as ConsoleSocketData;
    data.access = await this.access.resolve(actor);
    // Grants change while a console is open: what it is told follows them within seconds.
    const refresh = setInterval(() => {
      this.access.resolve(actor).then(
        (access) => (data.access = access),
        (error: unknown) => this.logger.warn(`console access refresh: ${String(error)}`),
      );
    }, ACCESS_REFRESH_MS);
    socket.once('disconnect', () => {
      clearInterval(refresh);
      stopFleetEvents?.();
      streams.closeAll({ kind: 'unavailable', message: 'the console disconnected' });
    });

    socket.emit('hosts.snapshot', await this.hosts.listVisible(actor));
  }

  private errorBody(error: unknown): ErrorBody {
    if (error instanceof DomainError) return { kind: error.kind, message: error.message };
    this.logger.error('console call failed', error instanceof Error ? error.stack : String(error));
    return { kind: 'internal', message: 'internal error; see the server log' };
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
