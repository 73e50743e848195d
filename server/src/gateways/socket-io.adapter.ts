import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';

/**
 * Socket.IO settings for every namespace. Pings every 3 s with a 3 s timeout, so a host whose
 * link dies silently is noticed well within the 10 s in which it must be shown offline.
 */
export class SkiffSocketIoAdapter extends IoAdapter {
  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      serveClient: false,
      pingInterval: 3_000,
      pingTimeout: 3_000,
      maxHttpBufferSize: 1_000_000,
      // Upgrades of other paths (attach and exec through the engine proxy) are not Socket.IO's to end.
      destroyUpgrade: false,
    } as ServerOptions);
  }
}
