import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { ChangePasswordDto, MyPermissionsDto, TotpCodeDto, TotpEnrolmentDto } from '../dtos/me.dto.js';
import { AccountService } from '../services/account.service.js';
import type { Actor, RequestOrigin } from '../services/actor.js';

@ApiTags('me')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('me')
export class MeController {
  constructor(private readonly account: AccountService) {}

  @Get('permissions')
  @ApiOperation({
    summary:
      'What the caller may do: on every host, per host group, and on each host they may see (for an API token, ' +
      'within its limit). The console hides what is not there.',
  })
  @ApiOkResponse({ type: MyPermissionsDto })
  permissions(@CurrentActor() actor: Actor): Promise<MyPermissionsDto> {
    return this.account.permissions(actor);
  }

  @Post('password')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Change your password with the current one; your other sessions end. Signed-in sessions only; wrong ' +
      'current passwords count as failed sign-ins.',
  })
  @ApiNoContentResponse()
  async changePassword(
    @CurrentActor() actor: Actor,
    @Body() body: ChangePasswordDto,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.account.changePassword(actor, body.currentPassword, body.newPassword, origin);
  }

  @Post('totp')
  @ApiOperation({
    summary:
      'Start setting up two-factor sign-in: a new TOTP secret (base32 and otpauth:// URI), shown once. It is in ' +
      'force once a code from it is confirmed at POST /api/me/totp/confirm.',
  })
  @ApiCreatedResponse({ type: TotpEnrolmentDto })
  startTotp(@CurrentActor() actor: Actor, @Origin() origin: RequestOrigin): Promise<TotpEnrolmentDto> {
    return this.account.startTotp(actor, origin);
  }

  @Post('totp/confirm')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn two-factor sign-in on with a code from the new secret.' })
  @ApiNoContentResponse()
  async confirmTotp(
    @CurrentActor() actor: Actor,
    @Body() body: TotpCodeDto,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.account.confirmTotp(actor, body.code, origin);
  }

  @Delete('totp')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn two-factor sign-in off, with a current code.' })
  @ApiNoContentResponse()
  async disableTotp(
    @CurrentActor() actor: Actor,
    @Body() body: TotpCodeDto,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.account.disableTotp(actor, body.code, origin);
  }
}
