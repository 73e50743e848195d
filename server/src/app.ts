import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import { join } from 'node:path';
import { AppModule } from './app.module.js';
import { SESSION_COOKIE } from './auth/request-context.js';
import { type ServerConfig, webDirExists } from './config/server-config.js';
import { SkiffSocketIoAdapter } from './gateways/socket-io.adapter.js';
import { runInAuditScope } from './services/audit-scope.js';

const version = '0.1.0';

/** Builds the whole server (REST, OpenAPI, Socket.IO, the console's files) without listening yet. */
export async function createApp(
  config: ServerConfig,
  databaseUrl: string,
  logger: LoggerService | false = new Logger(),
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, databaseUrl), {
    logger: logger === false ? false : logger,
    bodyParser: true,
  });
  app.disable('x-powered-by');
  app.setGlobalPrefix('api');
  app.use(cookieParser());
  // Each request in its own audit scope: see DeniedRequestAudit.
  app.use((_request: Request, _response: Response, next: NextFunction) => runInAuditScope(next));
  app.useWebSocketAdapter(new SkiffSocketIoAdapter(app));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Skiff')
      .setDescription('The Skiff control plane: hosts, access, audit; and, per host, the Docker Engine API.')
      .setVersion(version)
      .addCookieAuth(SESSION_COOKIE)
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A personal API token (POST /api/tokens).' })
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });

  if (webDirExists(config)) {
    app.use(express.static(config.webDir, { index: false, maxAge: '1h' }));
    // Client-side routes of the console all answer with its index.html.
    app.use((request: Request, response: Response, next: NextFunction) => {
      if (request.method !== 'GET' || request.path.startsWith('/api') || request.path.startsWith('/socket.io')) {
        next();
        return;
      }
      response.sendFile(join(config.webDir, 'index.html'), { headers: { 'Cache-Control': 'no-cache' } });
    });
  } else {
    new Logger('web').warn(`the console is not built (${config.webDir} is missing): run \`npm run build\``);
  }
  return app;
}

export { version as serverVersion };
