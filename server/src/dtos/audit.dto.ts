import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import type { AuditActorType, AuditOutcome } from '../entities/audit-event.entity.js';
import type { AuditVerification, BrokenLink } from '../services/audit-chain.js';
import { AUDIT_EXPORT_FORMATS, type AuditEventView, type AuditExportFormat } from '../services/audit-export.js';
import { DEFAULT_AUDIT_PAGE_SIZE, MAX_AUDIT_PAGE_SIZE } from '../services/audit.service.js';

const OUTCOMES: AuditOutcome[] = ['success', 'failure', 'denied'];
const ACTOR_TYPES: AuditActorType[] = ['user', 'token', 'agent', 'system', 'anonymous'];
const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

/** The filters of a search and of an export; each one given narrows the rows. */
export class AuditFilterDto {
  @ApiPropertyOptional({ description: 'A user, API token or host id, or an actor name (exact).' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  actor?: string;

  @ApiPropertyOptional({ description: 'An exact action, or a prefix ending in `*`.', example: 'container.*' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'action must not contain control characters' })
  action?: string;

  @ApiPropertyOptional({ enum: OUTCOMES })
  @IsOptional()
  @IsIn(OUTCOMES)
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  hostId?: string;

  @ApiPropertyOptional({ description: 'The object acted on (exact): a container, image, token or user id, a path.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  target?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Rows written at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Rows written before this time.' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date-time' })
  to?: string;

  @ApiPropertyOptional({ description: 'Text within the action, the target or the actor name (any case).' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'q must not contain control characters' })
  q?: string;
}

export class AuditSearchQueryDto extends AuditFilterDto {
  @ApiPropertyOptional({ description: 'The `nextCursor` of the page before.' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cursor?: string;

  @ApiPropertyOptional({ default: DEFAULT_AUDIT_PAGE_SIZE, minimum: 1, maximum: MAX_AUDIT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_AUDIT_PAGE_SIZE)
  limit?: number;
}

export class AuditExportQueryDto extends AuditFilterDto {
  @ApiPropertyOptional({ enum: AUDIT_EXPORT_FORMATS, default: 'ndjson' })
  @IsOptional()
  @IsIn(AUDIT_EXPORT_FORMATS)
  format?: AuditExportFormat;
}

export class AuditEventDto implements AuditEventView {
  @ApiProperty({ description: 'Increasing; a string, as it may pass 2^53.' }) id!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ enum: ACTOR_TYPES }) actorType!: AuditActorType;
  @ApiProperty({ nullable: true, type: String, description: 'The user, API token or host that acted.' })
  actorId!: string | null;
  @ApiProperty({ nullable: true, type: String }) actorName!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The user behind a session or token.' })
  userId!: string | null;
  @ApiProperty({ example: 'container.create' }) action!: string;
  @ApiProperty({ nullable: true, type: String }) target!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) hostId!: string | null;
  @ApiProperty({ enum: OUTCOMES }) outcome!: AuditOutcome;
  @ApiProperty({ nullable: true, type: Number, description: 'HTTP-like status.' }) status!: number | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMs!: number | null;
  @ApiProperty({ nullable: true, type: String }) address!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The User-Agent of the caller.' }) client!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Facts of the event; request bodies are summarised with secrets redacted.',
  })
  details!: Record<string, unknown>;
  @ApiProperty({ description: 'The hash of the row before (the chain).' }) prevHash!: string;
  @ApiProperty() hash!: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for older rows; null at the end.' })
  nextCursor!: string | null;
}

export class BrokenLinkDto implements BrokenLink {
  @ApiProperty({ description: 'The first row that breaks the chain.' }) id!: string;
  @ApiProperty() reason!: string;
}

export class AuditVerificationDto implements AuditVerification {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Rows checked.' }) checked!: number;
  @ApiProperty({ nullable: true, type: String }) firstRowId!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastRowId!: string | null;
  @ApiPropertyOptional({ type: BrokenLinkDto }) brokenAt?: BrokenLinkDto;
}

export class AuditRetentionDto {
  @ApiProperty({ minimum: 1, maximum: 36500, description: 'Remove the rows written more than this many days ago.' })
  @IsInt()
  @Min(1)
  @Max(36500)
  olderThanDays!: number;
}

export class AuditRetentionResultDto {
  @ApiProperty({ format: 'date-time', description: 'Rows written before this time were removed.' }) before!: string;
  @ApiProperty() removed!: number;
  @ApiProperty({ nullable: true, type: String }) firstRemovedId!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastRemovedId!: string | null;
  @ApiProperty({ description: 'The audit.retention row that records the removal.' }) eventId!: string;
}
