import { ApiProperty } from '@nestjs/swagger';
import { ENGINE_PERMISSIONS, ENGINE_STREAM_KINDS } from '@skiff/protocol';

export class EngineRouteDto {
  @ApiProperty({ example: 'POST /containers/{id}/start' }) key!: string;
  @ApiProperty({ enum: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] }) method!: string;
  @ApiProperty({ example: '/containers/{id}/start' }) path!: string;
  @ApiProperty({ enum: ENGINE_PERMISSIONS }) permission!: string;
  @ApiProperty({ nullable: true, type: String, example: 'container.start' }) audit!: string | null;
  @ApiProperty({ enum: ENGINE_STREAM_KINDS }) stream!: string;
}
