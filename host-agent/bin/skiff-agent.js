#!/usr/bin/env node
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('skiff-agent is not built yet: run `npm run build` in the repository\n');
  process.exit(1);
}
const { runCli } = await import(entry.href);
process.exit(await runCli(process.argv.slice(2)));
