import { fileURLToPath } from 'node:url';

/**
 * Where the compiled migrations are, as a glob TypeORM loads. Files are `<epoch-ms>-<PascalCaseName>.js`,
 * so a migration made by `npm run migration:generate -- Name` is picked up without being listed anywhere.
 */
export const MIGRATIONS_GLOB = fileURLToPath(new URL('./[0-9]*-*.js', import.meta.url));
