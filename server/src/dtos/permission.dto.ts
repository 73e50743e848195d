import { ApiProperty } from '@nestjs/swagger';
import { PERMISSIONS, type Permission } from '@skiff/protocol';

export class PermissionDto {
  @ApiProperty({ enum: PERMISSIONS }) name!: Permission;
  @ApiProperty() description!: string;
  @ApiProperty({ description: 'Whether a grant on a host group gives it; the others count only on every host.' })
  hostScoped!: boolean;
}
