import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Three tiers, each runnable alone with `npx vitest run --project <name>`:
//   unit         *.spec.ts next to the code, no root, no database (the console's framework-free
//                helpers too: web/src/**/*.spec.ts, which import nothing of Angular)
//   integration  *.int.spec.ts, real PostgreSQL (DATABASE_URL or an embedded one) and, for the agent, root
//   e2e          test/e2e/*.e2e.ts, the built server + agent + PostgreSQL + headless Chromium
const decorators = swc.vite({ module: { type: 'es6' } });

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // One file at a time across the tiers: the engine's tests make real containers, cgroups and
    // mounts, and npm start's test runs the whole product; side by side they starve each other.
    fileParallelism: false,
    projects: [
      {
        plugins: [decorators],
        test: {
          name: 'unit',
          include: ['{server,host-agent,migrations}/**/src/**/*.spec.ts', 'web/src/**/*.spec.ts'],
          exclude: ['**/*.int.spec.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        plugins: [decorators],
        test: {
          name: 'integration',
          include: ['{server,host-agent,migrations}/**/src/**/*.int.spec.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
