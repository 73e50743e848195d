import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { Logger } from '../logger.js';
import { errorMessage } from '../error-message.js';
import { DNS_RCODE, DNS_TYPE, encodeDnsAnswer, parseDnsQuery } from './dns-message.js';

/** How names on one network resolve: container names, aliases, short ids → addresses. */
export type NameLookup = (name: string) => string[] | undefined;

/**
 * The embedded DNS server of one user network, on the network's gateway address, port 53:
 * names of the network's containers answer from the engine, everything else goes to the host's
 * resolvers and their answer comes back unchanged.
 */
export class DnsServer {
  private socket: Socket | undefined;

  constructor(
    private readonly address: string,
    private readonly lookup: NameLookup,
    private readonly upstreams: () => Promise<string[]>,
    private readonly logger: Logger,
    private readonly port = 53,
    /** Who may ask: the network's own containers, so it is no open resolver and tells no other network's names. */
    private readonly accepts: (address: string) => boolean = () => true,
  ) {}

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (packet, from) => void this.answer(packet, from.address, from.port));
    socket.on('error', (error) => this.logger.warn(`dns ${this.address}: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private async answer(packet: Buffer, host: string, port: number): Promise<void> {
    if (!this.accepts(host)) return;
    const query = parseDnsQuery(packet);
    if (!query) return;
    const name = query.question.name.toLowerCase().replace(/\.$/, '');
    const addresses = this.lookup(name);
    if (addresses) {
      // Our own name: A records, and an empty answer (not an error) for other types.
      const answer = query.question.type === DNS_TYPE.A || query.question.type === DNS_TYPE.ANY ? addresses : [];
      this.send(encodeDnsAnswer(query, DNS_RCODE.noError, answer), host, port);
      return;
    }
    try {
      this.send(await this.forward(packet), host, port);
    } catch (error) {
      this.logger.debug(`dns ${this.address}: forwarding ${name}: ${errorMessage(error)}`);
      this.send(encodeDnsAnswer(query, DNS_RCODE.serverFailure), host, port);
    }
  }

  private send(packet: Buffer, host: string, port: number): void {
    this.socket?.send(packet, port, host);
  }

  /** The query to each of the host's resolvers in turn, 2 s each. */
  private async forward(packet: Buffer): Promise<Buffer> {
    const servers = (await this.upstreams()).filter((server) => isIPv4(server));
    for (const server of servers) {
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const socket = createSocket('udp4');
        const timer = setTimeout(() => finish(undefined), 2000);
        const finish = (value: Buffer | undefined) => {
          clearTimeout(timer);
          socket.close();
          resolve(value);
        };
        socket.on('message', (message) => finish(message));
        socket.on('error', () => finish(undefined));
        socket.send(packet, 53, server);
      });
      if (reply) return reply;
    }
    throw new Error('no upstream resolver answered');
  }
}
