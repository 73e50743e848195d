// npm run migration:generate -- Name | npm run migration:run | npm run migration:revert
// Works on DATABASE_URL, or on the embedded PostgreSQL in SKIFF_DATA (default .skiff/) when it is unset.
import { join, resolve } from 'node:path';
import { build, ensureDependencies, root, run, say } from './lib/workspace.mjs';

const HELP = `Usage:
  npm run migration:generate -- <PascalCaseName>   write migrations/src/<epoch-ms>-<Name>.ts from the entity changes
  npm run migration:run                            run pending migrations
  npm run migration:revert                         undo the newest migration

Uses DATABASE_URL, else the embedded PostgreSQL under SKIFF_DATA (default .skiff in the checkout).
The server also runs pending migrations itself when it starts.
`;

const [command, name] = process.argv.slice(2);
if (!command || process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(command ? 0 : 2);
}
if (command === 'generate' && !/^[A-Z][A-Za-z0-9]*$/.test(name ?? '')) {
  process.stderr.write(
    'migration:generate needs a PascalCase name, e.g. npm run migration:generate -- AddHostLabels\n',
  );
  process.exit(2);
}
if (!['generate', 'run', 'revert'].includes(command)) {
  process.stderr.write(`unknown migration command "${command}"; see npm run migration:run -- --help\n`);
  process.exit(2);
}

let database;
let status = 0;
try {
  ensureDependencies();
  build();
  let url = process.env.DATABASE_URL;
  if (!url) {
    const { startEmbeddedPostgres } = await import(join(root, 'server/dist/database/embedded-postgres.js'));
    database = await startEmbeddedPostgres({
      dataDir: resolve(process.env.SKIFF_DATA ?? join(root, '.skiff')),
      log: say,
    });
    url = database.url;
  }
  const env = { ...process.env, DATABASE_URL: url };
  const typeorm = [join(root, 'node_modules/typeorm/cli.js')];
  const dataSource = ['-d', join(root, 'migrations/dist/data-source.js')];
  if (command === 'run') {
    run(process.execPath, [...typeorm, 'migration:run', ...dataSource], { env });
  } else if (command === 'revert') {
    run(process.execPath, [...typeorm, 'migration:revert', ...dataSource], { env });
  } else {
    // Compare against an up-to-date schema, or the new migration would repeat the pending ones.
    run(process.execPath, [...typeorm, 'migration:run', ...dataSource], { env });
    run(
      process.execPath,
      [...typeorm, 'migration:generate', ...dataSource, '--pretty', join(root, 'migrations/src', name)],
      { env },
    );
    say('review the new file in migrations/src/, then npm run build');
  }
} catch (error) {
  process.stderr.write(`migration ${command} failed: ${error.message}\n`);
  status = 1;
}
await database?.stop();
process.exit(status);
