import { type DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthGuard } from './auth/auth.guard.js';
import { ConfigModule } from './config/config.module.js';
import type { ServerConfig } from './config/server-config.js';
import { AgentEnrolController } from './controllers/agent-enrol.controller.js';
import { ApiTokenController } from './controllers/api-token.controller.js';
import { AuthController } from './controllers/auth.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { HostController } from './controllers/host.controller.js';
import { JoinTokenController } from './controllers/join-token.controller.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { AllExceptionsFilter } from './errors/all-exceptions.filter.js';
import { AgentGateway } from './gateways/agent.gateway.js';
import { ConsoleGateway } from './gateways/console.gateway.js';
import { AgentLinkRepository } from './repositories/agent-link.repository.js';
import { ApiTokenRepository } from './repositories/api-token.repository.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { ConsoleFeedRepository } from './repositories/console-feed.repository.js';
import { HealthRepository } from './repositories/health.repository.js';
import { HostRepository } from './repositories/host.repository.js';
import { JoinTokenRepository } from './repositories/join-token.repository.js';
import { SessionRepository } from './repositories/session.repository.js';
import { UserRepository } from './repositories/user.repository.js';
import { ApiTokenService } from './services/api-token.service.js';
import { AuditService } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { BootstrapService } from './services/bootstrap.service.js';
import { Clock } from './services/clock.js';
import { HostSweeperService } from './services/host-sweeper.service.js';
import { HostService } from './services/host.service.js';
import { JoinTokenService } from './services/join-token.service.js';
import { LoginThrottleService } from './services/login-throttle.service.js';

const repositories = [
  AgentLinkRepository,
  ApiTokenRepository,
  AuditRepository,
  ConsoleFeedRepository,
  HealthRepository,
  HostRepository,
  JoinTokenRepository,
  SessionRepository,
  UserRepository,
];

const services = [
  ApiTokenService,
  AuditService,
  AuthService,
  BootstrapService,
  Clock,
  HostService,
  HostSweeperService,
  JoinTokenService,
  LoginThrottleService,
];

@Module({})
export class AppModule {
  static forRoot(config: ServerConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), TypeOrmModule.forRoot(dataSourceOptions(databaseUrl))],
      controllers: [
        AgentEnrolController,
        ApiTokenController,
        AuthController,
        HealthController,
        HostController,
        JoinTokenController,
      ],
      providers: [
        ...repositories,
        ...services,
        AgentGateway,
        ConsoleGateway,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
        },
      ],
    };
  }
}
