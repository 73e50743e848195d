import { MIGRATIONS_GLOB } from '@skiff/migrations';
import type { DataSourceOptions } from 'typeorm';
import { entities } from '../entities/index.js';

export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: [MIGRATIONS_GLOB],
    migrationsRun: false,
    synchronize: false,
    logging: ['error'],
  };
}
