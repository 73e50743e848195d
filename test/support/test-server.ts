import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/src/app.js';
import { loadServerConfig } from '../../server/src/config/server-config.js';
import { runMigrations } from '../../server/src/database/migrate.js';
import { BootstrapService } from '../../server/src/services/bootstrap.service.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { type Session, signInAs } from './rest-client.js';

export { call, type Session, signInAs } from './rest-client.js';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestServer {
  app: NestExpressApplication;
  baseUrl: string;
  database: TestDatabase;
  close(): Promise<void>;
}

/**
 * The real server, in this process, on a fresh database and a free port; or, with `database`, a
 * second start on a database another test server made (as after a restart; close leaves it).
 */
export async function startTestServer(
  adminUrl: string,
  options: { database?: TestDatabase } = {},
): Promise<TestServer> {
  const database = options.database ?? (await createTestDatabase(adminUrl));
  if (!options.database) await runMigrations(database.url);
  const config = {
    ...loadServerConfig({}),
    databaseUrl: database.url,
    adminPassword: ADMIN_PASSWORD,
    webDir: '/nonexistent',
    // Given, so no test writes a key file into the checkout's data directory.
    secretKey: randomBytes(32),
  };
  const app = await createApp(config, database.url, false);
  await app.get(BootstrapService).ensureAdmin(ADMIN_PASSWORD);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    database,
    close: async () => {
      await app.close();
      if (!options.database) await database.drop();
    },
  };
}

/** Signs in as admin like a browser does; returns the cookie and CSRF token. */
export function signIn(baseUrl: string, password = ADMIN_PASSWORD): Promise<Session> {
  return signInAs(baseUrl, 'admin', password);
}
