import 'reflect-metadata';
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { parseArgs } from 'node:util';
import { createApp, serverVersion } from './app.js';
import { AppModule } from './app.module.js';
import { loadServerConfig, type ServerConfig } from './config/server-config.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './database/embedded-postgres.js';
import { runMigrations } from './database/migrate.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { auditEventView } from './services/audit-export.js';
import { AuditService } from './services/audit.service.js';
import { BootstrapService } from './services/bootstrap.service.js';
import { Clock } from './services/clock.js';
import { JoinTokenService } from './services/join-token.service.js';

const HELP = `Usage: skiff-server [command] [options]

Commands:
  serve                     run the server (default)
  migrate                   run pending database migrations and exit
  join-token create         print a new one-time join token for an agent and exit
      --ttl SECONDS           how long it stays valid (default 3600)
  audit verify              walk the audit log's hash chain; exit 1 and print the first broken row if any

Options:
  -h, --help                show this help
  -v, --version             print the version

Environment:
  PORT                      HTTP port (default 8080)
  SKIFF_LISTEN              address to listen on (default 0.0.0.0)
  DATABASE_URL              PostgreSQL URL; unset: an embedded PostgreSQL under SKIFF_DATA
  SKIFF_DATA                data directory for the embedded PostgreSQL (default .skiff in the checkout)
  SKIFF_ADMIN_PASSWORD      password of the admin account made on the first start (else generated and printed)
  SKIFF_SESSION_HOURS       how long a console session lasts (default 12)
  SKIFF_SECURE_COOKIES      "true" behind HTTPS
  SKIFF_SECRET_KEY          32 bytes in base64 that seal secrets in the database (TOTP, kept SSH logins); unset:
                            SKIFF_DATA/server.key, made on first use
  SKIFF_PROVISION_ONLINE_SECONDS  how long an install over SSH waits for the agent to come online (default 90)
  SKIFF_WEB_DIR             the built console (default web/dist/browser)
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      ttl: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${serverVersion}\n`);
    return 0;
  }
  const config = loadServerConfig();
  const command = positionals.join(' ') || 'serve';
  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate':
      return withDatabase(config, async (url) => {
        const ran = await runMigrations(url);
        process.stdout.write(ran.length ? `ran ${ran.join(', ')}\n` : 'the database is up to date\n');
        return 0;
      });
    case 'join-token create':
      return withDatabase(config, async (url) => {
        const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
        await runMigrations(url);
        const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, url), { logger: false });
        try {
          const created = await app.get(JoinTokenService).create(null, ttl);
          process.stdout.write(`${created.token}\n`);
        } finally {
          await app.close();
        }
        return 0;
      });
    case 'audit verify':
      return withDatabase(config, async (url) => {
        await runMigrations(url);
        const app = await NestFactory.createApplicationContext(AuditCliModule.forRoot(url), { logger: false });
        try {
          return await verifyAuditLog(app.get(AuditService));
        } finally {
          await app.close();
        }
      });
    default:
      process.stderr.write(`skiff-server: unknown command "${command}"; see skiff-server --help\n`);
      return 2;
  }
}

/** What `audit verify` needs of the server, and nothing that listens, sweeps or links to agents. */
@Module({})
class AuditCliModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: AuditCliModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(databaseUrl))],
      providers: [AuditRepository, AuditService, Clock],
    };
  }
}

async function verifyAuditLog(audit: AuditService): Promise<number> {
  const result = await audit.verify();
  const range = result.firstRowId === null ? 'no rows' : `rows ${result.firstRowId} to ${result.lastRowId}`;
  if (!result.brokenAt) {
    process.stdout.write(`the audit log verifies: ${result.checked} rows checked (${range})\n`);
    return 0;
  }
  process.stdout.write(
    `the audit log is broken at row ${result.brokenAt.id}: ${result.brokenAt.reason}\n` +
      `${result.checked} rows checked (${range})\n`,
  );
  const row = await audit.findById(result.brokenAt.id);
  if (row) process.stdout.write(`${JSON.stringify(auditEventView(row), null, 2)}\n`);
  return 1;
}

async function serve(config: ServerConfig): Promise<number> {
  const logger = new Logger('skiff');
  const embedded = config.databaseUrl ? undefined : await startEmbedded(config, logger);
  const databaseUrl = config.databaseUrl ?? embedded!.url;
  const ran = await runMigrations(databaseUrl);
  if (ran.length) logger.log(`ran migrations: ${ran.join(', ')}`);

  const app = await createApp(config, databaseUrl);
  const admin = await app.get(BootstrapService).ensureAdmin(config.adminPassword);
  if (admin.created) {
    logger.log(
      admin.generatedPassword
        ? `created the account "admin" with the generated password: ${admin.generatedPassword} (shown once)`
        : 'created the account "admin" with the password from SKIFF_ADMIN_PASSWORD',
    );
  }
  await app.listen(config.port, config.listen);
  logger.log(`listening on ${config.listen}:${config.port} (console /, API /api, OpenAPI /api/docs)`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.log('stopping');
  await app.close();
  await embedded?.stop();
  return 0;
}

async function withDatabase(config: ServerConfig, work: (url: string) => Promise<number>): Promise<number> {
  const embedded = config.databaseUrl ? undefined : await startEmbedded(config, new Logger('skiff'));
  try {
    return await work(config.databaseUrl ?? embedded!.url);
  } finally {
    await embedded?.stop();
  }
}

function startEmbedded(config: ServerConfig, logger: Logger): Promise<EmbeddedDatabase> {
  logger.log(`DATABASE_URL is not set: starting an embedded PostgreSQL in ${config.dataDir}`);
  return startEmbeddedPostgres({ dataDir: config.dataDir, log: (line) => logger.log(line) });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`skiff-server: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
