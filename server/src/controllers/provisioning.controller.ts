import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../auth/public.decorator.js';
import { invalidArgument } from '../errors/domain-error.js';
import { BUNDLE_ARCHES, type BundleArch } from '../repositories/agent-bundle.repository.js';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { RequirePermission } from '../auth/require-permission.decorator.js';
import {
  AgentBundleDto,
  InstallDto,
  JobQueryDto,
  ManualInstallCommandDto,
  ManualInstallDto,
  ProbeDto,
  ProbeResultDto,
  ProvisioningJobDto,
  ProvisioningTargetDto,
  UninstallDto,
  UpgradeDto,
} from '../dtos/provisioning.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import {
  type BundleView,
  DEFAULT_SSH_PORT,
  type ProbeResult,
  ProvisioningService,
  type ProvisioningJobView,
  type ProvisioningTargetView,
} from '../services/provisioning.service.js';

const uuid = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

/** The server's origin as the caller reached it: what hosts are told to connect to, unless the request says otherwise. */
export function serverOrigin(request: Request): string {
  return `${request.protocol}://${request.get('host') ?? 'localhost'}`;
}

@ApiTags('provisioning')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('provisioning')
@RequirePermission('host.manage')
export class ProvisioningController {
  constructor(private readonly provisioning: ProvisioningService) {}

  @Get('bundle')
  @ApiOperation({
    summary:
      'The agent bundle this server installs (built from its checkout when missing or stale): version, sha256, size. ' +
      'Needs host.manage on every host.',
  })
  @ApiOkResponse({ type: AgentBundleDto })
  bundle(): Promise<BundleView> {
    return this.provisioning.bundle();
  }

  @Post('probe')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Connect to a host's SSH server just far enough to see its host key (no login): the fingerprint to confirm " +
      'before the first install, and whether it matches the pinned one.',
  })
  @ApiOkResponse({ type: ProbeResultDto })
  probe(@CurrentActor() actor: Actor, @Origin() origin: RequestOrigin, @Body() body: ProbeDto): Promise<ProbeResult> {
    return this.provisioning.probe(actor, origin, body.address, body.port ?? DEFAULT_SSH_PORT);
  }

  @Post('jobs')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Install the agent on one or more hosts over SSH, in parallel: preflight, upload, checksum, unpack to ' +
      '/opt/skiff, service, enrolment with a fresh join token, and wait until online. Answers at once with one job ' +
      'per host; follow them with GET /api/provisioning/jobs/:id or the console feed (provisioning.job). A host ' +
      'seen for the first time needs its confirmed hostKeyFingerprint (from probe); a changed key is refused.',
  })
  @ApiAcceptedResponse({ type: [ProvisioningJobDto] })
  install(
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Body() body: InstallDto,
    @Req() request: Request,
  ): Promise<ProvisioningJobView[]> {
    return this.provisioning.install(actor, origin, body, body.serverUrl ?? serverOrigin(request));
  }

  @Get('jobs')
  @ApiOperation({ summary: 'The newest provisioning jobs (100), or those of one request (batchId).' })
  @ApiOkResponse({ type: [ProvisioningJobDto] })
  jobs(@Query() query: JobQueryDto): Promise<ProvisioningJobView[]> {
    return this.provisioning.listJobs(query.batchId);
  }

  @Get('jobs/:id')
  @ApiOperation({ summary: 'One provisioning job with its steps, progress and output.' })
  @ApiOkResponse({ type: ProvisioningJobDto })
  job(@Param('id', uuid()) id: string): Promise<ProvisioningJobView> {
    return this.provisioning.getJob(id);
  }

  @Get('targets')
  @ApiOperation({ summary: 'The hosts reached over SSH: pinned host keys, logins, enrolled host and agent version.' })
  @ApiOkResponse({ type: [ProvisioningTargetDto] })
  targets(): Promise<ProvisioningTargetView[]> {
    return this.provisioning.listTargets();
  }

  @Delete('targets/:id')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Forget a target: its pinned host key and kept credentials (the next contact needs a confirmed key again).',
  })
  @ApiNoContentResponse()
  async forget(
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Param('id', uuid()) id: string,
  ): Promise<void> {
    await this.provisioning.forgetTarget(actor, origin, id);
  }

  @Post('targets/:id/upgrade')
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Upgrade the target's agent to this server's bundle: the agent restarts, its containers keep running. Uses the " +
      'kept credentials unless credentials are given.',
  })
  @ApiAcceptedResponse({ type: ProvisioningJobDto })
  upgrade(
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Param('id', uuid()) id: string,
    @Body() body: UpgradeDto,
  ): Promise<ProvisioningJobView> {
    return this.provisioning.upgrade(actor, origin, id, body.credentials);
  }

  @Post('targets/:id/uninstall')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Remove Skiff from the target: its containers, the agent, /opt/skiff and /etc/skiff (and /var/lib/skiff unless ' +
      'keepData), then revoke the host.',
  })
  @ApiAcceptedResponse({ type: ProvisioningJobDto })
  uninstall(
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Param('id', uuid()) id: string,
    @Body() body: UninstallDto,
  ): Promise<ProvisioningJobView> {
    return this.provisioning.uninstall(actor, origin, id, body.keepData ?? false, body.credentials);
  }

  @Post('manual-install')
  @ApiOperation({
    summary:
      'A fresh one-time join token and the one-line command that installs and enrols the agent on a host the ' +
      'server cannot reach over SSH.',
  })
  @ApiCreatedResponse({ type: ManualInstallCommandDto })
  async manualInstall(
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Body() body: ManualInstallDto,
    @Req() request: Request,
  ): Promise<ManualInstallCommandDto> {
    const made = await this.provisioning.manualInstall(actor, origin, serverOrigin(request), body.ttlSeconds);
    return { ...made, expiresAt: made.expiresAt.toISOString() };
  }
}

