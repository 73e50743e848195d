import { DataSource } from 'typeorm';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS_GLOB } from './index.js';

/*
 * The data source the TypeORM CLI uses (`npm run migration:generate -- Name`, `npm run migration:run`,
 * see scripts/migration.mjs, which provides DATABASE_URL). The entities are the server's compiled ones,
 * so `generate` compares the database with what the server's code declares.
 */
const serverDist = fileURLToPath(new URL('../../server/dist/', import.meta.url));

export default new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  entities: [`${serverDist}entities/*.entity.js`],
  migrations: [MIGRATIONS_GLOB],
  synchronize: false,
});
