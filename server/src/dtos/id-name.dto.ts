import { ApiProperty } from '@nestjs/swagger';

/** A reference to a team, role, host group or host: enough to show and link it. */
export class IdNameDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
}
