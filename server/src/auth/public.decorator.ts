import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'skiff:public';

/** The route answers without a session or token. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
