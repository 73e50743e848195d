import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ENGINE_ROUTES, type EngineRoute } from '@skiff/protocol';
import { EngineRouteDto } from '../dtos/engine-route.dto.js';

@ApiTags('engine')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('engine')
export class EngineRouteController {
  @Get('routes')
  @ApiOperation({
    summary: 'The Engine API routes the proxy forwards, with the permission each needs and its audit action',
  })
  @ApiOkResponse({ type: [EngineRouteDto] })
  routes(): EngineRoute[] {
    return ENGINE_ROUTES.map(({ key, method, path, permission, audit, stream }) => ({
      key,
      method,
      path,
      permission,
      audit,
      stream,
    }));
  }
}
