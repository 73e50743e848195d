#!/usr/bin/env node
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('skiff-server is not built yet: run `npm run build` in the repository\n');
  process.exit(1);
}
await import(entry.href);
