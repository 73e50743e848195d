import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PermissionDto } from '../dtos/permission.dto.js';
import { permissionCatalogue } from '../services/permission-catalogue.js';

@ApiTags('access')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('permissions')
export class PermissionController {
  @Get()
  @ApiOperation({
    summary: 'Every permission roles are made of, with what it allows; the same for every caller.',
  })
  @ApiOkResponse({ type: [PermissionDto] })
  list(): PermissionDto[] {
    return permissionCatalogue();
  }
}
