import { type DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthGuard } from './auth/auth.guard.js';
import { PermissionGuard } from './auth/permission.guard.js';
import { ConfigModule } from './config/config.module.js';
import type { ServerConfig } from './config/server-config.js';
import { AgentEnrolController } from './controllers/agent-enrol.controller.js';
import { AuditController } from './controllers/audit.controller.js';
import { EngineProxyController } from './controllers/engine-proxy.controller.js';
import { EngineRouteController } from './controllers/engine-route.controller.js';
import { FleetController } from './controllers/fleet.controller.js';
import { ApiTokenController } from './controllers/api-token.controller.js';
import { AuthController } from './controllers/auth.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { HostController } from './controllers/host.controller.js';
import { JoinTokenController } from './controllers/join-token.controller.js';
import { GrantController } from './controllers/grant.controller.js';
import { HostGroupController } from './controllers/host-group.controller.js';
import { MeController } from './controllers/me.controller.js';
import { PermissionController } from './controllers/permission.controller.js';
import { ProvisioningController, ProvisioningDownloadController } from './controllers/provisioning.controller.js';
import { RoleController } from './controllers/role.controller.js';
import { TeamController } from './controllers/team.controller.js';
import { UserController } from './controllers/user.controller.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { AllExceptionsFilter } from './errors/all-exceptions.filter.js';
import { DeniedRequestAudit } from './errors/denied-request-audit.js';
import { AgentGateway } from './gateways/agent.gateway.js';
import { ConsoleGateway } from './gateways/console.gateway.js';
import { EngineUpgradeGateway } from './gateways/engine-upgrade.gateway.js';
import { AgentLinkRepository } from './repositories/agent-link.repository.js';
import { ApiTokenRepository } from './repositories/api-token.repository.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { ConsoleFeedRepository } from './repositories/console-feed.repository.js';
import { HealthRepository } from './repositories/health.repository.js';
import { HostRepository } from './repositories/host.repository.js';
import { JoinTokenRepository } from './repositories/join-token.repository.js';
import { SessionRepository } from './repositories/session.repository.js';
import { UserRepository } from './repositories/user.repository.js';
import { GrantRepository } from './repositories/grant.repository.js';
import { HostGroupRepository } from './repositories/host-group.repository.js';
import { RoleRepository } from './repositories/role.repository.js';
import { ServerKeyRepository } from './repositories/server-key.repository.js';
import { AgentBundleRepository } from './repositories/agent-bundle.repository.js';
import { ProvisioningRepository } from './repositories/provisioning.repository.js';
import { SshRepository } from './repositories/ssh.repository.js';
import { TeamRepository } from './repositories/team.repository.js';
import { ApiTokenService } from './services/api-token.service.js';
import { AuditService } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { BootstrapService } from './services/bootstrap.service.js';
import { Clock } from './services/clock.js';
import { ConsoleEngineService } from './services/console-engine.service.js';
import { EngineProxyService } from './services/engine-proxy.service.js';
import { EngineSessionService } from './services/engine-session.service.js';
import { FleetService } from './services/fleet.service.js';
import { HostSweeperService } from './services/host-sweeper.service.js';
import { HostCacheService } from './services/host-cache.service.js';
import { HostService } from './services/host.service.js';
import { JoinTokenService } from './services/join-token.service.js';
import { LoginThrottleService } from './services/login-throttle.service.js';
import { AccessService } from './services/access.service.js';
import { AccountService } from './services/account.service.js';
import { GrantService } from './services/grant.service.js';
import { HostGroupService } from './services/host-group.service.js';
import { LastUserManagerService } from './services/last-user-manager.service.js';
import { ProvisioningService } from './services/provisioning.service.js';
import { RoleService } from './services/role.service.js';
import { SecretBoxService } from './services/secret-box.service.js';
import { TeamService } from './services/team.service.js';
import { TotpService } from './services/totp.service.js';
import { UserService } from './services/user.service.js';

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
  GrantRepository,
  HostGroupRepository,
  RoleRepository,
  ServerKeyRepository,
  TeamRepository,
  AgentBundleRepository,
  ProvisioningRepository,
  SshRepository,
];

const services = [
  ApiTokenService,
  AuditService,
  AuthService,
  BootstrapService,
  Clock,
  ConsoleEngineService,
  EngineProxyService,
  EngineSessionService,
  FleetService,
  HostService,
  HostCacheService,
  HostSweeperService,
  JoinTokenService,
  LoginThrottleService,
  AccessService,
  AccountService,
  GrantService,
  HostGroupService,
  LastUserManagerService,
  ProvisioningService,
  RoleService,
  SecretBoxService,
  TeamService,
  TotpService,
  UserService,
];

@Module({})
export class AppModule {
  static forRoot(config: ServerConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), TypeOrmModule.forRoot(dataSourceOptions(databaseUrl))],
      controllers: [
        AgentEnrolController,
        AuditController,
        EngineRouteController,
        FleetController,
        ApiTokenController,
        AuthController,
        HealthController,
        HostController,
        JoinTokenController,
        GrantController,
        HostGroupController,
        MeController,
        PermissionController,
        ProvisioningController,
        ProvisioningDownloadController,
        RoleController,
        TeamController,
        UserController,
        // Last: its wildcard path must not shadow a more specific route.
        EngineProxyController,
      ],
      providers: [
        ...repositories,
        ...services,
        AgentGateway,
        ConsoleGateway,
        EngineUpgradeGateway,
        { provide: APP_GUARD, useClass: AuthGuard },
        // After AuthGuard: global guards run in the order they are provided, and this one needs the caller.
        { provide: APP_GUARD, useClass: PermissionGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        DeniedRequestAudit,
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
        },
      ],
    };
  }
}
