// npm run build [-- --force]: compiles every package that is out of date.
import { build, ensureDependencies } from './lib/workspace.mjs';

if (process.argv.includes('--help')) {
  process.stdout.write(
    'Usage: npm run build [-- --force]\nCompiles the TypeScript packages, the console and the agent helper when out of date.\n',
  );
  process.exit(0);
}
try {
  ensureDependencies();
  build({ force: process.argv.includes('--force') });
} catch (error) {
  process.stderr.write(`build failed: ${error.message}\n`);
  process.exit(1);
}