/** What a host downloads for the manual install: no secrets in any of it, so no login. */
@ApiTags('provisioning')
@Controller('provisioning')
export class ProvisioningDownloadController {
  constructor(private readonly provisioning: ProvisioningService) {}

  @Get('install.sh')
  @Public()
  @ApiOperation({
    summary:
      'The manual install script: `curl -fsSL <server>/api/provisioning/install.sh | sudo sh -s -- --join-token TOKEN`. ' +
      'It downloads the bundle, verifies its sha256, installs and enrols the agent.',
  })
  @ApiProduces('text/x-shellscript')
  @ApiOkResponse({ description: 'A POSIX shell script.' })
  async installScript(@Req() request: Request, @Res() response: Response): Promise<void> {
    const script = await this.provisioning.installScript(serverOrigin(request));
    response.setHeader('Content-Type', 'text/x-shellscript; charset=utf-8');
    response.setHeader('Cache-Control', 'no-store');
    response.send(script);
  }

  @Get('skiff-host.sh')
  @Public()
  @ApiOperation({ summary: 'The host-side script of every install, upgrade and uninstall (see deploy/skiff-host.sh).' })
  @ApiProduces('text/x-shellscript')
  @ApiOkResponse({ description: 'A POSIX shell script.' })
  async hostScript(@Res() response: Response): Promise<void> {
    response.setHeader('Content-Type', 'text/x-shellscript; charset=utf-8');
    response.send(await this.provisioning.hostScript());
  }

  @Get('bundle.tar.gz')
  @Public()
  @ApiOperation({
    summary: 'The agent bundle for linux-x64, or linux-arm64 with ?arch=arm64 (check it against bundle.tar.gz.sha256).',
  })
  @ApiQuery({ name: 'arch', required: false, enum: BUNDLE_ARCHES })
  @ApiProduces('application/gzip')
  @ApiOkResponse({ description: 'A gzipped tar.' })
  async bundleFile(@Query('arch') arch: string | undefined, @Res() response: Response): Promise<void> {
    const bundle = await this.provisioning.currentBundle(bundleArchParameter(arch));
    response.setHeader('Content-Type', 'application/gzip');
    response.setHeader('Content-Length', String(bundle.size));
    response.setHeader('Content-Disposition', `attachment; filename="skiff-agent-linux-${bundle.arch}.tar.gz"`);
    response.setHeader('X-Checksum-Sha256', bundle.sha256);
    response.sendFile(bundle.path);
  }

  @Get('bundle.tar.gz.sha256')
  @Public()
  @ApiOperation({ summary: "The bundle's sha256, as sha256sum prints it (?arch=arm64 for linux-arm64's)." })
  @ApiQuery({ name: 'arch', required: false, enum: BUNDLE_ARCHES })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: '`<sha256>  skiff-agent-linux-x64.tar.gz`' })
  async bundleChecksum(@Query('arch') arch: string | undefined, @Res() response: Response): Promise<void> {
    const bundle = await this.provisioning.currentBundle(bundleArchParameter(arch));
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    response.send(`${bundle.sha256}  skiff-agent-linux-${bundle.arch}.tar.gz\n`);
  }
}

/** `?arch=`: x64 when absent; anything but the bundle architectures is a 400. */
function bundleArchParameter(arch: string | undefined): BundleArch {
  if (arch === undefined || arch === '') return 'x64';
  if ((BUNDLE_ARCHES as readonly string[]).includes(arch)) return arch as BundleArch;
  throw invalidArgument(`no agent bundle for architecture '${arch}': ask for ${BUNDLE_ARCHES.join(' or ')}`);
}
