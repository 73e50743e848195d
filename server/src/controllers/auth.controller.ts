import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/public.decorator.js';
import { type AuthenticatedRequest, CurrentActor, Origin, SESSION_COOKIE } from '../auth/request-context.js';
import { SERVER_CONFIG } from '../config/config.module.js';
import type { ServerConfig } from '../config/server-config.js';
import { LoginDto, MeDto, SessionDto } from '../dtos/auth.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { AuthService } from '../services/auth.service.js';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Sign in; sets an HTTP-only session cookie. An account with two-factor sign-in needs `totp` too (401 with ' +
      '`totpRequired: true` without it). Failed attempts are rate-limited per account and address.',
  })
  @ApiOkResponse({ type: SessionDto })
  async login(
    @Body() body: LoginDto,
    @Origin() origin: RequestOrigin,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SessionDto> {
    const signedIn = await this.auth.login(body.username, body.password, body.totp, origin);
    response.cookie(SESSION_COOKIE, signedIn.sessionToken, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.config.secureCookies,
      path: '/',
      expires: signedIn.expiresAt,
    });
    return { user: signedIn.user, csrfToken: signedIn.csrfToken };
  }

  @Post('logout')
  @HttpCode(204)
  @ApiCookieAuth()
  @ApiOperation({ summary: 'Sign out: ends this browser session.' })
  async logout(
    @CurrentActor() actor: Actor,
    @Req() request: AuthenticatedRequest,
    @Origin() origin: RequestOrigin,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    if (request.sessionToken) await this.auth.logout(request.sessionToken, actor, origin);
    response.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Get('me')
  @ApiOperation({ summary: 'Who the caller is; for a browser session, also its CSRF token.' })
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentActor() actor: Actor, @Req() request: AuthenticatedRequest): Promise<MeDto> {
    const me: MeDto = {
      user: { id: actor.userId, username: actor.username },
      via: actor.kind,
      totpEnabled: await this.auth.totpEnabled(actor.userId),
    };
    if (request.sessionToken) {
      const session = await this.auth.resolveSession(request.sessionToken);
      if (session) me.csrfToken = session.csrfToken;
    }
    return me;
  }
}
