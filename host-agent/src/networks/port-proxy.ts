import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server } from 'node:net';
import { conflict } from '../engine-error.js';

/**
 * The userland side of a published port: the agent listens on the host's address and port (which
 * also reserves the port, so a taken one fails the start) and relays to the container. DNAT in
 * the engine's nftables table serves other hosts; this proxy serves 127.0.0.1, which DNAT cannot.
 */
export interface PortProxy {
  readonly hostPort: number;
  /** New connections (and UDP datagrams) go to this address from now on; the host port stays held. */
  retarget(containerAddress: string): void;
  close(): void;
}

const UDP_IDLE_MS = 60_000;

export async function openPortProxy(options: {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerAddress: string;
  containerPort: number;
}): Promise<PortProxy> {
  const hostIp = options.hostIp || '0.0.0.0';
  try {
    return options.protocol === 'tcp' ? await openTcp(options, hostIp) : await openUdp(options, hostIp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw conflict(
        `cannot publish port ${options.hostPort || 'any'}/${options.protocol} on ${hostIp}: ${code === 'EADDRINUSE' ? 'the port is already allocated' : 'permission denied'}`,
      );
    }
    if (code === 'EADDRNOTAVAIL') throw conflict(`cannot publish a port on ${hostIp}: the host has no such address`);
    throw error;
  }
}

async function openTcp(
  options: { hostPort: number; containerAddress: string; containerPort: number },
  hostIp: string,
): Promise<PortProxy> {
  const sockets = new Set<import('node:net').Socket>();
  let target = options.containerAddress;
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = createConnection({
      host: target,
      port: options.containerPort,
      allowHalfOpen: true,
    });
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.destroy();
      forget();
    });
    upstream.on('close', () => {
      // A half-closed upstream finishes writing first (pipe ends the client), then both go.
      if (!client.writableEnded) client.end();
      forget();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: hostIp, port: options.hostPort, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const address = server.address();
  return {
    hostPort: typeof address === 'object' && address ? address.port : options.hostPort,
    retarget: (containerAddress) => {
      target = containerAddress;
    },
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

async function openUdp(
  options: { hostPort: number; containerAddress: string; containerPort: number },
  hostIp: string,
): Promise<PortProxy> {
  const socket = createSocket('udp4');
  let target = options.containerAddress;
  const peers = new Map<string, { upstream: UdpSocket; timer: NodeJS.Timeout }>();
  socket.on('message', (message, from) => {
    const key = `${from.address}:${from.port}`;
    let peer = peers.get(key);
    if (!peer) {
      const upstream = createSocket('udp4');
      upstream.on('message', (reply) => socket.send(reply, from.port, from.address));
      upstream.on('error', () => undefined);
      peer = { upstream, timer: setTimeout(() => undefined, 0) };
      peers.set(key, peer);
    }
    const current = peer;
    clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      current.upstream.close();
      peers.delete(key);
    }, UDP_IDLE_MS);
    current.timer.unref();
    current.upstream.send(message, options.containerPort, target);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: hostIp, port: options.hostPort, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  return {
    hostPort: socket.address().port,
    retarget: (containerAddress) => {
      target = containerAddress;
    },
    close: () => {
      for (const peer of peers.values()) {
        clearTimeout(peer.timer);
        peer.upstream.close();
      }
      peers.clear();
      socket.close();
    },
  };
}
