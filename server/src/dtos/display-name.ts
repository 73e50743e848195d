import { applyDecorators } from '@nestjs/common';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** The name of a team, role or host group: 1-64 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit. */
export const IsDisplayName = (property = 'name') =>
  applyDecorators(
    IsString(),
    Matches(NAME, {
      message: `${property} must be 1-64 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit`,
    }),
  );

/** Free text of up to 512 characters, without control characters; may be left out. */
export const IsDescription = () =>
  applyDecorators(
    IsOptional(),
    IsString(),
    MaxLength(512),
    Matches(/^[^\p{Cc}]*$/u, { message: 'description must not contain control characters' }),
  );

/** A username: 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit. */
export const IsUsername = () =>
  applyDecorators(
    IsString(),
    Matches(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, {
      message: 'username must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
    }),
  );

export const MIN_PASSWORD_LENGTH = 12;

/** 12 to 1024 characters: long passphrases are welcome, nothing else is imposed. */
export const IsNewPassword = (property = 'password') =>
  applyDecorators(
    IsString(),
    MaxLength(1024),
    Matches(new RegExp(`^[\\s\\S]{${MIN_PASSWORD_LENGTH},}$`), {
      message: `${property} must be at least ${MIN_PASSWORD_LENGTH} characters long`,
    }),
  );
