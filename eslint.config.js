import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Imports that only one layer may make (STYLE.md: the shape of the code is held by lint). */
const restrictedImports = (allowed) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...(allowed.includes('koffi')
          ? []
          : [{ name: 'koffi', message: 'only host-agent/src/sys/ talks to libc through koffi' }]),
        ...(allowed.includes('typeorm')
          ? []
          : [
              {
                name: 'typeorm',
                message: 'only repositories, entities, the database module and migrations use TypeORM',
              },
            ]),
      ],
    },
  ],
});

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/.angular/**',
      'web/**',
      'test/.results/**',
      '.skiff/**',
      'host-agent/shim/build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: [
          'host-agent/protocol/tsconfig.json',
          'host-agent/tsconfig.json',
          'migrations/tsconfig.json',
          'server/tsconfig.json',
          'tsconfig.tests.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      ...restrictedImports([]),
    },
  },
  {
    files: ['server/src/repositories/**', 'server/src/entities/**', 'server/src/database/**', 'migrations/src/**'],
    rules: restrictedImports(['typeorm']),
  },
  {
    files: ['host-agent/src/sys/**'],
    rules: restrictedImports(['koffi']),
  },
  {
    // Plain Node scripts and test code: checked for mistakes, not held to the layer rules.
    files: [
      'scripts/**/*.mjs',
      'eslint.config.js',
      'host-agent/bin/**',
      'server/bin/**',
      'host-agent/scripts/**',
      'deploy/**/*.mjs',
    ],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
      },
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
