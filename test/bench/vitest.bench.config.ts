import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// `npm run bench` only: never part of `npm test` (the root config includes no test/bench files).
// The test support modules import the server's sources, whose decorators need swc.
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    name: 'bench',
    include: ['test/bench/**/*.bench.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // One benchmark at a time: side by side they would measure each other.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
